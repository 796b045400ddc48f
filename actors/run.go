package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

// A deployment run is a state machine: its phase changes in one method
// (advance), whose switch reads as CONTRACT §4 step by step; enter begins
// the work of the next phase (phases.go), whose end comes back as a
// stepDone, and end is the one place where a run ends. The run alone holds
// and changes its state. What it needs of the app's other parts (the
// containers, the health checks, the proxy, the app's record) it asks the
// app actor through runHost.
//
// A new phase is a constant in phase.go, a case in advance (what ends it,
// and what comes next), a case in enter and its work in phases.go; what it
// needs of the other parts becomes a method of runHost.

// errGateTimeout ends a gate that health_check_timeout cut short.
var errGateTimeout = errors.New("health_check_timeout")

// run is the deployment an app actor is running.
type run struct {
	env  *env
	host runHost

	dep      deploy.Deployment // as recorded: status and phases
	gen      uint64            // tags the run's messages; a message of another run is stale
	phase    phase
	color    deploy.Color // the color deployed into
	from     deploy.Color // the active color when the run began
	existing bool         // a manual switch: the candidate is the color's existing container

	candidate    string // the new (or switched-to) container's ID once it was created
	old          string // the old color's container, once it is being stopped
	lastCheckErr string // the gate's last failed check
	why          string // why the candidate is rolled back

	ctx      context.Context // ends with the run: cancels its steps and the crash watch
	cancel   context.CancelFunc
	stopGate func() bool // stops the health_check_timeout timer
}

// runHost is what a run asks of its app actor: the containers, the health
// actors, the proxy and the app's record belong to the actor's other
// parts, and the actor carries each request to its owner.
type runHost interface {
	// retentionPass is closed when the running image retention pass ends;
	// nil when none runs (images.go).
	retentionPass() <-chan struct{}
	// newContainer makes room in d's color for d's new container: the old
	// one is forgotten (the run removes it by name). It returns the spec.
	newContainer(d deploy.Deployment) docker.Spec
	// startExisting marks color's existing container as started by the
	// actor (a manual switch) and returns it.
	startExisting(color deploy.Color) (id string, port int)
	// candidateStarted takes the started candidate (failed: it did not stay
	// up) into its color.
	candidateStarted(color deploy.Color, id, image string, port int, deploymentID int64, failed bool)
	// watchHealth runs the health actors the app needs now: the candidate's
	// during its gate.
	watchHealth()
	// passedGate marks color's candidate healthy once its checks in a row
	// reached healthy_threshold, and returns them; false before.
	passedGate(color deploy.Color) (passes int, ok bool)
	// checked reports whether a check of color's container answered.
	checked(color deploy.Color) bool
	// switchTo makes color (serving image) the active color, durably: the
	// store first, then the proxy. It returns the color active before.
	switchTo(color deploy.Color, image string) (from deploy.Color, err error)
	// has reports whether color has a container.
	has(color deploy.Color) bool
	// drainer returns what drains color's requests on the proxy; nil when
	// the proxy does not listen.
	drainer(color deploy.Color) func() proxy.DrainResult
	// stopping marks color's container as stopped by the actor, and returns
	// it ("": none).
	stopping(color deploy.Color) (id string)
	// containerStopped records that color's container was stopped.
	containerStopped(color deploy.Color)
	// rollingBack marks the candidate id as stopped or removed by the
	// actor, and ends its health checks.
	rollingBack(color deploy.Color, id string)
	// candidateRemoved forgets the removed candidate of color (existing: a
	// manual switch's, which was only stopped).
	candidateRemoved(color deploy.Color, existing bool)
	// ended takes the end of the run: the deployment as recorded.
	ended(d deploy.Deployment)
}

// newRun makes the run of a recorded deployment d, numbered gen, from the
// active color from: existing names a manual switch to the color's
// existing container.
func newRun(e *env, h runHost, d deploy.Deployment, gen uint64, from deploy.Color, existing bool) *run {
	ctx, cancel := context.WithCancel(context.Background())
	return &run{env: e, host: h, dep: d, gen: gen, color: d.Color, from: from, existing: existing, ctx: ctx, cancel: cancel}
}

