package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// appDeployments are an app's deployments as its actor keeps them: the one
// that runs, the newest request queued behind it, the last that completed,
// and what the start found unfinished in the store. Only its methods change
// them; the running deployment's own state is its run's (run.go).
type appDeployments struct {
	env           *env
	current       *deploymentRun     // the running deployment; nil when none
	queued        *deploy.Deployment // the newest request behind it
	lastCompleted int64              // the ID of the app's last completed deployment
	gen           uint64             // numbers the runs
	boot          *boot              // what the start found unfinished, until the first adoption takes it
	interrupted   map[int64]bool     // the deployments the start found interrupted: their containers are removed
}

// boot is what an app actor's start found in the store: the deployments the
// last supervisor left unfinished.
type boot struct {
	resume      *deploy.Deployment // the newest one marked interrupted: deployed again after adoption
	finish      *deploy.Deployment // one that had switched traffic: finished after adoption
	interrupted map[int64]bool     // the IDs of those marked interrupted
}

// load reads the last completed deployment and ends the unfinished ones as
// interrupted (boot), but for one that had switched traffic to active
// (serving image): it is finished after adoption.
func (ds *appDeployments) load(ctx context.Context, active deploy.Color, image string) {
	e := ds.env
	last, err := e.deps.store.DeploymentsByStatus(ctx, e.cfg.Name, []deploy.Status{deploy.StatusCompleted}, 1)
	if err == nil && len(last) > 0 {
		ds.lastCompleted = last[0].DeploymentID
	}
	switched := func(d deploy.Deployment) bool { return switchedTo(d, active, image) }
	ds.boot = ds.markInterrupted(ctx, "the supervisor stopped during this deployment", switched)
}

// retire ends the unfinished deployments of an app removed from the configs:
// it has no next start to find them.
func (ds *appDeployments) retire(ctx context.Context) {
	ds.markInterrupted(ctx, "the app was removed from the configs", nil)
}

// markInterrupted ends every unfinished deployment of this app found in the
// store as interrupted, and says which they were; one that had switched
// traffic (finish) is kept to be finished instead (docs/faults.md,
// "kill -9 of serve").
func (ds *appDeployments) markInterrupted(ctx context.Context, why string, finish func(deploy.Deployment) bool) *boot {
	e := ds.env
	found, err := e.deps.store.DeploymentsByStatus(ctx, e.cfg.Name, deploy.RunningStatuses, 100)
	if err != nil {
		e.log.Error("read unfinished deployments", keyErr, err)
		return nil
	}
	b := &boot{interrupted: map[int64]bool{}}
	for _, d := range found {
		if finish != nil && b.finish == nil && finish(d) {
			b.finish = &d
			continue
		}
		b.interrupted[d.DeploymentID] = true
		if b.resume == nil {
			b.resume = &d
		}
		ds.endFound(ctx, &d, deploy.StatusInterrupted, why)
	}
	return b
}

// finishing is the color of the deployment to be finished after adoption
// ("": none); b may be nil.
func (b *boot) finishing() deploy.Color {
	if b == nil || b.finish == nil {
		return ""
	}
	return b.finish.Color
}

// switchedTo reports whether an unfinished deployment had switched traffic:
// the store's active color and image are its own. The switch is written
// before the proxy moves (switchTraffic), so a restart never routes back.
func switchedTo(d deploy.Deployment, active deploy.Color, image string) bool {
	return (d.Status == deploy.StatusSwitching || d.Status == deploy.StatusVerifying || d.Status == deploy.StatusDraining) &&
		d.Color.Valid() && active == d.Color && image == d.ToImage
}

// endFound ends a deployment found unfinished in the store.
func (ds *appDeployments) endFound(ctx context.Context, d *deploy.Deployment, status deploy.Status, why string) {
	e := ds.env
	d.End(status, why, time.Now().UTC())
	if err := e.deps.store.UpdateDeployment(ctx, d); err != nil {
		e.log.Error("end deployment", keyDeploymentID, d.DeploymentID, keyStatus, status, keyErr, err)
		return
	}
	e.event(d.DeploymentID, status.Event(), fmt.Sprintf("deployment %d of %s %s: %s", d.DeploymentID, d.ToImage, status, why),
		map[string]any{"status": status, "error": why, "duration_ms": d.DurationMS})
}

