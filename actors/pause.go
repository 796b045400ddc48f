package actors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
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
	return pullAllowance + d.StartupTimeout + d.HealthCheckTimeout + max(d.DrainTimeout, d.WebSocketDrainTimeout) + d.StopTimeout + 30*time.Second
}

// Messages of the rule.
type (
	// pause tells the supervisor to stop driving; it answers pauseReply.
	pause struct{}
	// pauseReply names the app actors and how long each may take to go quiet.
	pauseReply struct{ apps map[string]pausedApp }
	pausedApp  struct {
		pid   *actor.PID
		bound time.Duration
	}
	// resume tells the supervisor to drive again.
	resume struct{}
	// setPaused tells an app actor to stop (or resume) driving.
	setPaused struct{ on bool }
	// awaitQuiet asks a paused app actor to answer (quietReply) once it no
	// longer drives: its deployments ended and its Docker work stopped.
	awaitQuiet struct{}
	quietReply struct{ err error }
	// quietTimeout ends a wait for deployments that overran their bound.
	quietTimeout struct{ gen uint64 }
	// awaitReady asks an app actor to answer (readyReply) once its first
	// adoption answered (or failed): its proxy routes to what runs.
	awaitReady struct{}
	readyReply struct{}
	// listPIDs asks the supervisor for its app actors.
	listPIDs   struct{}
	pidsReply  struct{ apps map[string]*actor.PID }
	shutdownTo struct {
		ctx context.Context
	}
	// shutdownStarted answers shutdownTo: done is closed once the proxy drained.
	shutdownStarted struct{ done <-chan struct{} }
)

// Pause makes the supervisor stop driving Docker (see the rule above). It
// returns once every app is quiet, or with why one is not (a deployment that
// overran its timeouts, ctx ending); the caller then calls Resume.
func (s *System) Pause(ctx context.Context) error {
	s.paused.Store(true)
	v, err := s.eng.Request(s.root, pause{}, s.timeout).Result()
	if err != nil {
		return fmt.Errorf("pause the supervisor: %w", err)
	}
	apps := v.(pauseReply).apps
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		p := apps[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.eng.Request(p.pid, awaitQuiet{}, p.bound+10*time.Second).Result()
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("%s did not answer: %w", name, err)
			case v.(quietReply).err != nil:
				errs[i] = v.(quietReply).err
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return errors.Join(errs...)
	case <-ctx.Done():
		return fmt.Errorf("pause the supervisor: %w", context.Cause(ctx))
	}
}

// Resume makes a paused supervisor drive Docker again.
func (s *System) Resume() {
	s.paused.Store(false)
	s.eng.Send(s.root, resume{})
}

// Paused reports whether a Pause is in effect.
func (s *System) Paused() bool { return s.paused.Load() }

