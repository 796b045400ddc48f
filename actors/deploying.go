package actors

import (
	"context"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

// The app actor's side of a deployment run (run.go): it begins runs and
// carries what a run asks of the app's other parts (runHost) to their
// owners. A method here only delegates; the decisions are the run's.

// begin runs a recorded deployment: existing names a manual switch to the
// color's existing container.
func (a *appActor) begin(d deploy.Deployment, existing bool) {
	r := a.deployments.start(a, d, a.record.active(), existing)
	a.record.desire(d.ToImage)
	a.refreshStatus()
	r.begin()
}

// beginQueued runs the queued deployment, if any, once the running one ended.
func (a *appActor) beginQueued() {
	q := a.deployments.takeQueued()
	if q == nil {
		return
	}
	q.Color = a.record.active().Other()
	q.FromImage = a.record.current()
	q.Status = deploy.StatusPulling
	q.StartedAt = time.Now().UTC()
	a.begin(*q, false)
}

// finishSwitched finishes a deployment that the last supervisor left after
// it switched traffic: one in verifying watches a fresh window, with the
// new color active (docs/verification.md); else the old color is stopped
// (there is nothing of it left to drain in this process) and it ends
// completed.
func (a *appActor) finishSwitched(d deploy.Deployment) {
	r := a.deployments.start(a, d, d.Color.Other(), false)
	if s, ok := a.containers.get(d.Color); ok && d.Status == deploy.StatusVerifying && r.resumeVerify(s.id) {
		a.ensureMonitors()
		a.refreshStatus()
		return
	}
	p := phaseSwitching
	if d.Status == deploy.StatusDraining {
		p = phaseDraining
	}
	r.resumeStop(p)
	a.refreshStatus()
	r.stopAfterResume()
}

// onStep takes the result of the running deployment's current step.
func (a *appActor) onStep(msg stepDone) {
	if r := a.deployments.running(); r != nil && r.step(msg) {
		return
	}
	if msg.phase == phaseStopping && msg.err != nil {
		// The stop of an old container that ended the deployment by its
		// exit (run.oldExited) failed afterwards.
		a.log.Warn("stop old container", keyErr, msg.err)
	}
}

// onWindowDue takes a timer of the running deployment's verification window.
func (a *appActor) onWindowDue(msg windowDue) {
	if r := a.deployments.running(); r != nil {
		r.windowDue(msg)
	}
}

// What a run asks (runHost).

var _ runHost = (*appActor)(nil)

func (a *appActor) retentionPass() <-chan struct{} { return a.images.running() }

// newContainer is the one place that decides what happens to a color's
// standby when a deployment goes into the color: it is set aside, and put
// back or removed by the deployment's outcome (standby.go, standbyAfter).
func (a *appActor) newContainer(d deploy.Deployment) (docker.Spec, func(context.Context) error) {
	spec := a.containers.spec(d)
	a.monitors.stop(d.Color)
	return spec, a.containers.makeRoom(d.Color)
}

func (a *appActor) startExisting(color deploy.Color) (string, int) {
	return a.containers.startExisting(color)
}

func (a *appActor) candidateStarted(color deploy.Color, id, image string, port int, deploymentID int64, startedAt time.Time, failed bool) {
	a.containers.putCandidate(color, id, image, port, deploymentID, startedAt, failed)
}

func (a *appActor) watchHealth() { a.ensureMonitors() }

func (a *appActor) passedGate(color deploy.Color) (int, bool) {
	if !a.containers.passedGate(color) {
		return 0, false
	}
	s, _ := a.containers.get(color)
	return s.passes, true
}

func (a *appActor) checked(color deploy.Color) bool {
	s, _ := a.containers.get(color)
	return s.checked
}

func (a *appActor) switchTo(color deploy.Color, image string) (deploy.Color, error) {
	from, err := a.record.switchTo(color, image)
	if err != nil {
		return from, err
	}
	a.routeActive()
	return from, nil
}

func (a *appActor) has(color deploy.Color) bool {
	_, ok := a.containers.get(color)
	return ok
}

func (a *appActor) drainer(color deploy.Color) func() proxy.DrainResult {
	return a.listener.drainer(color)
}

func (a *appActor) stopping(color deploy.Color) string {
	s, ok := a.containers.get(color)
	if !ok || s.id == "" {
		return ""
	}
	a.containers.stopping(color, s.id)
	return s.id
}

func (a *appActor) containerStopped(color deploy.Color) { a.containers.stopped(color) }

func (a *appActor) rollingBack(color deploy.Color, id string) {
	a.containers.stopping(color, id)
	a.ensureMonitors()
}

func (a *appActor) candidateRemoved(color deploy.Color, existing bool) {
	if existing {
		a.containers.rolledBack(color)
		return
	}
	a.containers.clear(color)
}

func (a *appActor) running(color deploy.Color) bool { return a.containers.running(color) }

func (a *appActor) split(color deploy.Color, percent int) {
	a.listener.canary(color, a.portOf(color), percent)
}

// portOf is the host port of color's container.
func (a *appActor) portOf(color deploy.Color) int {
	if s, ok := a.containers.get(color); ok && s.port != 0 {
		return s.port
	}
	return a.containers.port(color)
}

func (a *appActor) tally(color deploy.Color) proxy.Tally {
	return a.metrics.Requests().Color(string(color)).Tally()
}

func (a *appActor) routeBack(color deploy.Color, image string) error {
	var err error
	if a.record.active() != color {
		_, err = a.record.switchTo(color, image)
	}
	a.listener.route(color, a.portOf(color))
	a.listener.canary("", 0, 0) // a canary step's split ends with it
	a.ensureMonitors()
	a.refreshStatus()
	return err
}

// ended takes the end of the running deployment: the app serves what it
// serves, a failure that may pass is retried, the queued deployment begins,
// image retention follows a completed one, and a pause that waited for it
// is answered.
func (a *appActor) ended(d deploy.Deployment) {
	retrying := a.retryAfterEnd(d) // a failure while nothing serves is retried (retry.go)
	a.deployments.finished(d)
	a.standbyAfter(d) // before a queued deployment takes the color again
	if d.Status != deploy.StatusCompleted && !a.deployments.hasQueued() && !retrying {
		a.record.settle() // what was asked for did not happen
	}
	a.ensureMonitors()
	a.refreshStatus()
	a.beginQueued()
	if d.Status == deploy.StatusCompleted {
		a.pruneImages(d.DeploymentID) // after the queued deployment began, so that its image is protected too
	}
	a.quietIfIdle() // a pause waited for this deployment (pause.go)
}

// The app actor's side of a deployment's retry (retry.go).

// retryAfterEnd decides, as the running deployment d ends, whether it is
// deployed again: when it failed for a passing reason (retryable), nothing
// serves the app and no request waits. It reports whether it is.
func (a *appActor) retryAfterEnd(d deploy.Deployment) bool {
	p, cause := a.deployments.running().failedWith()
	if d.Status != deploy.StatusFailed || !retryable(p, cause) || a.deployments.hasQueued() || !a.nothingServes() {
		a.retry.reset()
		return false
	}
	a.retry.schedule(d, dockerMessage(cause))
	return true
}

// nothingServes reports whether the app has no container to route to: no
// color was ever active, or the active color's container is gone.
func (a *appActor) nothingServes() bool {
	active := a.record.active()
	_, found := a.containers.get(active)
	return active == "" || !found
}

// onRetryDue deploys again the deployment whose retry is due, unless the
// app serves by now or a pause refuses new deployments (the pause's end
// makes it due again: resync).
func (a *appActor) onRetryDue(msg retryDue) {
	d, ok := a.retry.due(msg)
	switch {
	case !ok || a.gate.refuses():
		return
	case a.deployments.running() != nil || !a.nothingServes():
		a.retry.reset()
		return
	}
	a.log.Info("deploying again what failed", keyDeploymentID, d.DeploymentID, keyImage, d.ToImage, keyTrigger, d.TriggerSource)
	if _, err := a.startDeployment(d.ToImage, d.TriggerSource, d.Kind, ""); err != nil {
		a.log.Error("retry the deployment", keyDeploymentID, d.DeploymentID, keyErr, err)
		a.retry.schedule(d, err.Error()) // the store refused it: later
	}
}
