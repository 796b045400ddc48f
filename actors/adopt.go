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
// last supervisor left unfinished, now marked interrupted.
type boot struct {
	resume      *deploy.Deployment // the newest of them: deployed again after adoption
	interrupted map[int64]bool     // the IDs of them all
}

// markInterrupted ends every unfinished deployment of this app found in the
// store, and says which they were.
func (a *appActor) markInterrupted(ctx context.Context, why string) *boot {
	ds, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, deploy.RunningStatuses, 100)
	if err != nil {
		a.log.Error("read unfinished deployments", keyErr, err)
		return nil
	}
	b := &boot{interrupted: map[int64]bool{}}
	for _, d := range ds {
		b.interrupted[d.DeploymentID] = true
		if b.resume == nil {
			b.resume = &d
		}
		d.End(deploy.StatusInterrupted, why, time.Now().UTC())
		if err := a.deps.store.UpdateDeployment(ctx, &d); err != nil {
			a.log.Error("mark deployment interrupted", keyDeploymentID, d.DeploymentID, keyErr, err)
			continue
		}
		a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentInterrupted,
			fmt.Sprintf("deployment %d of %s interrupted: %s", d.DeploymentID, d.ToImage, why),
			map[string]any{"status": d.Status, "error": why, "duration_ms": d.DurationMS})
	}
	return b
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
		return
	}
	a.adoptAll(msg.containers)
	active := a.state.ActiveColor
	// A candidate of an interrupted deployment never took traffic: remove it.
	if other := active.Other(); active != "" && b != nil {
		if s := a.slots[other]; s != nil && b.interrupted[s.deploymentID] {
			a.removeSlot(other, "left by an interrupted deployment")
		}
	}
	a.log.Info("adopted containers", "count", len(a.slots), "active_color", active, keyImage, a.state.CurrentImage)
	var resume *deploy.Deployment
	if b != nil {
		resume = b.resume
	}
	a.bringUp(c, resume)
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
// starts a stopped active container, and deploys again what a stop
// interrupted (resume).
func (a *appActor) bringUp(c *actor.Context, resume *deploy.Deployment) {
	active := a.state.ActiveColor
	image, trigger := a.cfg.Image, deploy.TriggerConfig // first start: the config's image
	if a.state.CurrentImage != "" {
		image = a.state.CurrentImage
	}
	if resume != nil { // what the operator asked for last
		image, trigger = resume.ToImage, resume.TriggerSource
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
	if resume != nil && image != a.state.CurrentImage {
		a.log.Info("resuming the deployment the stop interrupted", keyImage, image)
		a.startDeployment(c, image, trigger, "")
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
	eng, self, rt := a.eng, a.self, a.deps.rt
	names := map[deploy.Color]string{deploy.Blue: a.containerName(deploy.Blue), deploy.Green: a.containerName(deploy.Green)}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Send(self, inspectColors(ctx, rt, names))
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
	for _, color := range deploy.Colors {
		a.reconcileColor(color, msg.containers[color])
	}
	a.ensureMonitors(c)
	a.refreshStatus()
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
		a.log.Info("container state changed", keyColor, color, keyFrom, s.state, keyTo, ct.State)
		if color == a.state.ActiveColor && ct.State != "running" {
			a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerExited,
				fmt.Sprintf("active %s container %s is %s (exit code %d)", color, short(ct.ID), ct.State, ct.ExitCode),
				map[string]any{"color": color, "state": ct.State, "exit_code": ct.ExitCode})
		}
		s.state = ct.State
		if !s.running() {
			s.resetHealth()
		}
		a.saveContainer(color)
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