// takeBoot hands what the start found to the first adoption, once. When no
// deployment began before it (running), the containers the interrupted
// ones left are removed from now on (leftBy).
func (ds *appDeployments) takeBoot(running bool) *boot {
	b := ds.boot
	ds.boot = nil
	if b != nil && !running {
		ds.interrupted = b.interrupted
	}
	return b
}

// leftBy reports whether deployment id was found interrupted at the start.
func (ds *appDeployments) leftBy(id int64) bool { return ds.interrupted[id] }

// running is the running deployment; nil when none runs.
func (ds *appDeployments) running() *deploymentRun { return ds.current }

// idle reports whether no deployment runs or waits.
func (ds *appDeployments) idle() bool { return ds.current == nil && ds.queued == nil }

// hasQueued reports whether a request waits behind the running deployment.
func (ds *appDeployments) hasQueued() bool { return ds.queued != nil }

// images are the images of the running and the queued deployment.
func (ds *appDeployments) images() []string {
	var out []string
	if ds.queued != nil {
		out = append(out, ds.queued.ToImage)
	}
	if ds.current != nil {
		out = append(out, ds.current.image())
	}
	return out
}

// last is the ID of the app's last completed deployment.
func (ds *appDeployments) last() int64 { return ds.lastCompleted }

// record records a new deployment in the store.
func (ds *appDeployments) record(d *deploy.Deployment) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := ds.env.deps.store.CreateDeployment(ctx, d); err != nil {
		return fmt.Errorf("record deployment: %w", err)
	}
	return nil
}

// start makes the run of the recorded deployment d the running one (see
// newRun); the caller begins it.
func (ds *appDeployments) start(h runHost, d deploy.Deployment, from deploy.Color, existing bool) *deploymentRun {
	ds.gen++
	ds.current = newDeploymentRun(ds.env, h, d, ds.gen, from, existing)
	return ds.current
}

// finished takes the end of the running deployment d.
func (ds *appDeployments) finished(d deploy.Deployment) {
	ds.current = nil
	if d.Status == deploy.StatusCompleted {
		ds.lastCompleted = d.DeploymentID
	}
}

// enqueue records a deployment of image (from fromImage; kind) to run
// after the running one; it replaces (supersedes) the one queued before.
func (ds *appDeployments) enqueue(image, fromImage string, trigger deploy.Trigger, kind deploy.Kind) DeployReply {
	e := ds.env
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if ds.queued != nil {
		ds.endQueued(ctx, deploy.StatusSuperseded, "superseded by a newer request for "+image)
	}
	d := deploy.Deployment{App: e.cfg.Name, FromImage: fromImage, ToImage: image,
		TriggerSource: trigger, Kind: kind, Status: deploy.StatusQueued, StartedAt: time.Now().UTC()}
	if err := e.deps.store.CreateDeployment(ctx, &d); err != nil {
		return DeployReply{Err: fmt.Errorf("record deployment: %w", err)}
	}
	ds.queued = &d
	e.log.Info("deployment queued", keyDeploymentID, d.DeploymentID, keyImage, image)
	e.event(d.DeploymentID, deploy.EventDeploymentQueued,
		fmt.Sprintf("deployment %d of %s queued behind deployment %d", d.DeploymentID, image, ds.current.id()),
		map[string]any{"status": d.Status, "image": image})
	return DeployReply{Response: deploy.Response{DeploymentID: d.DeploymentID, Status: deploy.AnswerQueued}}
}

// endQueued ends the queued deployment with a final status.
func (ds *appDeployments) endQueued(ctx context.Context, status deploy.Status, why string) {
	e, q := ds.env, ds.queued
	ds.queued = nil
	q.End(status, why, time.Now().UTC())
	if err := e.deps.store.UpdateDeployment(ctx, q); err != nil {
		e.log.Error("update deployment", keyDeploymentID, q.DeploymentID, keyErr, err)
	}
	e.event(q.DeploymentID, status.Event(), fmt.Sprintf("deployment %d of %s %s: %s", q.DeploymentID, q.ToImage, status, why),
		map[string]any{"status": status, "error": why, "duration_ms": q.DurationMS})
}

// queuedOf returns the ID of the queued deployment when it deploys image.
func (ds *appDeployments) queuedOf(image string) (int64, bool) {
	if ds.queued == nil || ds.queued.ToImage != image {
		return 0, false
	}
	return ds.queued.DeploymentID, true
}

// takeQueued takes the queued request, if any, to begin it.
func (ds *appDeployments) takeQueued() *deploy.Deployment {
	q := ds.queued
	ds.queued = nil
	return q
}
