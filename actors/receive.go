package actors

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/store"
)

// Receive handles every message of the app actor.
func (a *appActor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case actor.Started:
		a.started(c)
	case actor.Stopped:
		a.stopped()

	// Requests, through the bridge; each is answered once.
	case Deploy:
		c.Respond(a.request(func() DeployReply { return a.onDeploy(c, msg.Image, msg.Trigger) }))
	case Rollback:
		c.Respond(a.request(func() DeployReply { return a.onRollback(c, msg.Trigger) }))
	case Switch:
		c.Respond(a.request(func() DeployReply { return a.onSwitch(c, msg.Color) }))
	case GetStatus:
		c.Respond(StatusReply{Status: a.status()})
	case GetActiveContainer:
		c.Respond(a.activeContainer())

	// From the supervisor and the System (pause.go).
	case updateConfig:
		a.onUpdateConfig(c, msg.cfg)
	case retire:
		a.retired = true
	case setPaused:
		a.onSetPaused(c, msg.on)
	case awaitQuiet:
		a.onAwaitQuiet(c)
	case quietTimeout:
		a.onQuietTimeout(msg)
	case awaitReady:
		a.gate.awaitReady(c)
	case shutdownTo:
		a.onShutdown(c, msg.ctx)

	// Image retention (images.go): a pass ends, also one a pause cut short.
	case imagesPruned:
		a.onImagesPruned(msg)

	default:
		if !a.gate.drives() {
			return // Docker work and health checks are another process's now, or over
		}
		a.driving(c, msg)
	}
}

// request runs a request that changes the app, unless a pause or the stop
// refuses it.
func (a *appActor) request(f func() DeployReply) DeployReply {
	if a.gate.refuses() {
		return DeployReply{Err: errBusy}
	}
	return f()
}

// driving handles what Docker, the health checks and the deployment's steps
// report: the messages of the driving process.
func (a *appActor) driving(c *actor.Context, msg any) {
	switch msg := msg.(type) {
	// What Docker says (adopt.go, exits.go, container.go).
	case adoptResult:
		a.onAdopt(c, msg)
	case reconcileTick:
		a.onReconcileTick()
	case listed:
		a.onListed(c, msg)
	case reconcileResult:
		a.onReconcile(c, msg)
	case opDone:
		a.onOpDone(c, msg)
	case containerEvent:
		a.onContainerEvent(c, msg.ev)
	case dockerResync:
		a.resync(c)
	case exitInspected:
		a.onExitInspected(c, msg)
	case exitDue:
		a.onExitDue(c, msg)
	case reviveDue:
		a.onReviveDue(msg)
	case reviveInspected:
		a.onReviveInspected(msg)

	// Health checks (monitor.go).
	case healthResult:
		a.onHealth(c, msg)
	case childFailed:
		a.onMonitorFailed(c, msg)

	// The running deployment (run.go).
	case stepDone:
		a.onStep(c, msg)
	}
}

// started reads the app's state from the store, serves from it at once and
// asks Docker for the containers (adoption corrects what the store said).
func (a *appActor) started(c *actor.Context) {
	a.eng, a.self = c.Engine(), c.PID()
	a.metrics = a.deps.metrics.App(a.cfg.Name)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	st, err := a.deps.store.GetApp(ctx, a.cfg.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st = store.AppState{Name: a.cfg.Name}
	case err != nil:
		a.log.Error("read app state", keyErr, err)
		st = store.AppState{Name: a.cfg.Name}
	}
	a.state = st
	if last, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, []deploy.Status{deploy.StatusCompleted}, 1); err == nil && len(last) > 0 {
		a.lastCompleted = last[0].DeploymentID
	}
	a.boot = a.markInterrupted(ctx, "the supervisor stopped during this deployment", true)

	if a.state.ActiveColor != "" {
		a.containers.assume(a.state.ActiveColor, a.state.CurrentImage)
	}
	a.startProxy()
	a.containers.list() // adoption (adopt.go), then the supervisor's reconcile (reconcile.go)
}

func (a *appActor) stopped() {
	// A running or queued deployment stays as it is in the store: the next
	// start finds it, marks it interrupted and resumes the newest request.
	// An app removed from the configs has no next start: end them now.
	a.images.cancel()
	if r := a.run; r != nil && !a.gate.closed() {
		r.halt()
		a.log.Warn("stopping in the middle of a deployment", keyDeploymentID, r.dep.DeploymentID, keyStatus, r.dep.Status)
	}
	if a.retired {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.markInterrupted(ctx, "the app was removed from the configs", false)
		cancel()
	}
	a.revival.cancel()
	a.gate.answer(errors.New("the app actor stopped"))
	switch {
	case a.proxy == nil || a.gate.closed(): // the shutdown drains it (pause.go)
	case a.retired: // removed from the configs: its requests finish as on a stop
		dc := a.cfg.Deployment
		pctx, pcancel := context.WithTimeout(context.Background(), max(dc.DrainTimeout, dc.WebSocketDrainTimeout)+5*time.Second)
		_ = a.proxy.Shutdown(pctx, dc.DrainTimeout, dc.WebSocketDrainTimeout)
		pcancel()
	default: // replaced after a failure: free the port for the next actor soon
		pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.proxy.Stop(pctx)
		pcancel()
	}
}

