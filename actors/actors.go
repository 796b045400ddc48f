// Package actors is bluegreen's supervisor: a root actor (hollywood) spawns
// one actor per app; each app actor alone owns its blue and green
// containers, its health-check child actors and its proxy listener, and runs
// its deployments. A bridge actor turns management API calls into messages.
// System ties them together and serves the management API (api.Backend).
//
// One Docker event stream serves the process (events.go): the supervisor
// routes each event to the app actor of the container. Every container
// create, start, stop and removal of all apps takes its turn in one queue
// (queue.go), a few at once. During an upgrade of serve, Pause hands the
// driving of Docker over and Resume takes it back (pause.go: the
// single-driver rule); Stop drains every proxy with its app's timeouts.
//
// The app actor (app.go) is made of owned parts, each a type that alone
// holds and changes its state: the two colors' containers (containers.go,
// inspect.go, exits.go), the restart of a dead active container (exits.go),
// the retry of a deployment that failed while nothing serves (retry.go),
// the health actors (monitor.go), the deployments (deployments.go) and the
// running one (runstate.go, run.go, phases.go), image retention
// (images.go), the single-driver gate (pause.go), the app's row in the
// store (state.go), its proxy (listener.go) and its traffic mode
// (traffic.go: pause, maintenance, resume; the outage hold follows the
// active container). Its Receive (receive.go)
// hands each message to a part or to a flow across parts: adoption
// (adopt.go), the reconcile (reconcile.go), requests (request.go), Docker's
// events (events.go), a run's requests to the actor (deploying.go); what
// follows a change (follow.go) and the derived status (status.go) sit under
// them. The supervisor's own parts are its event stream (events.go), its
// reconcile list (reconcile.go) and its prune of health checks (checks.go).
package actors

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/proxy"
	"github.com/bluegreen/bluegreen/store"
)

// DefaultRequestTimeout bounds how long an API call waits for an actor's answer.
const DefaultRequestTimeout = 15 * time.Second

// Options configure a System.
type Options struct {
	Load              func() ([]*config.App, error) // reads the app configs (serve: config.LoadDir)
	Store             *store.Store
	Runtime           Runtime
	Logger            *slog.Logger
	ReconcileInterval time.Duration     // default DefaultReconcileInterval
	RequestTimeout    time.Duration     // default DefaultRequestTimeout
	Metrics           *metrics.Registry // where the apps count (GET /metrics); nil: a new one
	// Listen opens (or takes over after an upgrade) the listener of an app's
	// proxy; nil: net.Listen.
	Listen  func(network, addr string) (net.Listener, error)
	Version string // the build's version, for GET /health
	// DockerConcurrency is how many container creates, starts, stops and
	// removals of all apps run at once (queue.go); 0:
	// DefaultDockerConcurrency, below 0: no bound.
	DockerConcurrency int
	// AccessLog takes the proxies' access log records (docs/traffic.md,
	// "Access log"), in AccessLogFormat; nil: no access log. When it
	// counts the records it drops (metrics.DropCounter, as a
	// logsink.Sink does), bluegreen_access_log_dropped_total reads it.
	AccessLog       proxy.Sink
	AccessLogFormat proxy.LogFormat

	timers timers // tests: the app actors' clocks
}

// System is the running supervisor.
type System struct {
	eng     *actor.Engine
	root    *actor.PID
	bridge  *actor.PID
	store   *store.Store
	rt      Runtime
	hub     *hub
	rec     *recorder
	log     *slog.Logger
	timeout time.Duration
	metrics *metrics.Registry
	version string
	started time.Time

	paused     atomic.Bool // Pause is in effect: requests that change apps are refused
	handedOver atomic.Bool // another process serves now: Stop records nothing
	stopOnce   sync.Once
}

