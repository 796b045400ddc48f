package actors

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// Verification on live traffic (docs/verification.md): a verified run
// watches the new color's real traffic in windows, one per canary step and
// one after the switch (verifying), while the old container keeps running.
// A window is judged four times a second on what the proxy counted of the
// new color since it began (deploy.Judge), and its numbers are saved each
// second: it fails as soon as they are over the limits with at least
// min_requests requests, or when the new container exits or turns
// unhealthy, and passes when its time is up. A failure takes the traffic
// back to the old color (reverting); a promote skips what is left. The
// run's phase still changes only in advance.

// verifySaveEvery is how often a window's numbers so far are written to
// the store; it is judged more often (timers.verifyTick), so that a bad
// release is caught within a fraction of a second of min_requests.
const verifySaveEvery = time.Second

// limits are what the run's windows must stay within.
func (r *deploymentRun) limits() deploy.Limits {
	v := r.verify
	return deploy.Limits{MaxErrorRate: v.MaxErrorRate, MinRequests: v.MinRequests, MaxP99: v.MaxP99}
}

// canGoBack reports whether the old color has a container that runs: the
// traffic can go back to it.
func (r *deploymentRun) canGoBack() bool {
	return r.from != "" && r.from != r.color && r.host.running(r.from)
}

// afterGate is the phase that follows a passed health gate: the canary
// steps, or the switch. A deployment with no old color to go back to is
// not verified.
func (r *deploymentRun) afterGate() phase {
	if r.verify != nil && !r.canGoBack() {
		r.env.log.Info("not verified: no old color to go back to", keyDeploymentID, r.dep.DeploymentID)
		r.verify, r.steps = nil, nil
	}
	if r.verify != nil && len(r.steps) > 0 {
		return phaseCanary
	}
	return phaseSwitching
}

// verifiesAfterSwitch reports whether the switch is followed by verifying.
func (r *deploymentRun) verifiesAfterSwitch() bool { return r.verify != nil && !r.promoted }

// openWindow begins a window at step percent: the new color's counters
// now are its start.
func (r *deploymentRun) openWindow(step int) {
	r.stopWindow()
	e := r.env
	r.winSeq++
	w := &verifyWindow{seq: r.winSeq, step: step, started: time.Now(), start: r.host.tally(r.color)}
	w.stopTick = e.after(e.deps.timers.verifyTick, windowDue{gen: r.gen, seq: w.seq})
	w.stopEnd = e.after(r.verify.Window, windowDue{gen: r.gen, seq: w.seq, end: true})
	r.win = w
	steps := slices.Clone(r.steps)
	if steps == nil {
		steps = []int{}
	}
	r.dep.Verification = &deploy.Verification{Step: step, Steps: steps, WindowMS: r.verify.Window.Milliseconds(),
		Result: deploy.VerificationRunning}
}

// inWindow reports whether r watches a window of color's container now.
func (r *deploymentRun) inWindow(color deploy.Color) bool {
	return r != nil && r.win != nil && r.color == color
}

// windowDue takes a tick or the end of the window being watched: the window
// so far is judged; it fails at once, passes at its end, or goes on.
func (r *deploymentRun) windowDue(msg windowDue) {
	w := r.win
	if w == nil || msg.gen != r.gen || msg.seq != w.seq {
		return // of a window that ended
	}
	if why := deploy.Judge(r.limits(), r.measure()); why != "" {
		r.windowEnded(deploy.VerificationFailed, deploy.FailedAt(w.step, why))
		return
	}
	if msg.end {
		r.windowEnded(deploy.VerificationPassed, "")
		return
	}
	tick := r.env.deps.timers.verifyTick
	if w.ticks++; w.ticks%max(1, int(verifySaveEvery/tick)) == 0 {
		r.save() // the numbers so far, for the API and ctl deploy --wait
	}
	w.stopTick = r.env.after(tick, windowDue{gen: r.gen, seq: w.seq})
}

// measure reads the window's numbers so far into the deployment's
// verification and returns them.
func (r *deploymentRun) measure() deploy.WindowNumbers {
	w := r.win
	now := r.host.tally(r.color)
	t := now.Sub(&w.start)
	n := deploy.WindowNumbers{Requests: int64(t.Answers), Errors: int64(t.Errors), P99: t.P99()}
	v := *r.dep.Verification
	v.ElapsedMS = time.Since(w.started).Milliseconds()
	v.Requests, v.Errors, v.ErrorRate = n.Requests, n.Errors, n.Rate()
	v.P99MS = float64(n.P99) / float64(time.Millisecond)
	r.dep.Verification = &v
	return n
}

// windowEnded closes the window with result (why: the deployment's error,
// when it failed), records it as a deployment.phase event with its numbers,
// and ends the phase.
func (r *deploymentRun) windowEnded(result deploy.VerificationResult, why string) {
	step := r.win.step
	r.stopWindow()
	v := *r.dep.Verification
	v.Result = result
	r.dep.Verification = &v
	e, id := r.env, r.dep.DeploymentID
	msg := fmt.Sprintf("deployment %d: %s %s: %d requests, %d errors (%.1f%%), p99 %s", id, windowName(step), result,
		v.Requests, v.Errors, v.ErrorRate*100, time.Duration(v.P99MS*float64(time.Millisecond)).Round(time.Millisecond))
	data := verificationData(r.phase, r.dep.Status, v)
	if why != "" {
		msg += ": " + why
		data["error"] = why
		e.log.Warn("verification window failed", keyDeploymentID, id, "step", step, "requests", v.Requests, "errors", v.Errors, keyErr, why)
	} else {
		e.log.Info("verification window ended", keyDeploymentID, id, "step", step, "result", result, "requests", v.Requests, "errors", v.Errors)
	}
	e.event(id, deploy.EventDeploymentPhase, msg, data)
	var err error
	if why != "" {
		err = errors.New(why)
	}
	r.advance(stepDone{gen: r.gen, phase: r.phase, err: err})
}