// begin records that the run began and enters its first phase.
func (r *run) begin() {
	e, d := r.env, r.dep
	what := "deploying " + d.ToImage + " into " + string(d.Color)
	if r.existing {
		what = "switching to " + string(d.Color) + " (" + d.ToImage + ")"
	}
	e.log.Info("deployment started", keyDeploymentID, d.DeploymentID, keyImage, d.ToImage, keyColor, d.Color, keyTrigger, d.TriggerSource)
	e.event(d.DeploymentID, deploy.EventDeploymentStarted,
		fmt.Sprintf("deployment %d: %s (trigger %s)", d.DeploymentID, what, d.TriggerSource),
		map[string]any{"status": d.Status, "image": d.ToImage, "color": d.Color, "from_image": d.FromImage, "trigger_source": d.TriggerSource})
	if r.existing {
		r.enter(phaseStarting, "")
		return
	}
	r.enter(phasePulling, "")
}

// resumeStop finishes a deployment that the last supervisor left in phase
// p (switching or draining) after it switched traffic: the old color is
// stopped (there is nothing of it left to drain in this process) and it
// ends completed.
func (r *run) resumeStop(p phase) {
	r.phase = p
	e, d := r.env, r.dep
	e.log.Info("finishing the deployment the stop left after its switch", keyDeploymentID, d.DeploymentID, keyStatus, d.Status)
	e.event(d.DeploymentID, deploy.EventDeploymentPhase,
		fmt.Sprintf("deployment %d switched traffic to %s before the supervisor stopped: stopping the old %s color", d.DeploymentID, d.Color, r.from),
		map[string]any{"phase": phaseStopping.String(), "status": d.Status, "resumed": true})
}

// stopAfterResume enters the stopping phase of a resumed run (resumeStop).
func (r *run) stopAfterResume() { r.enter(phaseStopping, "the supervisor stopped during this phase") }

// gating reports whether r runs and is in the health gate of color.
func (r *run) gating(color deploy.Color) bool {
	return r != nil && r.color == color && r.phase == phaseHealthChecking
}

// id is the run's deployment ID.
func (r *run) id() int64 { return r.dep.DeploymentID }

// image is the image the run deploys.
func (r *run) image() string { return r.dep.ToImage }

// deploys reports whether r deploys image (and is no manual switch).
func (r *run) deploys(image string) bool { return r.dep.ToImage == image && !r.existing }

// deployment is the deployment as recorded so far (a copy).
func (r *run) deployment() deploy.Deployment {
	d := r.dep
	d.Phases = append([]deploy.Phase(nil), d.Phases...)
	return d
}

// step takes the result of a step; false when it is not of this run's
// current phase (stale).
func (r *run) step(res stepDone) bool {
	if r.gen != res.gen || r.phase != res.phase {
		return false
	}
	r.advance(res)
	return true
}

// crashed takes the exit of color's container id: it ends the gate when it
// is the candidate under health checks.
func (r *run) crashed(color deploy.Color, id string, code int, oom bool) bool {
	if !r.gating(color) || r.candidate != id {
		return false
	}
	r.advance(stepDone{gen: r.gen, phase: phaseHealthChecking,
		err: &exitError{docker.Container{ID: id, State: "exited", ExitCode: code, OOMKilled: oom}}})
	return true
}

// oldExited takes the exit of color's container, stopped by the actor: the
// old container's process ended, so the deployment is done. The stop call
// returns only after Docker's clean-up of the container (its network and
// published ports), which takes seconds when many stop at once and which
// Docker serialises; it goes on in the background and its answer is stale
// by then.
func (r *run) oldExited(color deploy.Color) {
	if r.phase == phaseStopping && color == r.from {
		r.advance(stepDone{gen: r.gen, phase: phaseStopping})
	}
}