// Start loads the configs and starts the supervisor, which adopts running
// containers and deploys apps that have no state yet. Invalid configs are an
// error (config.Errors) and nothing starts.
func Start(o Options) (*System, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.DockerConcurrency == 0 {
		o.DockerConcurrency = DefaultDockerConcurrency
	}
	cfgs, err := o.Load()
	if err != nil {
		return nil, err
	}
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("start actor engine: %w", err)
	}
	h := newHub()
	rec := &recorder{store: o.Store, hub: h, log: o.Logger, metrics: o.Metrics}
	rt := newQueuedRuntime(o.Runtime, max(o.DockerConcurrency, 0)) // every Docker call of the process goes through it
	d := deps{store: o.Store, rt: rt, rec: rec, log: o.Logger, reconcile: o.ReconcileInterval, timers: o.timers.withDefaults(),
		listen: o.Listen, metrics: o.Metrics, accessLog: accessLog{sink: o.AccessLog, format: o.AccessLogFormat}}
	if dc, ok := o.AccessLog.(metrics.DropCounter); ok {
		o.Metrics.SetAccessLog(dc)
	}
	s := &System{eng: eng, store: o.Store, rt: rt, hub: h, rec: rec, log: o.Logger, timeout: o.RequestTimeout,
		version: o.Version, started: time.Now().UTC(), metrics: o.Metrics}
	names := make([]string, 0, len(cfgs))
	for _, c := range cfgs {
		names = append(names, c.Name)
	}
	rec.event("", 0, deploy.EventSupervisorStarted, fmt.Sprintf("supervisor started with %d app(s)", len(cfgs)),
		map[string]any{"apps": names})
	s.root = eng.Spawn(newSupervisor(cfgs, o.Load, d), "supervisor", actor.WithID("root"),
		actor.WithMiddleware(recoverMiddleware("supervisor")))
	s.bridge = eng.Spawn(newBridge(s.root), "bridge", actor.WithID("api"),
		actor.WithMiddleware(recoverMiddleware("bridge")))
	eng.Send(s.root, setBridge{pid: s.bridge})
	// The supervisor answers after it told the bridge where the apps are, so
	// API calls made once Start returns find them.
	if _, err := eng.Request(s.root, ListApps{}, o.RequestTimeout).Result(); err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	return s, nil
}

// Stop stops the supervisor; the containers keep running. Every app stops
// its Docker work at once (a running deployment is left for the next start
// to find) and drains its proxy: requests in flight finish for up to the
// app's drain_timeout, WebSockets run until websocket_drain_timeout and get a
// 1001 close; all apps drain at the same time. Then the actors stop and
// supervisor.stopped is recorded (unless MarkHandedOver said another process
// serves now). ctx bounds it all: when it ends, what is left is cut. Safe to
// call twice.
func (s *System) Stop(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		var dones []<-chan struct{}
		for name, pid := range s.appPIDs() {
			v, rerr := s.eng.Request(pid, shutdownTo{ctx: ctx}, s.timeout).Result()
			if rerr != nil {
				s.log.Error("stop app", keyApp, name, keyErr, rerr)
				continue
			}
			dones = append(dones, v.(shutdownStarted).done)
		}
		for _, done := range dones {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
		<-s.eng.PoisonCtx(ctx, s.bridge).Done()
		<-s.eng.PoisonCtx(ctx, s.root).Done()
		if ctx.Err() != nil {
			err = fmt.Errorf("stop supervisor: %w", ctx.Err())
		}
		if !s.handedOver.Load() {
			s.rec.event("", 0, deploy.EventSupervisorStopped, "supervisor stopped", nil)
		}
	})
	return err
}

// MarkHandedOver records that another process serves now (an upgrade):
// Stop writes nothing to the store.
func (s *System) MarkHandedOver() { s.handedOver.Store(true) }

// Record adds a supervisor event (no app) to the audit trail and returns
// its ID.
func (s *System) Record(typ deploy.EventType, msg string, data map[string]any) int64 {
	return s.rec.event("", 0, typ, msg, data)
}

// Version is the build's version as given in Options.
func (s *System) Version() string { return s.version }

// PID is the process's ID, which GET /health shows.
func (s *System) PID() int { return os.Getpid() }

// appPIDs asks the supervisor for the app actors; none when it does not
// answer.
func (s *System) appPIDs() map[string]*actor.PID {
	v, err := s.eng.Request(s.root, listPIDs{}, s.timeout).Result()
	if err != nil {
		s.log.Error("list the app actors", keyErr, err)
		return nil
	}
	return v.(pidsReply).apps
}

// ask sends msg through the bridge and waits for the answer.
func (s *System) ask(msg any) (any, error) {
	v, err := s.eng.Request(s.bridge, msg, s.timeout).Result()
	if err != nil {
		return nil, deploy.Errorf(deploy.ETIMEOUT, "the supervisor did not answer within %s: try again", s.timeout)
	}
	return v, nil
}

// pingDocker fails with EDOCKERUNAVAILABLE when Docker is unreachable.
func (s *System) pingDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.rt.Ping(ctx); err != nil {
		return deploy.Errorf(deploy.EDOCKERUNAVAILABLE, "%s", err.Error())
	}
	return nil
}
