package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
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

// adopt lists the app's containers in the background (adoptResult).
func (a *appActor) adopt() {
	eng, self, rt, name := a.eng, a.self, a.deps.rt, a.cfg.Name
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs, err := rt.List(ctx, map[string]string{LabelApp: name})
		eng.Send(self, adoptResult{containers: cs, err: err})
	}()
}

// onAdopt takes over the containers Docker listed, then brings the app to
// what it should run: the active container started and routed, a first
// deployment, or the deployment a stop interrupted.
func (a *appActor) onAdopt(c *actor.Context, msg adoptResult) {
	defer a.gate.markReady()
	if msg.err != nil {
		// Route to the last known active color anyway; the tick retries.
		a.dockerDown(msg.err, "docker unreachable: serving from the last known state")
		return
	}
	a.dockErr = nil
	a.adopted = true
	b := a.boot
	a.boot = nil
	if a.run != nil {
		// A deployment began before adoption answered: it owns its color and
		// its decisions; take only the other color's container.
		for _, ct := range msg.containers {
			if color := deploy.Color(ct.Labels[LabelColor]); color != a.run.color && ct.Name == a.containerName(color) && a.slots[color] == nil {
				a.slots[color] = &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
			}
		}
		if b != nil && b.finish != nil {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			a.endFound(ctx, b.finish, deploy.StatusInterrupted, "a new deployment began before it could be finished")
			cancel()
		}
		return
	}
	a.adoptAll(msg.containers)
	active := a.state.ActiveColor
	if b != nil {
		a.interrupted = b.interrupted
	}
	a.removeInterruptedCandidate()
	a.log.Info("adopted containers", "count", len(a.slots), "active_color", active, keyImage, a.state.CurrentImage)
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
	if s := a.slots[other]; s != nil && a.interrupted[s.deploymentID] {
		a.removeSlot(other, "left by an interrupted deployment")
	}
}

// adoptAll makes the app's slots the containers listed (those named and
// labelled as bluegreen names them).
func (a *appActor) adoptAll(cs []docker.Container) {
	a.slots = map[deploy.Color]*slot{}
	for _, ct := range cs {
		color := deploy.Color(ct.Labels[LabelColor])
		if !color.Valid() || ct.Name != a.containerName(color) {
			continue
		}
		a.slots[color] = a.slotOf(color, ct)
		a.saveContainer(color)
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
	if b.finish != nil && a.slots[active] == nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.endFound(ctx, b.finish, deploy.StatusInterrupted, "the container it switched to is gone")
		cancel()
		b.finish = nil
	}
	switch s := a.slots[active]; {
	case active == "":
		a.startDeployment(c, image, trigger, "")
		return
	case s == nil:
		a.log.Warn("active container is gone: deploying again", keyColor, active, keyImage, image)
		a.startDeployment(c, image, trigger, "")
		return
	case !s.running():
		a.log.Warn("active container is not running: starting it", keyColor, active, "state", s.state)
		a.startContainerOp(active)
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

// onReconcileTick retries what failed (the proxy listener, adoption) and,
// when no deployment runs, re-reads both colors' containers.
func (a *appActor) onReconcileTick() {
	if a.proxy == nil {
		a.startProxy()
	}
	if !a.adopted {
		a.adopt()
		return
	}
	if a.run != nil || a.reconciling {
		return
	}
	a.reconciling = true
	eng, self, rt, seen := a.eng, a.self, a.deps.rt, a.seen
	names := map[deploy.Color]string{deploy.Blue: a.containerName(deploy.Blue), deploy.Green: a.containerName(deploy.Green)}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res := inspectColors(ctx, rt, names)
		res.seen = seen
		eng.Send(self, res)
	}()
}

// inspectColors reads the container of each color by its name.
func inspectColors(ctx context.Context, rt Runtime, names map[deploy.Color]string) reconcileResult {
	res := reconcileResult{containers: map[deploy.Color]*docker.Container{}}
	for color, name := range names {
		ct, err := rt.Inspect(ctx, name)
		switch {
		case errors.Is(err, docker.ErrNotFound):
			res.containers[color] = nil
		case err != nil:
			res.err = err
		default:
			res.containers[color] = &ct
		}
	}
	return res
}

func (a *appActor) onReconcile(c *actor.Context, msg reconcileResult) {
	a.reconciling = false
	if msg.err != nil {
		a.dockerDown(msg.err, "docker unreachable")
		return
	}
	if a.dockErr != nil {
		a.log.Info("docker reachable again")
		a.dockErr = nil
	}
	if a.run != nil { // a deployment started meanwhile: its view wins
		return
	}
	stale := false
	for _, color := range deploy.Colors {
		if a.seen[colorIndex(color)] != msg.seen[colorIndex(color)] {
			// An event of this color came while Docker was read: the read
			// may be older than what the actor knows. Read again.
			stale = true
			continue
		}
		a.reconcileColor(color, msg.containers[color])
	}
	a.removeInterruptedCandidate()
	a.ensureMonitors(c)
	a.refreshStatus()
	if stale {
		a.onReconcileTick()
	}
}

// colorIndex numbers the two colors (appActor.seen).
func colorIndex(color deploy.Color) int {
	if color == deploy.Green {
		return 1
	}
	return 0
}

// reconcileColor takes what Docker says of one color's container (nil: there
// is none) over what the actor knew.
func (a *appActor) reconcileColor(color deploy.Color, ct *docker.Container) {
	s := a.slots[color]
	switch {
	case ct == nil && s != nil:
		a.log.Warn("container gone", keyColor, color, keyContainer, short(s.id))
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerRemoved,
			fmt.Sprintf("%s container %s is gone", color, short(s.id)), map[string]any{"color": color})
		delete(a.slots, color)
		a.deleteContainer(color)
	case ct != nil && (s == nil || s.id != ct.ID):
		a.slots[color] = a.slotOf(color, *ct)
		a.saveContainer(color)
		if color == a.state.ActiveColor {
			a.routeActive()
		}
	case ct != nil && s.state != ct.State:
		// An event missed (the stream was down): Docker's word wins.
		a.log.Info("container state changed", keyColor, color, keyFrom, s.state, keyTo, ct.State)
		if ct.Running {
			// As its start event would: read before it, or instead of it.
			a.tookStart(color, s)
			return
		}
		was := s.running()
		s.state = ct.State
		switch {
		case was:
			s.resetHealth()
			if color == a.state.ActiveColor && !s.stopping {
				a.activeDied(color, s, ct.ExitCode)
			}
		}
		a.saveContainer(color)
	case ct != nil && color == a.state.ActiveColor && !ct.Running && !s.starting && a.revive.stop == nil &&
		a.cfg.Docker.RestartPolicy != "no" && a.run == nil:
		// Known to be down, and nothing will start it (a restart that failed
		// long ago, a pause that ended): try again.
		s.recovering = true
		a.scheduleRevive(color)
	}
}

// dockerDown records that Docker did not answer; a change is logged once.
func (a *appActor) dockerDown(err error, msg string) {
	if a.dockErr == nil {
		a.log.Error(msg, keyErr, err)
	}
	a.dockErr = err
	a.refreshStatus()
}