// promote skips what is left of the canary steps and windows: all traffic
// goes to the new color and on to draining. False when r watches no window.
func (r *deploymentRun) promote() bool {
	if r == nil || r.win == nil {
		return false
	}
	r.promoted = true
	r.measure()
	r.windowEnded(deploy.VerificationPromoted, "")
	return true
}

// takeBack ends the window at an operator's rollback: the traffic goes back
// to the old color. False when r watches no window.
func (r *deploymentRun) takeBack() bool {
	if r == nil || r.win == nil {
		return false
	}
	r.measure()
	r.windowEnded(deploy.VerificationFailed, deploy.RolledBackByRequest)
	return true
}

// broken fails the window at once because the new container exited or
// turned unhealthy (why).
func (r *deploymentRun) broken(why string) {
	step := r.win.step
	r.measure()
	r.windowEnded(deploy.VerificationFailed, deploy.FailedAt(step, why))
}

// windowCheck counts a health check of the new container during a window:
// unhealthy_threshold failures in a row fail it.
func (r *deploymentRun) windowCheck(check deploy.HealthCheck, failures int, hc config.HealthCheck) {
	if !check.Success && failures >= hc.UnhealthyThreshold {
		r.broken(fmt.Sprintf("the new container is unhealthy: %d health checks failed in a row: %s", failures, check.Error))
	}
}

// revert moves all traffic back to the old color at once and lets the new
// color's requests finish there (docs/deployments.md, "The lifecycle", 6);
// the new container is removed next (rollback).
func (r *deploymentRun) revert(why string) {
	r.why = why
	e := r.env
	if err := r.host.routeBack(r.from, r.dep.FromImage); err != nil {
		e.log.Error("record the switch back", keyErr, err)
	}
	e.log.Warn("traffic back on the old color", keyFrom, r.color, keyTo, r.from, "reason", why)
	e.event(r.dep.DeploymentID, deploy.EventProxySwitched,
		fmt.Sprintf("traffic switched back from %s to %s (%s): %s", r.color, r.from, r.dep.FromImage, why),
		map[string]any{"from": r.color, "to": r.from, "image": r.dep.FromImage, "reason": why})
	r.drainColor(r.color, phaseReverting)
}

// resumeVerify watches a fresh verifying window of a deployment that the
// last supervisor left in verifying, its new color (container candidate)
// active; false when it can no longer be verified (no verify setting, or no
// old container running), and is to be finished as one that switched.
func (r *deploymentRun) resumeVerify(candidate string) bool {
	if r.verify == nil || !r.canGoBack() {
		return false
	}
	r.candidate, r.phase = candidate, phaseVerifying // the phase the stop left: closed by the fresh one
	e, d := r.env, r.dep
	e.log.Info("verifying again the deployment the stop left in its window", keyDeploymentID, d.DeploymentID)
	e.event(d.DeploymentID, deploy.EventDeploymentPhase,
		fmt.Sprintf("deployment %d was verifying %s when the supervisor stopped: a fresh window begins", d.DeploymentID, d.Color),
		map[string]any{"phase": phaseVerifying.String(), "status": d.Status, "resumed": true})
	r.enter(phaseVerifying, "the supervisor stopped during this window")
	return true
}

// windowsLeft is how long the windows the run has yet to watch may take:
// the rest of the current one and the ones after it.
func (r *deploymentRun) windowsLeft() time.Duration {
	if r == nil || r.verify == nil {
		return 0
	}
	left := 0
	switch r.phase {
	case phaseNone, phasePulling, phaseStarting, phaseHealthChecking:
		left = len(r.steps) + 1
	case phaseCanary:
		left = len(r.steps) - r.stepIdx + 1
	case phaseSwitching, phaseVerifying:
		left = 1
	}
	return time.Duration(left) * r.verify.Window
}

// verifyAllowance is how long the windows of a deployment of cfg take.
func verifyAllowance(cfg *config.App) time.Duration {
	v := cfg.Deployment.Verify
	if v == nil {
		return 0
	}
	return time.Duration(len(cfg.Deployment.Canary)+1) * v.Window
}

// windowName names a window in messages: "canary 10%", or "verifying".
func windowName(step int) string {
	if step < deploy.VerifyStepAll {
		return fmt.Sprintf("canary %d%%", step)
	}
	return string(deploy.StatusVerifying)
}

// newContainerExit says how the new container stopped running during a
// window.
func newContainerExit(ct docker.Container) string {
	if ct.OOMKilled {
		return "the new container was killed for exceeding its memory limit"
	}
	return fmt.Sprintf("the new container exited with code %d", ct.ExitCode)
}

// verificationData is the data of a deployment.phase event of a window:
// its phase and status, and the numbers of the verification object.
func verificationData(p phase, st deploy.Status, v deploy.Verification) map[string]any {
	return map[string]any{"phase": p.String(), "status": st, "step": v.Step, "steps": v.Steps,
		"window_ms": v.WindowMS, "elapsed_ms": v.ElapsedMS, "requests": v.Requests, "errors": v.Errors,
		"error_rate": v.ErrorRate, "p99_ms": v.P99MS, "result": v.Result}
}
