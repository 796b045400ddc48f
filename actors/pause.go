package actors

import (
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// The single-driver rule. During an upgrade two processes serve side by
// side on the same sockets and share the SQLite file, but only one of them
// drives Docker and writes deployment state and health at a time. The old
// one gives that up first (Pause): it refuses new deploy, rollback, switch
// and reload requests with a retryable EUNAVAILABLE, lets the deployments that run
// (and one queued behind each) finish, bounded by their timeouts, then stops
// its Docker event stream, its reconcile ticks and health checks, and writes
// nothing more, while its proxies keep routing to the same containers. Only
// then does the new process start (and adopt, health-check and deploy).
// Should the new one fail, Resume hands the driving back: the old one
// resyncs with Docker and checks health again.

// errBusy answers requests that would change an app while an upgrade hands
// the driving over.
var errBusy = deploy.Errorf(deploy.EUNAVAILABLE, "an upgrade of bluegreen is in progress: retry in a few seconds")

// pullAllowance is what a pause allows a pull, which has no timeout of its own.
const pullAllowance = 10 * time.Minute

// deploymentBound is how long a deployment of cfg may take, by its timeouts:
// how long a pause waits for one.
func deploymentBound(cfg *config.App) time.Duration {
	d := cfg.Deployment
	return pullAllowance + d.StartupTimeout + d.HealthCheckTimeout + verifyAllowance(cfg) +
		max(d.DrainTimeout, d.WebSocketDrainTimeout) + d.StopTimeout + 30*time.Second
}

// driverGate is an app actor's side of the rule: it alone says whether the
// actor takes requests and drives Docker, and it answers those who wait for
// the app to go quiet (Pause) or to be ready (WaitReady). What makes an app
// idle (no deployment running or queued) the actor tells it.
type driverGate struct {
	env *env

	paused  bool // refuses new requests
	quiet   bool // paused and no deployment left: drives nothing
	closing bool // stopping for good: drives nothing

	quietWaiters   []*actor.PID
	quietGen       uint64
	quietBound     time.Duration // how long the wait for quiet may last
	stopQuietTimer func() bool

	ready        bool // the first adoption answered or failed
	readyWaiters []*actor.PID
}

// refuses reports whether requests that change the app are refused.
func (g *driverGate) refuses() bool { return g.paused || g.closing }

// drives reports whether the app drives Docker and checks health: Docker's
// reports and the health checks are another process's once it is quiet, and
// over once it closes.
func (g *driverGate) drives() bool { return !g.quiet && !g.closing }

// setPaused starts or lifts a pause (running: a deployment runs); it reports
// whether that changed anything.
func (g *driverGate) setPaused(on, running bool) bool {
	if on == g.paused {
		return false
	}
	g.paused = on
	if on {
		g.env.log.Info("pausing: an upgrade takes over", "deployment_running", running)
	}
	return true
}

// wake ends the quiet of a lifted pause; it reports whether the app was
// quiet, and so must read Docker again.
func (g *driverGate) wake() bool {
	if !g.quiet {
		return false
	}
	g.quiet = false
	g.env.log.Info("resuming: driving Docker again")
	return true
}

// quieten makes a paused app quiet; the actor calls it once the app is idle,
// and stops its Docker work when it reports true.
func (g *driverGate) quieten() bool {
	if !g.paused || g.quiet {
		return false
	}
	g.quiet = true
	g.env.log.Info("paused: no Docker work, health checks or state writes until the upgrade ends")
	return true
}

// close marks the app as stopping for good.
func (g *driverGate) close() { g.closing = true }

// closed reports whether the app is stopping for good.
func (g *driverGate) closed() bool { return g.closing }

// awaitQuiet answers c at once when the app is quiet (or not paused: an
// error), else once it goes quiet, or with an error when bound passes first.
func (g *driverGate) awaitQuiet(c *actor.Context, bound time.Duration) {
	if g.quiet {
		c.Respond(quietReply{})
		return
	}
	if !g.paused {
		c.Respond(quietReply{err: fmt.Errorf("%s is not paused", g.env.cfg.Name)})
		return
	}
	g.quietWaiters = append(g.quietWaiters, c.Sender())
	if g.stopQuietTimer == nil {
		g.quietGen++
		g.quietBound = bound
		g.stopQuietTimer = g.env.after(bound, quietTimeout{gen: g.quietGen})
	}
}

// overran reports whether msg ends the wait for quiet: the bound passed and
// the app is still not quiet.
func (g *driverGate) overran(msg quietTimeout) bool { return msg.gen == g.quietGen && !g.quiet }

// answer answers every waiting awaitQuiet with err.
func (g *driverGate) answer(err error) {
	for _, pid := range g.quietWaiters {
		g.env.eng.Send(pid, quietReply{err: err})
	}
	g.quietWaiters = nil
	if g.stopQuietTimer != nil {
		g.stopQuietTimer()
		g.stopQuietTimer = nil
	}
}

// awaitReady answers c once the first adoption answered or failed.
func (g *driverGate) awaitReady(c *actor.Context) {
	if g.ready || g.quiet {
		c.Respond(readyReply{})
		return
	}
	g.readyWaiters = append(g.readyWaiters, c.Sender())
}

// isReady reports whether the first adoption answered or failed.
func (g *driverGate) isReady() bool { return g.ready }

// markReady records that the first adoption answered or failed, and answers
// the waiters.
func (g *driverGate) markReady() {
	if g.ready {
		return
	}
	g.ready = true
	for _, pid := range g.readyWaiters {
		g.env.eng.Send(pid, readyReply{})
	}
	g.readyWaiters = nil
}
