package actors

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/probe"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/store"
)

// healthResult is a probe's result, sent by a health actor to its app
// actor, with the container's consecutive passed and failed checks.
type healthResult struct {
	color            deploy.Color
	containerID      string
	check            deploy.HealthCheck
	passes, failures int
}

// healthActor probes one container's health endpoint at 127.0.0.1:port every
// interval, with a probe.Prober (internal/probe: the HTTP exchange, its
// limits and its kept connection). The probes run one after another in one goroutine of the
// actor's (started in Started, waited for in Stopped): a tick that comes
// while a probe is running is dropped, so a hanging endpoint never piles up
// work. One goroutine for the actor's life, rather than a timer message, a
// goroutine and a reply message per probe, keeps a check to a ticker
// wake-up and the socket's (its grown stack is kept too).
//
// The loop records every check itself (the metrics, the store's batch:
// health recorder) and counts the passes and failures in a row; it sends its
// parent, the app actor, only the results that can change a decision:
// every failure, every pass up to healthy_threshold in a row, every
// heartbeatChecks-th check, and every pass while the app's proxy holds
// requests (eager: the outage hold waits for a passed check,
// docs/traffic.md). A healthy container's steady passes otherwise cost no
// message, no wake-up of the app actor; the consecutive passes it shows
// are read from tally. The ticks of all health actors with one interval
// fall on a common grid (healthGrid), so the process wakes once for many
// checks rather than once for each.
type healthActor struct {
	color       deploy.Color
	containerID string
	hc          config.HealthCheck
	prober      *probe.Prober
	rec         healthRecorder
	tally       *atomic.Int64   // the passes in a row, for the app actor's status
	eager       func() bool     // true: send every passed check (the app's proxy holds requests, maybe for one)
	startingFor time.Duration   // how long failed checks before the first pass are starting (healthTarget)
	quit        context.Context // healthTarget.quit (nil: none)

	// Owned by the probe loop.
	passes, failures int       // checks passed (failed, not starting) in a row
	checks           uint64    // checks made
	passed           bool      // a check passed
	began            time.Time // the first check

	cancel context.CancelFunc
	done   chan struct{} // closed when the probe loop ended
}

// healthRecorder records each check of one app's container.
type healthRecorder struct {
	app     string
	metrics *metrics.App
	store   *store.Store
	log     *slog.Logger
}

func (r healthRecorder) record(color deploy.Color, containerID string, check deploy.HealthCheck) {
	if r.metrics != nil {
		r.metrics.HealthChecked(color, check)
	}
	if r.store == nil {
		return
	}
	// Written with the next batch (store.HealthFlushInterval).
	if err := r.store.QueueHealthCheck(r.app, color, containerID, check); err != nil {
		r.log.Error("record health check", keyErr, err)
	}
}

// heartbeatChecks: a health actor sends at least every heartbeatChecks-th
// result, so the app actor's counts never lag far behind.
const heartbeatChecks = 16

// healthGrid is the spacing of the grid the health checks' ticks fall on
// (at most the interval).
const healthGrid = 50 * time.Millisecond

// newHealthActor makes the health actor of color's container t; while
// eager (nil: never) reports true, it sends every passed check too.
func newHealthActor(color deploy.Color, t healthTarget, hc config.HealthCheck, rec healthRecorder, tally *atomic.Int64, eager func() bool) actor.Producer {
	return func() actor.Receiver {
		return &healthActor{color: color, containerID: t.id, hc: hc, prober: probe.New(t.port, hc), rec: rec, tally: tally,
			startingFor: t.starting, eager: eager, quit: t.quit}
	}
}

func (h *healthActor) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case actor.Started:
		if h.cancel != nil {
			return
		}
		parent := h.quit
		if parent == nil {
			parent = context.Background()
		}
		ctx, cancel := context.WithCancel(parent)
		h.cancel, h.done = cancel, make(chan struct{})
		go h.loop(ctx, c.Engine(), c.Parent())
	case actor.Stopped:
		if h.cancel == nil {
			return
		}
		// Closing the connection ends a running probe at once; no result
		// is sent after Stopped.
		h.cancel()
		h.prober.Close()
		select {
		case <-h.done:
		case <-time.After(h.hc.Timeout + time.Second):
		}
	}
}

// loop probes now and then every interval until ctx ends; from the second
// check on, on the grid.
func (h *healthActor) loop(ctx context.Context, eng *actor.Engine, parent *actor.PID) {
	defer close(h.done)
	interval := max(h.hc.Interval, time.Millisecond)
	h.began = time.Now()
	h.probe(ctx, eng, parent)
	// The second check waits for the grid: at most a grid step late.
	grid := min(interval, healthGrid)
	next := time.Now().Add(interval)
	if at := next.Truncate(grid); at.Before(next) {
		next = at.Add(grid)
	}
	wait := time.NewTimer(time.Until(next))
	select {
	case <-ctx.Done():
		wait.Stop()
		return
	case <-wait.C:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.probe(ctx, eng, parent)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe makes one check, records it and sends the parent what it needs. A
// failed check of a container that has not passed one since it started
// (within startingFor) is starting, not a failure: Docker's port proxy
// accepts before the app listens (docs/deployments.md, "Health checks").
func (h *healthActor) probe(ctx context.Context, eng *actor.Engine, parent *actor.PID) {
	check := h.prober.Check(ctx)
	if ctx.Err() != nil {
		return
	}
	check.Starting = !check.Success && !h.passed && time.Since(h.began) < h.startingFor
	h.rec.record(h.color, h.containerID, check)
	switch {
	case check.Success:
		h.passes, h.failures, h.passed = h.passes+1, 0, true
	case check.Starting:
		h.passes = 0
	default:
		h.passes, h.failures = 0, h.failures+1
	}
	h.tally.Store(int64(h.passes))
	h.checks++
	if !check.Success || h.passes <= h.hc.HealthyThreshold || h.checks%heartbeatChecks == 0 || (h.eager != nil && h.eager()) {
		eng.Send(parent, healthResult{color: h.color, containerID: h.containerID, check: check, passes: h.passes, failures: h.failures})
	}
}

// healthTarget is a container to check: its ID and published port, and
// for how long its failed checks before its first pass are starting (0: a
// container that passed before; docs/deployments.md, "Health checks").
type healthTarget struct {
	id       string
	port     int
	starting time.Duration
	// quit, canceled when the app actor stops the watch, ends the check
	// in flight and any record of it before the health actor takes its
	// stop: the container may be stopped right after (nil: the stop only).
	quit context.Context
}