func (a *appActor) onUpdateConfig(c *actor.Context, cfg *config.App) {
	old := a.cfg
	a.cfg = cfg
	a.log.Info("config updated")
	a.deps.rec.event(cfg.Name, 0, deploy.EventConfigReloaded, "config of "+cfg.Name+" changed", nil)
	if old.Ports.Proxy != cfg.Ports.Proxy || old.Proxy.ListenAddress != cfg.Proxy.ListenAddress ||
		!reflect.DeepEqual(old.Proxy.TrustedProxies, cfg.Proxy.TrustedProxies) {
		a.startProxy()
	}
	if !reflect.DeepEqual(old.HealthCheck, cfg.HealthCheck) {
		a.ensureMonitors(c)
	}
}

// The single-driver rule's messages (pause.go).

// onSetPaused starts or ends a pause of the app's driving.
func (a *appActor) onSetPaused(c *actor.Context, on bool) {
	if !a.gate.setPaused(on, a.run != nil) {
		return
	}
	if on {
		a.quietIfIdle(c)
		return
	}
	if a.gate.wake() {
		a.resync(c)
	}
	a.gate.answer(fmt.Errorf("the pause of %s was lifted", a.cfg.Name))
}

// onAwaitQuiet answers at once when the app is quiet, else once its
// deployments ended, or with an error when they overrun their bound.
func (a *appActor) onAwaitQuiet(c *actor.Context) {
	bound := deploymentBound(a.cfg)
	if a.queued != nil {
		bound *= 2
	}
	a.gate.awaitQuiet(c, bound)
}

func (a *appActor) onQuietTimeout(msg quietTimeout) {
	if !a.gate.overran(msg) {
		return
	}
	id := int64(0)
	if a.run != nil {
		id = a.run.dep.DeploymentID
	}
	a.gate.answer(fmt.Errorf("deployment %d of %s is still running after %s: retry the upgrade once it ended",
		id, a.cfg.Name, deploymentBound(a.cfg)))
}

// onShutdown stops the app's Docker work for good (a running deployment is
// left where it is, for the next start to find) and drains its proxy: in
// flight requests up to drain_timeout, WebSockets until
// websocket_drain_timeout, then a 1001 close.
func (a *appActor) onShutdown(c *actor.Context, ctx context.Context) {
	a.gate.close()
	if r := a.run; r != nil {
		r.halt()
		a.log.Warn("stopping in the middle of a deployment", keyDeploymentID, r.dep.DeploymentID, keyStatus, r.dep.Status)
	}
	a.stopDriving(c)
	a.monitors.waitGone()
	a.gate.answer(errors.New("the supervisor is stopping"))
	done := make(chan struct{})
	p, dc := a.proxy, a.cfg.Deployment
	go func() {
		defer close(done)
		if p != nil {
			_ = p.Shutdown(ctx, dc.DrainTimeout, dc.WebSocketDrainTimeout)
		}
	}()
	c.Respond(shutdownStarted{done: done})
}

// Health checks (monitor.go).

// onHealth counts a health check (the health actor recorded it): toward
// the gate of the running deployment, or toward the active container's
// health. The health actor sends every check that can change a decision
// (healthActor), with its counts in a row.
func (a *appActor) onHealth(c *actor.Context, msg healthResult) {
	if !a.containers.checked(msg.color, msg.containerID, msg.passes, msg.failures) {
		return // a result for a container that is gone
	}
	if r := a.run; r.gating(msg.color) {
		a.gateCheck(c, r, msg.check)
		return
	}
	if msg.color == a.state.ActiveColor {
		if a.containers.activeCheck(msg.color, msg.check, a.cfg.HealthCheck) {
			a.revival.reset() // back since it died: the next death starts the backoff over
		}
		a.refreshStatus()
	}
}

// onMonitorFailed restarts the monitoring of a health actor that panicked.
func (a *appActor) onMonitorFailed(c *actor.Context, msg childFailed) {
	a.log.Error("health actor failed", "reason", msg.Reason)
	a.monitors.failed(c, msg.PID)
	a.ensureMonitors(c)
}
