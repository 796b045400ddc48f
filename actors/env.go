package actors

import (
	"log/slog"
	"net"
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
	accessLog accessLog // where the proxies write their access log
}

// accessLog is where the proxies write their access log records, and in
// which format (docs/traffic.md, "Access log"); a nil sink: none.
type accessLog struct {
	sink   proxy.Sink
	format proxy.LogFormat
}

// timers are the app actors' clocks; tests shorten the polls and fire the
// timers themselves.
type timers struct {
	after     func(d time.Duration, f func()) (stop func() bool) // runs f once after d
	crashPoll time.Duration                                      // how often a candidate is inspected during its gate
	runPoll   time.Duration                                      // how often a started container is inspected until it runs
	pruned    func(app string)                                   // when set, told that a retention pass of app ended (tests wait for it)
	// verifyTick is how often a verification window is judged and its
	// numbers updated (verify.go).
	verifyTick time.Duration
}

// Defaults of the app actors' polls. A candidate's crash during its gate is
// learnt from Docker's events at once; the poll is the safety net.
const (
	crashPollInterval  = 2 * time.Second
	runPollInterval    = 100 * time.Millisecond
	verifyTickInterval = 250 * time.Millisecond
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
	if t.verifyTick <= 0 {
		t.verifyTick = verifyTickInterval
	}
	return t
}

// env is what every part of an app actor reads and none writes: the app's
// config, the shared resources and where the actor's messages go. The actor
// sets it when it starts and when its config changes (receive.go).
type env struct {
	cfg     *config.App
	deps    deps
	log     *slog.Logger
	metrics *metrics.App // what the app counts (metrics.go)
	eng     *actor.Engine
	self    *actor.PID
	home    *actor.Context // the actor's own Context, to spawn its children: from its Receive only
}

// send sends msg to the app actor; safe from any goroutine once the actor
// started.
func (e *env) send(msg any) { e.eng.Send(e.self, msg) }

// after sends msg to the app actor once d passed, unless stop is called first.
func (e *env) after(d time.Duration, msg any) (stop func() bool) {
	eng, self := e.eng, e.self
	return e.deps.timers.after(d, func() { eng.Send(self, msg) })
}

// event records an audit event of the app (deploymentID 0: of no deployment).
func (e *env) event(deploymentID int64, typ deploy.EventType, msg string, data map[string]any) {
	e.deps.rec.event(e.cfg.Name, deploymentID, typ, msg, data)
}
