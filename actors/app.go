package actors

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/proxy"
	"github.com/bluegreen/bluegreen/store"
)

// DefaultReconcileInterval is how often the supervisor lists the containers
// and each app actor takes its own, when no deployment of it runs
// (reconcile.go).
const DefaultReconcileInterval = 5 * time.Second

// deps are the shared resources every app actor uses.
type deps struct {
	store     *store.Store
	rt        Runtime
	rec       *recorder
	log       *slog.Logger
	reconcile time.Duration
	timers    timers
	listen    func(network, addr string) (net.Listener, error) // the proxies' listeners
	metrics   *metrics.Registry
}

// timers are the app actors' clocks; tests shorten the polls and fire the
// timers themselves.
type timers struct {
	after     func(d time.Duration, f func()) (stop func() bool) // runs f once after d
	crashPoll time.Duration                                      // how often a candidate is inspected during its gate
	runPoll   time.Duration                                      // how often a started container is inspected until it runs
	pruned    func(app string)                                   // when set, told that a retention pass of app ended (tests wait for it)
}

// Defaults of the app actors' polls. A candidate's crash during its gate is
// learnt from Docker's events at once; the poll is the safety net.
const (
	crashPollInterval = 2 * time.Second
	runPollInterval   = 100 * time.Millisecond
)

// withDefaults fills in what t leaves unset.
func (t timers) withDefaults() timers {
	if t.after == nil {
		t.after = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if t.crashPoll <= 0 {
		t.crashPoll = crashPollInterval
	}
	if t.runPoll <= 0 {
		t.runPoll = runPollInterval
	}
	return t
}

// appActor owns one app: its blue and green slots, its health actors, its
// proxy listener and its deployments. Nothing else touches them.
//
// What it knows of Docker comes in by messages (adoption at start, then a
// reconcile every tick); its deployment, when one runs, is a run that moves
// through the phases of CONTRACT §4 (run.go); the app's status is derived
// from both (status.go).
type appActor struct {
	cfg     *config.App
	deps    deps
	log     *slog.Logger
	metrics *metrics.App // what the app counts (metrics.go)

	eng  *actor.Engine
	self *actor.PID

	state    store.AppState // the active color and images, and the status last recorded
	slots    map[deploy.Color]*slot
	proxy    *proxy.Proxy
	proxyErr error // the proxy cannot listen
	dockErr  error // Docker did not answer the last adoption or reconcile

	boot        *boot          // what the start found in the store, until the first adoption uses it
	interrupted map[int64]bool // the deployments the start found interrupted: their containers are removed
	adopted     bool           // the containers were read from Docker once
	adoptTried  bool           // the first adoption answered or failed
	reconciling bool           // a reconcile is in flight
	seen        [2]uint64      // the events of each color taken (reconcileResult.seen)
	revive      revival

	run           *run               // the running deployment, nil when none
	queued        *deploy.Deployment // the newest request behind it
	gen           uint64             // generation of runs and health actors
	lastCompleted int64              // the ID of the app's last completed deployment

	pruning     chan struct{}      // closed when the running retention pass ends (images.go); nil when none runs
	stopPruning context.CancelFunc // cancels it
	pruneAgain  int64              // a deployment that completed during the pass: run another after it

	retired bool // removed from the configs: stopping for good

	// The single-driver rule (pause.go): paused refuses new requests; quiet
	// (paused and no deployment left) drives nothing; closing is the stop.
	paused, quiet, closing bool
	quietWaiters           []*actor.PID
	quietGen               uint64
	stopQuietTimer         func() bool
	readyWaiters           []*actor.PID

	dyingMonitors []context.Context // health actors stopped and maybe not gone yet (monitor.go)
}

func newAppActor(cfg *config.App, d deps) actor.Producer {
	return func() actor.Receiver {
		return &appActor{cfg: cfg, deps: d, log: d.log.With(keyApp, cfg.Name)}
	}
}

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
	case Promote:
		c.Respond(a.onPromote())
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
		a.onAwaitReady(c)
	case shutdownTo:
		a.onShutdown(c, msg.ctx)

	// Image retention (images.go): a pass ends, also one a pause cut short.
	case imagesPruned:
		a.onImagesPruned(msg)

	default:
		if a.closing || a.quiet {
			return // Docker work and health checks are another process's now, or over
		}
		a.driving(c, msg)
	}
}

// request runs a request that changes the app, unless a pause or the stop
// refuses it.
func (a *appActor) request(f func() DeployReply) DeployReply {
	if a.paused || a.closing {
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
	a.slots = map[deploy.Color]*slot{}
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
		a.slots[a.state.ActiveColor] = &slot{image: a.state.CurrentImage, port: a.colorPort(a.state.ActiveColor), state: "unknown"}
	}
	a.startProxy()
	a.adopt() // then the supervisor's reconcile (reconcile.go)
}

func (a *appActor) stopped() {
	// A running or queued deployment stays as it is in the store: the next
	// start finds it, marks it interrupted and resumes the newest request.
	// An app removed from the configs has no next start: end them now.
	if a.stopPruning != nil {
		a.stopPruning()
	}
	if r := a.run; r != nil && !a.closing {
		r.halt()
		a.log.Warn("stopping in the middle of a deployment", keyDeploymentID, r.dep.DeploymentID, keyStatus, r.dep.Status)
	}
	if a.retired {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		a.markInterrupted(ctx, "the app was removed from the configs", false)
		cancel()
	}
	a.cancelRevive()
	a.answerQuiet(errors.New("the app actor stopped"))
	switch {
	case a.proxy == nil || a.closing: // the shutdown drains it (pause.go)
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

func (a *appActor) activeContainer() ContainerReply {
	s := a.slots[a.state.ActiveColor]
	if s == nil || s.id == "" {
		return ContainerReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s has no active container", a.cfg.Name)}
	}
	return ContainerReply{ID: s.id}
}

func (a *appActor) nextGen() uint64 {
	a.gen++
	return a.gen
}
