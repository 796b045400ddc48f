package actors

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// Receive handles every message of the app actor: it hands each to the
// part, or the flow across parts, that it concerns.
func (a *appActor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case actor.Started:
		a.started(c)
	case actor.Stopped:
		a.stopped()

	// Requests, through the bridge; each is answered once (request.go).
	case Deploy:
		c.Respond(a.request(func() DeployReply { return a.onDeploy(msg.Image, msg.Trigger) }))
	case Rollback:
		c.Respond(a.request(func() DeployReply { return a.onRollback(msg.Trigger) }))
	case Switch:
		c.Respond(a.request(func() DeployReply { return a.onSwitch(msg.Color) }))
	case Promote:
		c.Respond(a.onPromote())
	case GetStatus:
		c.Respond(StatusReply{Status: a.status()})
	case GetActiveContainer:
		c.Respond(a.activeContainer())
	case SetTraffic:
		c.Respond(a.onSetTraffic(msg.Change))

	// From the supervisor and the System.
	case updateConfig:
		a.onUpdateConfig(msg.cfg)
	case retire:
		a.retired = true
	case setPaused: // the single-driver rule (pause.go)
		a.onSetPaused(msg.on)
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
			// Docker work and health checks are another process's now, or
			// over; but what the actor's own work in flight did is still
			// taken into its parts, so that they are right when it drives
			// again (a failed upgrade's resume).
			a.settleQuiet(msg)
			return
		}
		a.driving(msg)
	}
}

