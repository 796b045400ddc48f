package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

// phase is where a deployment run stands. A run goes through the phases in
// the order of CONTRACT §4, and only advance moves it from one to the next.
type phase int

const (
	phaseNone           phase = iota // not begun
	phasePulling                     // §4.2: the image is made present
	phaseStarting                    // §4.3: the color's old container is replaced by a new one, started
	phaseHealthChecking              // §4.4: the gate, health checks until healthy_threshold passes
	phaseSwitching                   // §4.5: the proxy moves to the new container
	phaseDraining                    // §4.6: the old color's requests and WebSockets finish
	phaseStopping                    // §4.7: the old container is stopped, kept for a switch back
	phaseRollingBack                 // §4.4: the new container, not healthy, is stopped and removed
)

var phaseNames = [...]string{"none", "pulling", "starting", "health_checking", "switching", "draining", "stopping", "rollback"}

// String is the phase's name in Deployment.Phases.
func (p phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// status is the deployment status a run shows in phase p; false for the
// phases that keep the status of the one before (stopping, rollback).
func (p phase) status() (deploy.Status, bool) {
	switch p {
	case phasePulling:
		return deploy.StatusPulling, true
	case phaseStarting:
		return deploy.StatusStarting, true
	case phaseHealthChecking:
		return deploy.StatusHealthChecking, true
	case phaseSwitching:
		return deploy.StatusSwitching, true
	case phaseDraining:
		return deploy.StatusDraining, true
	}
	return "", false
}

// errGateTimeout ends a gate that health_check_timeout cut short.
var errGateTimeout = errors.New("health_check_timeout")

// run is the deployment an app actor is running.
type run struct {
	dep      deploy.Deployment // as recorded: status and phases
	gen      uint64            // tags the run's messages; a message of another run is stale
	phase    phase
	color    deploy.Color // the color deployed into
	from     deploy.Color // the active color when the run began
	existing bool         // a manual switch: the candidate is the color's existing container

	candidate    string // the new (or switched-to) container's ID once it was created
	lastCheckErr string // the gate's last failed check
	why          string // why the candidate is rolled back

	ctx      context.Context // ends with the run: cancels its steps and the crash watch
	cancel   context.CancelFunc
	stopGate func() bool // stops the health_check_timeout timer
}

// gating reports whether r runs and is in the health gate of color.
func (r *run) gating(color deploy.Color) bool {
	return r != nil && r.color == color && r.phase == phaseHealthChecking
}

// closeGate stops the health_check_timeout timer.
func (r *run) closeGate() {
	if r.stopGate != nil {
		r.stopGate()
		r.stopGate = nil
	}
}

// halt cancels the run's steps and its timer.
func (r *run) halt() {
	r.cancel()
	r.closeGate()
}

// stepDone ends the phase a run was in when the step began. The step's
// goroutine sends it, or its timer, or the gate.
type stepDone struct {
	gen   uint64
	phase phase // the phase it ends; a result for another phase is stale
	err   error // why the phase failed; nil: it succeeded

	pulled    bool              // pulling: the image was pulled (not found locally)
	container string            // starting: the new container's ID ("" when none was created)
	port      int               // starting: its published port
	drained   proxy.DrainResult // draining
	logs      []string          // rolling back: the failed container's last log lines
}

// begin runs a recorded deployment: existing names a manual switch to the
// color's existing container.
func (a *appActor) begin(c *actor.Context, d deploy.Deployment, existing bool) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{dep: d, gen: a.nextGen(), color: d.Color, from: a.state.ActiveColor, existing: existing, ctx: ctx, cancel: cancel}
	a.run = r
	a.state.DesiredImage = d.ToImage
	a.refreshStatus()
	a.saveState()
	what := "deploying " + d.ToImage + " into " + string(d.Color)
	if existing {
		what = "switching to " + string(d.Color) + " (" + d.ToImage + ")"
	}
	a.log.Info("deployment started", keyDeploymentID, d.DeploymentID, keyImage, d.ToImage, keyColor, d.Color, keyTrigger, d.TriggerSource)
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentStarted,
		fmt.Sprintf("deployment %d: %s (trigger %s)", d.DeploymentID, what, d.TriggerSource),
		map[string]any{"status": d.Status, "image": d.ToImage, "color": d.Color, "from_image": d.FromImage, "trigger_source": d.TriggerSource})
	if existing {
		a.enter(c, r, phaseStarting, "")
		return
	}
	a.enter(c, r, phasePulling, "")
}

// onStep takes the result of the running deployment's current step.
func (a *appActor) onStep(c *actor.Context, msg stepDone) {
	if r := a.run; r != nil && r.gen == msg.gen && r.phase == msg.phase {
		a.advance(c, r, msg)
		return
	}
	if msg.phase == phaseStopping && msg.err != nil {
		// The stop of an old container that ended the deployment by its
		// exit (onDie) failed afterwards.
		a.log.Warn("stop old container", keyErr, msg.err)
	}
}

