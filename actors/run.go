package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// A deployment run is a state machine: its phase changes in one method
// (advance), whose switch reads as the lifecycle (docs/deployments.md, "The
// lifecycle") step by step; enter begins the work of the next phase
// (phases.go), whose end comes back to advance as a stepDone, and end is
// the one place where a run ends. The run alone holds and changes its state
// (runstate.go). What it needs of the app's other parts (the containers,
// the health actors, the proxy, the app's record) it asks the app actor
// through runHost.
//
// A new phase is a constant in phase.go, a case in advance (what ends it,
// and what comes next), a case in enter and its work in phases.go; what it
// needs of the other parts becomes a method of runHost.

// begin records that the run began and enters its first phase.
func (r *deploymentRun) begin() {
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
func (r *deploymentRun) resumeStop(p phase) {
	r.phase = p
	e, d := r.env, r.dep
	e.log.Info("finishing the deployment the stop left after its switch", keyDeploymentID, d.DeploymentID, keyStatus, d.Status)
	e.event(d.DeploymentID, deploy.EventDeploymentPhase,
		fmt.Sprintf("deployment %d switched traffic to %s before the supervisor stopped: stopping the old %s color", d.DeploymentID, d.Color, r.from),
		map[string]any{"phase": phaseStopping.String(), "status": d.Status, "resumed": true})
}

// stopAfterResume enters the stopping phase of a resumed run (resumeStop).
func (r *deploymentRun) stopAfterResume() {
	r.enter(phaseStopping, "the supervisor stopped during this phase")
}

// step takes the result of a step; false when it is not of this run's
// current phase (stale).
func (r *deploymentRun) step(res stepDone) bool {
	if r.gen != res.gen || r.phase != res.phase {
		return false
	}
	r.advance(res)
	return true
}

// crashed takes the exit of color's container id: it ends the gate, or
// fails the verification window, when it is the candidate.
func (r *deploymentRun) crashed(color deploy.Color, id string, code int, oom bool) bool {
	if r.candidate != id {
		return false
	}
	ct := docker.Container{ID: id, State: "exited", ExitCode: code, OOMKilled: oom}
	switch {
	case r.gating(color):
		r.advance(stepDone{gen: r.gen, phase: phaseHealthChecking, err: &exitError{ct}})
	case r.inWindow(color):
		r.broken(newContainerExit(ct))
	default:
		return false
	}
	return true
}

// oldExited takes the exit of color's container, stopped by the actor: the
// old container's process ended, so the deployment is done. The stop call
// returns only after Docker's clean-up of the container (its network and
// published ports), which takes seconds when many stop at once and which
// Docker serialises; it goes on in the background and its answer is stale
// by then.
func (r *deploymentRun) oldExited(color deploy.Color) {
	if r.phase == phaseStopping && color == r.from {
		r.advance(stepDone{gen: r.gen, phase: phaseStopping})
	}
}

// gateCheck counts a check of the candidate: healthy_threshold passes in a
// row end the gate.
func (r *deploymentRun) gateCheck(check deploy.HealthCheck) {
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

// advance moves r on from the phase that res ends. Its switch is the lifecycle
// step by step; it is the one place where a deployment changes phase.
func (r *deploymentRun) advance(res stepDone) {
	switch r.phase {
	case phasePulling: // 2. the image is present, or nothing was started
		if res.err != nil {
			r.fail(res.err)
			return
		}
		if res.pulled {
			r.env.log.Info("image pulled", keyImage, r.dep.ToImage)
		}
		r.enter(phaseStarting, "")
	case phaseStarting: // 3. the new container runs, or it never did
		if res.container == "" {
			r.fail(res.err)
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
		r.enter(r.afterGate(), "")
	case phaseCanary: // 4a. the step passed: the next one, or the switch (also after a promote); it failed: back to the old color
		r.afterStep(res.err)
	case phaseSwitching: // 5. traffic moved, or the switch could not be recorded; 6. the old color drains, if there is one
		if res.err != nil {
			r.enter(phaseRollingBack, res.err.Error())
			return
		}
		if r.verifiesAfterSwitch() {
			r.enter(phaseVerifying, "")
			return
		}
		r.drainOrEnd()
	case phaseVerifying: // 5a. the window passed (or a promote): 6. the old color drains; it failed: back to it
		if res.err == nil {
			r.drainOrEnd()
			return
		}
		if !r.canGoBack() {
			r.end(deploy.StatusFailed, res.err.Error()+"; the old container is not running: the new version keeps serving", nil)
			return
		}
		r.enter(phaseReverting, res.err.Error())
	case phaseReverting: // V. all traffic is back on the old color and the new color drained: R. remove it
		r.drained(r.color, res.drained)
		r.enter(phaseRollingBack, r.why)
	case phaseDraining: // 7. the old container is stopped
		r.drained(r.from, res.drained)
		r.enter(phaseStopping, "")
	case phaseStopping:
		r.oldStopped(res.err)
		r.end(deploy.StatusCompleted, "", nil)
	case phaseRollingBack: // 4. the candidate is gone; the old container kept serving
		r.candidateRemoved(res.err)
		r.end(deploy.StatusRolledBack, r.why, res.logs)
	}
}

// afterStep follows a canary step (err: why it failed): the next step, the
// switch (also after a promote), or back to the old color.
func (r *deploymentRun) afterStep(err error) {
	switch {
	case err != nil:
		r.enter(phaseReverting, err.Error())
	case !r.promoted && r.stepIdx+1 < len(r.steps):
		r.stepIdx++
		r.enter(phaseCanary, "")
	default:
		r.enter(phaseSwitching, "")
	}
}

// drainOrEnd follows the switch (and its verification): the old color
// drains, or with none the deployment is done.
func (r *deploymentRun) drainOrEnd() {
	if r.from == "" || r.from == r.color || !r.host.has(r.from) {
		r.end(deploy.StatusCompleted, "", nil)
		return
	}
	r.enter(phaseDraining, "")
}

// enter closes r's current phase (with why, when it failed) and begins the
// work of next; work that ends at once comes back to advance here.
func (r *deploymentRun) enter(next phase, why string) {
	if next != phaseHealthChecking {
		r.closeGate() // the gate is over: switching, canary or rollback
	}
	switch next { // the window opens before the record: its event shows it
	case phaseCanary:
		step := r.steps[r.stepIdx]
		r.host.split(r.color, step)
		r.openWindow(step)
	case phaseVerifying:
		r.openWindow(deploy.VerifyStepAll)
	}
	r.record(next, why)
	var res stepDone
	now := false
	switch next {
	case phasePulling:
		r.pull()
	case phaseStarting:
		r.startCandidate()
	case phaseHealthChecking:
		r.openGate()
	case phaseSwitching:
		res, now = r.switchTraffic(), true
	case phaseDraining:
		r.drain()
	case phaseStopping:
		res, now = r.stopOld()
	case phaseRollingBack:
		r.rollBack(why)
	case phaseReverting:
		r.revert(why)
	}
	if now {
		r.advance(res)
	}
}

// record closes r's current phase with why and opens next, persisting the
// deployment and recording the event.
func (r *deploymentRun) record(next phase, why string) {
	r.closePhase(why)
	r.phase = next
	r.dep.Phases = append(r.dep.Phases, deploy.Phase{Name: next.String(), StartedAt: time.Now().UTC()})
	if st, ok := next.status(); ok {
		r.dep.Status = st
	}
	r.save()
	e := r.env
	e.log.Info("deployment phase", keyDeploymentID, r.dep.DeploymentID, keyPhase, next)
	msg, data := fmt.Sprintf("deployment %d: %s", r.dep.DeploymentID, next), map[string]any{"phase": next.String(), "status": r.dep.Status}
	if v := r.dep.Verification; r.win != nil && v != nil {
		msg += fmt.Sprintf(": watching %s's traffic for %s (%s)", r.color, r.verify.Window, windowName(v.Step))
		data = verificationData(next, r.dep.Status, *v)
	}
	e.event(r.dep.DeploymentID, deploy.EventDeploymentPhase, msg, data)
}

// closePhase ends the phase record r is in, with why when it failed. Each
// phase is closed once: by the next one (record) or by the end.
func (r *deploymentRun) closePhase(why string) {
	if r.phase == phaseNone || len(r.dep.Phases) == 0 {
		return
	}
	p := &r.dep.Phases[len(r.dep.Phases)-1]
	p.DurationMS = time.Since(p.StartedAt).Milliseconds()
	p.Error = why
}

func (r *deploymentRun) save() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := r.env.deps.store.UpdateDeployment(ctx, &r.dep); err != nil {
		r.env.log.Error("save deployment", keyDeploymentID, r.dep.DeploymentID, keyErr, err)
	}
}

// end finishes the run with a final status and records it; the app actor
// takes it from there (runHost.ended). It is the one place where a
// deployment ends.
func (r *deploymentRun) end(status deploy.Status, why string, logs []string) {
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

// fail ends the run failed with err, Docker's answer in the current phase,
// which the app actor reads (failedWith) to decide on a retry (retry.go).
func (r *deploymentRun) fail(err error) {
	r.failedIn, r.failure = r.phase, err
	r.end(deploy.StatusFailed, dockerMessage(err), nil)
}

// dockerMessage makes a Docker error read as what to do.
func dockerMessage(err error) string {
	if errors.Is(err, docker.ErrUnavailable) {
		return "Docker unreachable: " + err.Error()
	}
	return err.Error()
}