// gateCheck counts a check of the candidate: healthy_threshold passes in a
// row end the gate.
func (r *run) gateCheck(check deploy.HealthCheck) {
	if !check.Success {
		r.lastCheckErr = check.Error
	}
	passes, ok := r.host.passedGate(r.color)
	if !ok {
		return
	}
	r.env.event(r.dep.DeploymentID, deploy.EventContainerHealthy,
		fmt.Sprintf("%s container passed %d health checks", r.color, passes), map[string]any{"color": r.color})
	r.advance(stepDone{gen: r.gen, phase: phaseHealthChecking})
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

// advance moves r on from the phase that res ends. Its switch is CONTRACT §4
// step by step; it is the one place where a deployment changes phase.
func (r *run) advance(res stepDone) {
	switch r.phase {
	case phasePulling: // 2. the image is present, or nothing was started
		if res.err != nil {
			r.end(deploy.StatusFailed, dockerMessage(res.err), nil)
			return
		}
		if res.pulled {
			r.env.log.Info("image pulled", keyImage, r.dep.ToImage)
		}
		r.enter(phaseStarting, "")
	case phaseStarting: // 3. the new container runs, or it never did
		if res.container == "" {
			r.end(deploy.StatusFailed, dockerMessage(res.err), nil)
			return
		}
		r.candidateCreated(res)
		if res.err != nil {
			r.enter(phaseRollingBack, res.err.Error())
			return
		}
		r.enter(phaseHealthChecking, "")
	case phaseHealthChecking: // 4. healthy_threshold passes, or a timeout or crash: roll back
		if res.err != nil {
			r.enter(phaseRollingBack, r.gateFailure(res.err))
			return
		}
		r.enter(phaseSwitching, "")
	case phaseSwitching: // 5. traffic moved; 6. the old color drains, if there is one
		if r.from == "" || r.from == r.color || !r.host.has(r.from) {
			r.end(deploy.StatusCompleted, "", nil)
			return
		}
		r.enter(phaseDraining, "")
	case phaseDraining: // 7. the old container is stopped
		r.drained(res.drained)
		r.enter(phaseStopping, "")
	case phaseStopping:
		r.oldStopped(res.err)
		r.end(deploy.StatusCompleted, "", nil)
	case phaseRollingBack: // 4. the candidate is gone; the old container kept serving
		r.candidateRemoved(res.err)
		r.end(deploy.StatusRolledBack, r.why, res.logs)
	}
}

// enter closes r's current phase (with why, when it failed) and begins next.
func (r *run) enter(next phase, why string) {
	r.record(next, why)
	switch next {
	case phasePulling:
		r.pull()
	case phaseStarting:
		r.startCandidate()
	case phaseHealthChecking:
		r.openGate()
	case phaseSwitching:
		r.switchTraffic()
	case phaseDraining:
		r.drain()
	case phaseStopping:
		r.stopOld()
	case phaseRollingBack:
		r.rollBack(why)
	}
}

// record closes r's current phase with why and opens next, persisting the
// deployment and recording the event.
func (r *run) record(next phase, why string) {
	r.closePhase(why)
	r.phase = next
	r.dep.Phases = append(r.dep.Phases, deploy.Phase{Name: next.String(), StartedAt: time.Now().UTC()})
	if st, ok := next.status(); ok {
		r.dep.Status = st
	}
	r.save()
	e := r.env
	e.log.Info("deployment phase", keyDeploymentID, r.dep.DeploymentID, keyPhase, next)
	e.event(r.dep.DeploymentID, deploy.EventDeploymentPhase, fmt.Sprintf("deployment %d: %s", r.dep.DeploymentID, next),
		map[string]any{"phase": next.String(), "status": r.dep.Status})
}

// closePhase ends the phase record r is in, with why when it failed. Each
// phase is closed once: by the next one (record) or by the end.
func (r *run) closePhase(why string) {
	if r.phase == phaseNone || len(r.dep.Phases) == 0 {
		return
	}
	p := &r.dep.Phases[len(r.dep.Phases)-1]
	p.DurationMS = time.Since(p.StartedAt).Milliseconds()
	p.Error = why
}

func (r *run) save() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := r.env.deps.store.UpdateDeployment(ctx, &r.dep); err != nil {
		r.env.log.Error("save deployment", keyDeploymentID, r.dep.DeploymentID, keyErr, err)
	}
}

// end finishes the run with a final status and records it; the app actor
// takes it from there (runHost.ended). It is the one place where a
// deployment ends.
func (r *run) end(status deploy.Status, why string, logs []string) {
	r.halt()
	r.closePhase(why)
	r.dep.Logs = logs
	r.dep.End(status, why, time.Now().UTC())
	r.save()
	e, d := r.env, r.dep
	msg := fmt.Sprintf("deployment %d of %s %s in %s", d.DeploymentID, d.ToImage, status, time.Duration(d.DurationMS)*time.Millisecond)
	if why != "" {
		msg += ": " + why
		e.log.Warn("deployment ended", keyDeploymentID, d.DeploymentID, keyStatus, status, keyDuration, d.DurationMS, keyErr, why)
	} else {
		e.log.Info("deployment ended", keyDeploymentID, d.DeploymentID, keyStatus, status, keyDuration, d.DurationMS)
	}
	e.event(d.DeploymentID, status.Event(), msg,
		map[string]any{"status": status, "error": why, "duration_ms": d.DurationMS, "image": d.ToImage})
	r.host.ended(d)
}

// dockerMessage makes a Docker error read as what to do.
func dockerMessage(err error) string {
	if errors.Is(err, docker.ErrUnavailable) {
		return "Docker unreachable: " + err.Error()
	}
	return err.Error()
}
