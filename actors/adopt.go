package actors

import (
	"context"

	"github.com/bluegreen/bluegreen/deploy"
)

// Adoption: the first list of the app's containers after its actor
// started. It takes over what runs, then brings the app to what it should
// run: the active container started and routed, a first deployment, the
// deployment a stop left after its switch finished, or the one a stop
// interrupted deployed again. The reconcile keeps it so (reconcile.go).

// onAdopt takes over the containers Docker listed, and brings the app up.
func (a *appActor) onAdopt(msg adoptResult) {
	defer a.gate.markReady()
	if msg.err != nil {
		// Route to the last known active color anyway; the tick retries.
		a.containers.dockerDown(msg.err, "docker unreachable: serving from the last known state")
		a.refreshStatus()
		return
	}
	r := a.deployments.running()
	b := a.deployments.takeBoot(r != nil)
	if r != nil {
		// A deployment began before adoption answered: it owns its color and
		// its decisions; take only the other color's container.
		a.containers.adoptBeside(msg.containers, r.color)
		a.containers.adoptAsides(msg.containers) // the run's end decides on its color's (standby.go)
		if b != nil && b.finish != nil {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			a.deployments.endFound(ctx, b.finish, deploy.StatusInterrupted, "a new deployment began before it could be finished")
			cancel()
		}
		return
	}
	a.containers.adoptAll(msg.containers)
	a.containers.adoptAsides(msg.containers)
	a.settleAsides(b.finishing()) // before the interrupted candidate's removal: it may take its place (standby.go)
	a.removeInterruptedCandidate()
	a.log.Info("adopted containers", "count", a.containers.count(), "active_color", a.record.active(), keyImage, a.record.current())
	if b == nil {
		b = &boot{}
	}
	a.bringUp(b)
}

// bringUp makes the adopted app serve: it deploys when nothing can serve,
// starts a stopped active container, finishes the deployment a stop left
// after its switch, and deploys again what a stop interrupted (resume).
func (a *appActor) bringUp(b *boot) {
	active := a.record.active()
	image, trigger, kind := a.cfg.Image, deploy.TriggerConfig, deploy.KindConfig // first start: the config's image
	if a.record.current() != "" {
		image, kind = a.record.current(), deploy.KindDeploy
	}
	if b.resume != nil { // what the operator asked for last
		image, trigger, kind = b.resume.ToImage, b.resume.TriggerSource, b.resume.Kind
		if kind == deploy.KindSwitch { // deployed again as a new container
			kind = deploy.KindDeploy
		}
	}
	s, found := a.containers.get(active)
	if b.finish != nil && !found {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.deployments.endFound(ctx, b.finish, deploy.StatusInterrupted, "the container it switched to is gone")
		cancel()
		b.finish = nil
	}
	switch {
	case active == "":
		a.startDeployment(image, trigger, kind, "")
		return
	case !found:
		a.log.Warn("active container is gone: deploying again", keyColor, active, keyImage, image)
		a.startDeployment(image, trigger, kind, "")
		return
	case !s.running():
		a.log.Warn("active container is not running: starting it", keyColor, active, "state", s.state)
		a.containers.markRecovering(active) // degraded until it passed its checks again
		a.containers.startOp(active)
	default:
		a.routeActive()
	}
	if b.finish != nil {
		a.finishSwitched(*b.finish)
	}
	if b.resume != nil && image != a.record.current() {
		a.log.Info("resuming the deployment the stop interrupted", keyImage, image)
		if a.deployments.running() != nil {
			a.deployments.enqueue(image, a.record.current(), trigger, kind)
		} else {
			a.startDeployment(image, trigger, kind, "")
		}
	}
	a.ensureMonitors()
	a.refreshStatus()
}