// advance moves r on from the phase that res ends. Its switch is CONTRACT §4
// step by step; it is the one place where a deployment changes phase.
func (a *appActor) advance(c *actor.Context, r *run, res stepDone) {
	switch r.phase {
	case phasePulling: // 2. the image is present, or nothing was started
		if res.err != nil {
			a.end(c, r, deploy.StatusFailed, dockerMessage(res.err), nil)
			return
		}
		if res.pulled {
			a.log.Info("image pulled", keyImage, r.dep.ToImage)
		}
		a.enter(c, r, phaseStarting, "")
	case phaseStarting: // 3. the new container runs, or it never did
		if res.container == "" {
			a.end(c, r, deploy.StatusFailed, dockerMessage(res.err), nil)
			return
		}
		a.candidateCreated(r, res)
		if res.err != nil {
			a.enter(c, r, phaseRollingBack, res.err.Error())
			return
		}
		a.enter(c, r, phaseHealthChecking, "")
	case phaseHealthChecking: // 4. healthy_threshold passes, or a timeout or crash: roll back
		if res.err != nil {
			a.enter(c, r, phaseRollingBack, a.gateFailure(r, res.err))
			return
		}
		a.enter(c, r, phaseSwitching, "")
	case phaseSwitching: // 5. traffic moved; 6. the old color drains, if there is one
		if _, old := a.containers.get(r.from); r.from == "" || r.from == r.color || !old {
			a.end(c, r, deploy.StatusCompleted, "", nil)
			return
		}
		a.enter(c, r, phaseDraining, "")
	case phaseDraining: // 7. the old container is stopped
		a.drained(r, res.drained)
		a.enter(c, r, phaseStopping, "")
	case phaseStopping:
		a.oldStopped(r, res.err)
		a.end(c, r, deploy.StatusCompleted, "", nil)
	case phaseRollingBack: // 4. the candidate is gone; the old container kept serving
		a.candidateRemoved(r, res.err)
		a.end(c, r, deploy.StatusRolledBack, r.why, res.logs)
	}
}

// enter closes r's current phase (with why, when it failed) and begins next.
func (a *appActor) enter(c *actor.Context, r *run, next phase, why string) {
	a.record(r, next, why)
	switch next {
	case phasePulling:
		a.pull(r)
	case phaseStarting:
		a.startCandidate(c, r)
	case phaseHealthChecking:
		a.openGate(c, r)
	case phaseSwitching:
		a.switchTraffic(c, r)
	case phaseDraining:
		a.drain(r)
	case phaseStopping:
		a.stopOld(c, r)
	case phaseRollingBack:
		a.rollBack(c, r, why)
	}
}

// record closes r's current phase with why and opens next, persisting the
// deployment and recording the event.
func (a *appActor) record(r *run, next phase, why string) {
	a.closePhase(r, why)
	r.phase = next
	r.dep.Phases = append(r.dep.Phases, deploy.Phase{Name: next.String(), StartedAt: time.Now().UTC()})
	if st, ok := next.status(); ok {
		r.dep.Status = st
	}
	a.saveDeployment(r)
	a.log.Info("deployment phase", keyDeploymentID, r.dep.DeploymentID, keyPhase, next)
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventDeploymentPhase,
		fmt.Sprintf("deployment %d: %s", r.dep.DeploymentID, next),
		map[string]any{"phase": next.String(), "status": r.dep.Status})
}

// closePhase ends the phase record r is in, with why when it failed. Each
// phase is closed once: by the next one (record) or by the end.
func (a *appActor) closePhase(r *run, why string) {
	if r.phase == phaseNone || len(r.dep.Phases) == 0 {
		return
	}
	p := &r.dep.Phases[len(r.dep.Phases)-1]
	p.DurationMS = time.Since(p.StartedAt).Milliseconds()
	p.Error = why
}

func (a *appActor) saveDeployment(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := a.deps.store.UpdateDeployment(ctx, &r.dep); err != nil {
		a.log.Error("save deployment", keyDeploymentID, r.dep.DeploymentID, keyErr, err)
	}
}

// end finishes the running deployment with a final status, records it, and
// begins the queued one. It is the one place where a deployment ends.
func (a *appActor) end(c *actor.Context, r *run, status deploy.Status, why string, logs []string) {
	r.halt()
	a.closePhase(r, why)
	r.dep.Logs = logs
	r.dep.End(status, why, time.Now().UTC())
	a.saveDeployment(r)
	a.run = nil
	d := r.dep
	if status == deploy.StatusCompleted {
		a.lastCompleted = d.DeploymentID
	}

	msg := fmt.Sprintf("deployment %d of %s %s in %s", d.DeploymentID, d.ToImage, status, time.Duration(d.DurationMS)*time.Millisecond)
	if why != "" {
		msg += ": " + why
		a.log.Warn("deployment ended", keyDeploymentID, d.DeploymentID, keyStatus, status, keyDuration, d.DurationMS, keyErr, why)
	} else {
		a.log.Info("deployment ended", keyDeploymentID, d.DeploymentID, keyStatus, status, keyDuration, d.DurationMS)
	}
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, status.Event(), msg,
		map[string]any{"status": status, "error": why, "duration_ms": d.DurationMS, "image": d.ToImage})
	if status != deploy.StatusCompleted && a.queued == nil {
		// What was asked for did not happen: the desired image is what serves,
		// so a restart does not try the failed image again.
		a.state.DesiredImage = a.state.CurrentImage
		a.saveState()
	}
	a.ensureMonitors(c)
	a.refreshStatus()
	a.beginQueued(c)
	if status == deploy.StatusCompleted {
		a.pruneImages(d.DeploymentID) // after the queued deployment began, so that its image is protected too
	}
	a.quietIfIdle(c) // a pause waited for this deployment (pause.go)
}

// dockerMessage makes a Docker error read as what to do.
func dockerMessage(err error) string {
	if errors.Is(err, docker.ErrUnavailable) {
		return "Docker unreachable: " + err.Error()
	}
	return err.Error()
}