// WaitReady waits until every app's proxy routes to what runs: its first
// adoption answered or failed (a dead Docker does not hold it up beyond
// that), or ctx ends. It returns the names of the apps not ready by then.
func (s *System) WaitReady(ctx context.Context) []string {
	pids := s.appPIDs()
	var mu sync.Mutex
	var late []string
	var wg sync.WaitGroup
	for name, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := time.Hour
			if dl, ok := ctx.Deadline(); ok {
				timeout = time.Until(dl)
			}
			if timeout <= 0 {
				timeout = time.Millisecond
			}
			if _, err := s.eng.Request(pid, awaitReady{}, timeout).Result(); err != nil {
				mu.Lock()
				late = append(late, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(late)
	return late
}

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

// The app actor's side.

// onSetPaused starts or ends a pause of the app's driving.
func (a *appActor) onSetPaused(c *actor.Context, on bool) {
	if on == a.paused {
		return
	}
	a.paused = on
	if on {
		a.log.Info("pausing: an upgrade takes over", "deployment_running", a.run != nil)
		a.quietIfIdle(c)
		return
	}
	if a.quiet {
		a.quiet = false
		a.log.Info("resuming: driving Docker again")
		a.resync(c)
	}
	a.answerQuiet(fmt.Errorf("the pause of %s was lifted", a.cfg.Name))
}

// onAwaitQuiet answers at once when the app is quiet, else once its
// deployments ended, or with an error when they overrun their bound.
func (a *appActor) onAwaitQuiet(c *actor.Context) {
	if a.quiet {
		c.Respond(quietReply{})
		return
	}
	if !a.paused {
		c.Respond(quietReply{err: fmt.Errorf("%s is not paused", a.cfg.Name)})
		return
	}
	a.quietWaiters = append(a.quietWaiters, c.Sender())
	if a.stopQuietTimer == nil {
		bound := deploymentBound(a.cfg)
		if a.queued != nil {
			bound *= 2
		}
		eng, self, gen := a.eng, a.self, a.nextGen()
		a.quietGen = gen
		a.stopQuietTimer = a.deps.timers.after(bound, func() { eng.Send(self, quietTimeout{gen: gen}) })
	}
}

func (a *appActor) onQuietTimeout(msg quietTimeout) {
	if msg.gen != a.quietGen || a.quiet {
		return
	}
	id := int64(0)
	if a.run != nil {
		id = a.run.dep.DeploymentID
	}
	a.answerQuiet(fmt.Errorf("deployment %d of %s is still running after %s: retry the upgrade once it ended",
		id, a.cfg.Name, deploymentBound(a.cfg)))
}

// quietIfIdle stops the app's Docker work once a paused app has no
// deployment running or queued.
func (a *appActor) quietIfIdle(c *actor.Context) {
	if !a.paused || a.quiet || a.run != nil || a.queued != nil {
		return
	}
	a.quiet = true
	a.stopDriving(c)
	a.log.Info("paused: no Docker work, health checks or state writes until the upgrade ends")
	a.answerQuiet(nil)
}

// stopDriving stops what drives Docker or writes health: the health
// actors, a pending restart of the active container and a retention pass
// (images.go).
func (a *appActor) stopDriving(c *actor.Context) {
	for _, s := range a.slots {
		if s.monitor != nil {
			a.stopMonitor(c, s)
		}
	}
	a.cancelRevive()
	if a.stopPruning != nil {
		a.stopPruning()
	}
}

// answerQuiet answers every waiting awaitQuiet with err.
func (a *appActor) answerQuiet(err error) {
	for _, pid := range a.quietWaiters {
		a.eng.Send(pid, quietReply{err: err})
	}
	a.quietWaiters = nil
	if a.stopQuietTimer != nil {
		a.stopQuietTimer()
		a.stopQuietTimer = nil
	}
}

// onAwaitReady answers once the first adoption answered or failed.
func (a *appActor) onAwaitReady(c *actor.Context) {
	if a.adoptTried || a.quiet {
		c.Respond(readyReply{})
		return
	}
	a.readyWaiters = append(a.readyWaiters, c.Sender())
}

// adoptAnswered marks the first adoption done and answers the waiters.
func (a *appActor) adoptAnswered() {
	if a.adoptTried {
		return
	}
	a.adoptTried = true
	for _, pid := range a.readyWaiters {
		a.eng.Send(pid, readyReply{})
	}
	a.readyWaiters = nil
}

// onShutdown stops the app's Docker work for good (a running deployment is
// left where it is, for the next start to find) and drains its proxy: in
// flight requests up to drain_timeout, WebSockets until
// websocket_drain_timeout, then a 1001 close.
func (a *appActor) onShutdown(c *actor.Context, ctx context.Context) {
	a.closing = true
	if r := a.run; r != nil {
		r.halt()
		a.log.Warn("stopping in the middle of a deployment", keyDeploymentID, r.dep.DeploymentID, keyStatus, r.dep.Status)
	}
	a.stopDriving(c)
	a.waitMonitorsGone()
	a.answerQuiet(errors.New("the supervisor is stopping"))
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

// resync reads the containers again (adopting them if that never worked):
// after a pause, or when the Docker event stream was down. Docker answers
// again: a restart of a dead active container that waited out a backoff of
// failed starts is scheduled anew, as for a fresh death (the reconcile
// finds it down), so it runs again within seconds.
func (a *appActor) resync(c *actor.Context) {
	a.cancelRevive()
	a.revive.attempts = 0
	if !a.adopted {
		a.adopt()
		return
	}
	a.ensureMonitors(c)
	a.onReconcileTick()
}