// settleQuiet takes, while the app does not drive Docker, the end of work
// the actor began before: a read of both colors is over (another may
// begin), a standby's restore or removal is recorded, a container's start
// or removal is in its slot. Nothing follows from them until the app
// drives again; every other message is dropped.
func (a *appActor) settleQuiet(msg any) {
	switch msg := msg.(type) {
	case reconcileResult:
		a.containers.readDone()
	case standbyDone:
		a.onStandbyDone(msg)
	case opDone:
		a.containers.opDone(msg, a.record.active())
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
func (a *appActor) driving(msg any) {
	switch msg := msg.(type) {
	// What Docker says: adoption (adopt.go), the reconcile (reconcile.go),
	// events and exits (events.go).
	case adoptResult:
		a.onAdopt(msg)
	case reconcileTick:
		a.onReconcileTick()
	case listed:
		a.onListed(msg)
	case reconcileResult:
		a.onReconcile(msg)
	case containerEvent:
		a.onContainerEvent(msg.ev)
	case dockerResync:
		a.resync()
	case opDone:
		a.onOpDone(msg)
	case exitInspected:
		a.onExitInspected(msg)
	case exitDue:
		a.onExitDue(msg)
	case standbyDone:
		a.onStandbyDone(msg)
	case reviveDue:
		a.onReviveDue(msg)
	case reviveInspected:
		a.onReviveInspected(msg)
	case retryDue: // a failed deployment's retry (retry.go)
		a.onRetryDue(msg)

	// Health checks (monitor.go).
	case healthResult:
		a.onHealth(msg)
	case childFailed:
		a.log.Error("health actor failed", "reason", msg.Reason)
		a.monitors.failed(msg.PID)
		a.ensureMonitors()

	// The running deployment (deploying.go, run.go, verify.go).
	case stepDone:
		a.onStep(msg)
	case windowDue:
		a.onWindowDue(msg)
	}
}

// started reads the app's state from the store, serves from it at once and
// asks Docker for the containers (adoption corrects what the store said).
func (a *appActor) started(c *actor.Context) {
	a.eng, a.self, a.home = c.Engine(), c.PID(), c
	a.metrics = a.deps.metrics.App(a.cfg.Name)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	a.record.load(ctx)
	a.traffic.load(ctx)
	a.listener.setTraffic(a.traffic.mode()) // told before the proxy listens: it holds from the first request
	active := a.record.active()
	a.deployments.load(ctx, active, a.record.current())
	if active != "" {
		a.containers.assume(active, a.record.current())
	}
	a.startProxy()
	a.containers.list() // adoption (adopt.go), then the supervisor's reconcile (reconcile.go)
}

func (a *appActor) stopped() {
	// A running or queued deployment stays as it is in the store: the next
	// start finds it, marks it interrupted and resumes the newest request.
	// An app removed from the configs has no next start: end them now.
	a.images.cancel()
	if r := a.deployments.running(); r != nil && !a.gate.closed() {
		a.halt(r)
	}
	if a.retired {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.deployments.retire(ctx)
		cancel()
	}
	a.revival.cancel()
	a.retry.reset()
	a.gate.answer(errors.New("the app actor stopped"))
	a.gate.markReady() // who waits for its first adoption waits no longer
	switch {
	case a.gate.closed(): // the shutdown drains it
	case a.retired && a.gate.drives():
		a.retireApp() // retire.go
	default:
		a.listener.close(a.retired)
	}
}

// halt stops the running deployment where it is, for the next start to find.
func (a *appActor) halt(r *deploymentRun) {
	r.halt()
	d := r.deployment()
	a.log.Warn("stopping in the middle of a deployment", keyDeploymentID, d.DeploymentID, keyStatus, d.Status)
}

func (a *appActor) onUpdateConfig(cfg *config.App) {
	old := a.cfg
	a.cfg = cfg
	a.log.Info("config updated")
	a.event(0, deploy.EventConfigReloaded, "config of "+cfg.Name+" changed", nil)
	if old.Ports.Proxy != cfg.Ports.Proxy || old.Proxy.ListenAddress != cfg.Proxy.ListenAddress ||
		!reflect.DeepEqual(old.Proxy.TrustedProxies, cfg.Proxy.TrustedProxies) {
		a.startProxy()
	} else {
		a.listener.configure(old) // the proxy's settings, and a maintenance's page
	}
	if !reflect.DeepEqual(old.HealthCheck, cfg.HealthCheck) {
		a.ensureMonitors()
	}
}

// The single-driver rule's messages (pause.go).

// onSetPaused starts or ends a pause of the app's driving.
func (a *appActor) onSetPaused(on bool) {
	if !a.gate.setPaused(on, a.deployments.running() != nil) {
		return
	}
	if on {
		a.quietIfIdle()
		return
	}
	if a.gate.wake() {
		a.resync()
	}
	a.gate.answer(fmt.Errorf("the pause of %s was lifted", a.cfg.Name))
}

// onAwaitQuiet answers at once when the app is quiet, else once its
// deployments ended, or with an error when they overrun their bound.
func (a *appActor) onAwaitQuiet(c *actor.Context) {
	// The running deployment's verification windows count as they are
	// left (verify.go); a queued one may watch all of its own.
	bound := deploymentBound(a.cfg) - verifyAllowance(a.cfg) + a.deployments.running().windowsLeft()
	if a.deployments.hasQueued() {
		bound += deploymentBound(a.cfg)
	}
	a.gate.awaitQuiet(c, bound)
}

func (a *appActor) onQuietTimeout(msg quietTimeout) {
	if !a.gate.overran(msg) {
		return
	}
	id := int64(0)
	if r := a.deployments.running(); r != nil {
		id = r.id()
	}
	a.gate.answer(fmt.Errorf("deployment %d of %s is still running after %s: retry the upgrade once it ended",
		id, a.cfg.Name, a.gate.quietBound))
}

// onShutdown stops the app's Docker work for good (a running deployment is
// left where it is, for the next start to find) and drains its proxy: in
// flight requests up to drain_timeout, WebSockets until
// websocket_drain_timeout, then a 1001 close.
func (a *appActor) onShutdown(c *actor.Context, ctx context.Context) {
	a.gate.close()
	if r := a.deployments.running(); r != nil {
		a.halt(r)
	}
	a.stopDriving()
	a.monitors.waitGone()
	a.gate.answer(errors.New("the supervisor is stopping"))
	c.Respond(shutdownStarted{done: a.listener.shutdown(ctx)})
}

// onHealth counts a health check (the health actor recorded it): toward
// the gate of the running deployment, or toward the active container's
// health. The health actor sends every check that can change a decision
// (healthActor), with its counts in a row.
func (a *appActor) onHealth(msg healthResult) {
	if !a.containers.checked(msg.color, msg.containerID, msg.passes, msg.failures) {
		return // a result for a container that is gone
	}
	if r := a.deployments.running(); r.gating(msg.color) {
		r.gateCheck(msg.check)
		return
	} else if r.inWindow(msg.color) {
		r.windowCheck(msg.check, msg.failures, a.cfg.HealthCheck) // may move the traffic back: active changes
	}
	if msg.color == a.record.active() {
		if msg.check.Success {
			a.listener.containerHealthy(msg.color, msg.check.At) // requests held for it by the outage hold go
		}
		if a.containers.activeCheck(msg.color, msg.check, a.cfg.HealthCheck) {
			a.revival.reset() // back since it died: the next death starts the backoff over
		}
		a.refreshStatus()
	}
}
