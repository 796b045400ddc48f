package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
)

// boot is what an app actor's start found in the store: the deployments the
// last supervisor left unfinished.
type boot struct {
	resume      *deploy.Deployment // the newest one marked interrupted: deployed again after adoption
	finish      *deploy.Deployment // one that had switched traffic: finished after adoption
	interrupted map[int64]bool     // the IDs of those marked interrupted
}

// markInterrupted ends every unfinished deployment of this app found in the
// store as interrupted, and says which they were; with finish, one that had
// switched traffic is kept to be finished instead (CONTRACT §6.8).
func (a *appActor) markInterrupted(ctx context.Context, why string, finish bool) *boot {
	ds, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, deploy.RunningStatuses, 100)
	if err != nil {
		a.log.Error("read unfinished deployments", keyErr, err)
		return nil
	}
	b := &boot{interrupted: map[int64]bool{}}
	for _, d := range ds {
		if finish && b.finish == nil && a.switched(d) {
			b.finish = &d
			continue
		}
		b.interrupted[d.DeploymentID] = true
		if b.resume == nil {
			b.resume = &d
		}
		a.endFound(ctx, &d, deploy.StatusInterrupted, why)
	}
	return b
}

// switched reports whether an unfinished deployment had switched traffic:
// the store's active color and image are its own. The switch is written
// before the proxy moves (switchTraffic), so a restart never routes back.
func (a *appActor) switched(d deploy.Deployment) bool {
	return (d.Status == deploy.StatusSwitching || d.Status == deploy.StatusDraining) &&
		d.Color.Valid() && a.state.ActiveColor == d.Color && a.state.CurrentImage == d.ToImage
}

// endFound ends a deployment found unfinished in the store.
func (a *appActor) endFound(ctx context.Context, d *deploy.Deployment, status deploy.Status, why string) {
	d.End(status, why, time.Now().UTC())
	if err := a.deps.store.UpdateDeployment(ctx, d); err != nil {
		a.log.Error("end deployment", keyDeploymentID, d.DeploymentID, keyStatus, status, keyErr, err)
		return
	}
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, status.Event(),
		fmt.Sprintf("deployment %d of %s %s: %s", d.DeploymentID, d.ToImage, status, why),
		map[string]any{"status": status, "error": why, "duration_ms": d.DurationMS})
}

// finishSwitched finishes a deployment that the last supervisor left after
// it switched traffic: the old color is stopped (there is nothing of it left
// to drain in this process) and it ends completed.
func (a *appActor) finishSwitched(c *actor.Context, d deploy.Deployment) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{dep: d, gen: a.nextGen(), phase: phaseSwitching, color: d.Color, from: d.Color.Other(), ctx: ctx, cancel: cancel}
	if d.Status == deploy.StatusDraining {
		r.phase = phaseDraining
	}
	a.run = r
	a.log.Info("finishing the deployment the stop left after its switch", keyDeploymentID, d.DeploymentID, keyStatus, d.Status)
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentPhase,
		fmt.Sprintf("deployment %d switched traffic to %s before the supervisor stopped: stopping the old %s color", d.DeploymentID, d.Color, r.from),
		map[string]any{"phase": phaseStopping.String(), "status": d.Status, "resumed": true})
	a.refreshStatus()
	a.enter(c, r, phaseStopping, "the supervisor stopped during this phase")
}

// onAdopt takes over the containers Docker listed, then brings the app to
// what it should run: the active container started and routed, a first
// deployment, or the deployment a stop interrupted.
func (a *appActor) onAdopt(c *actor.Context, msg adoptResult) {
	defer a.gate.markReady()
	if msg.err != nil {
		// Route to the last known active color anyway; the tick retries.
		a.containers.dockerDown(msg.err, "docker unreachable: serving from the last known state")
		a.refreshStatus()
		return
	}
	b := a.boot
	a.boot = nil
	if a.run != nil {
		// A deployment began before adoption answered: it owns its color and
		// its decisions; take only the other color's container.
		a.containers.adoptBeside(msg.containers, a.run.color)
		if b != nil && b.finish != nil {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			a.endFound(ctx, b.finish, deploy.StatusInterrupted, "a new deployment began before it could be finished")
			cancel()
		}
		return
	}
	a.containers.adoptAll(msg.containers)
	active := a.state.ActiveColor
	if b != nil {
		a.interrupted = b.interrupted
	}
	a.removeInterruptedCandidate()
	a.log.Info("adopted containers", "count", a.containers.count(), "active_color", active, keyImage, a.state.CurrentImage)
	if b == nil {
		b = &boot{}
	}
	a.bringUp(c, b)
}

// removeInterruptedCandidate removes the inactive color's container when a
// deployment that the start found interrupted made it: it never took
// traffic. It also catches one that Docker finished creating after the
// adoption (a supervisor killed in the middle of a create), at a reconcile.
func (a *appActor) removeInterruptedCandidate() {
	active := a.state.ActiveColor
	if active == "" || a.run != nil {
		return
	}
	other := active.Other()
	if s, ok := a.containers.get(other); ok && a.interrupted[s.deploymentID] {
		a.containers.remove(other, "left by an interrupted deployment")
	}
}

// bringUp makes the adopted app serve: it deploys when nothing can serve,
// starts a stopped active container, finishes the deployment a stop left
// after its switch, and deploys again what a stop interrupted (resume).
func (a *appActor) bringUp(c *actor.Context, b *boot) {
	active := a.state.ActiveColor
	image, trigger := a.cfg.Image, deploy.TriggerConfig // first start: the config's image
	if a.state.CurrentImage != "" {
		image = a.state.CurrentImage
	}
	if b.resume != nil { // what the operator asked for last
		image, trigger = b.resume.ToImage, b.resume.TriggerSource
	}
	s, found := a.containers.get(active)
	if b.finish != nil && !found {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.endFound(ctx, b.finish, deploy.StatusInterrupted, "the container it switched to is gone")
		cancel()
		b.finish = nil
	}
	switch {
	case active == "":
		a.startDeployment(c, image, trigger, "")
		return
	case !found:
		a.log.Warn("active container is gone: deploying again", keyColor, active, keyImage, image)
		a.startDeployment(c, image, trigger, "")
		return
	case !s.running():
		a.log.Warn("active container is not running: starting it", keyColor, active, "state", s.state)
		a.containers.startOp(active)
	default:
		a.routeActive()
	}
	if b.finish != nil {
		a.finishSwitched(c, *b.finish)
	}
	if b.resume != nil && image != a.state.CurrentImage {
		a.log.Info("resuming the deployment the stop interrupted", keyImage, image)
		if a.run != nil {
			a.enqueue(image, trigger)
		} else {
			a.startDeployment(c, image, trigger, "")
		}
	}
	a.ensureMonitors(c)
	a.refreshStatus()
}
