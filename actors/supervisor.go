package actors

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// Health-check retention: every pruneInterval, each app and color keeps its
// newest keepHealthChecks checks.
const (
	pruneInterval    = 10 * time.Minute
	keepHealthChecks = 1000
)

// pruneTick asks the supervisor to prune old health checks.
type pruneTick struct{}

// Respawn backoff of a failed app actor.
const (
	respawnMin = 500 * time.Millisecond
	respawnMax = 30 * time.Second
)

// supervisor is the root actor: it spawns one app actor per config, applies
// reloads, and replaces an app actor that panicked.
type supervisor struct {
	load   func() ([]*config.App, error)
	deps   deps
	log    *slog.Logger
	bridge *actor.PID

	cfgs    map[string]*config.App
	apps    map[string]*actor.PID
	backoff map[string]time.Duration
	pruner  *actor.SendRepeater
	pruning bool
	// The reconcile (reconcile.go).
	reconciler *actor.SendRepeater
	listing    bool
	events     map[string]uint64 // the Docker events forwarded per app
	// stopping holds apps whose old actor is still stopping: a new one is
	// spawned (by a respawn message) only once the old one is gone, since
	// hollywood hands back the old PID for a reused ID.
	stopping map[string]bool

	paused      bool               // an upgrade hands the driving over (pause.go)
	stopWatcher context.CancelFunc // ends the Docker event stream (events.go)
}

// pruneDone reports the end of a prune.
type pruneDone struct{}

func newSupervisor(initial []*config.App, load func() ([]*config.App, error), d deps) actor.Producer {
	return func() actor.Receiver {
		s := &supervisor{load: load, deps: d, log: d.log, cfgs: map[string]*config.App{},
			apps: map[string]*actor.PID{}, backoff: map[string]time.Duration{}, stopping: map[string]bool{},
			events: map[string]uint64{}}
		for _, cfg := range initial {
			s.cfgs[cfg.Name] = cfg
		}
		return s
	}
}

// setBridge tells the supervisor which bridge to keep informed of app PIDs.
type setBridge struct{ pid *actor.PID }

func (s *supervisor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case actor.Started:
		for _, name := range s.names() {
			s.spawn(c, name)
		}
		r := c.SendRepeat(c.PID(), pruneTick{}, pruneInterval)
		s.pruner = &r
		interval := s.deps.reconcile
		if interval <= 0 {
			interval = DefaultReconcileInterval
		}
		rr := c.SendRepeat(c.PID(), reconcileAll{}, interval)
		s.reconciler = &rr
		s.watch(c)
	case actor.Stopped:
		if s.pruner != nil {
			s.pruner.Stop()
			s.pruner = nil
		}
		if s.reconciler != nil {
			s.reconciler.Stop()
			s.reconciler = nil
		}
		s.unwatch()
	case reconcileAll:
		s.onReconcileAll(c)
	case listedAll:
		s.onListedAll(c, msg)
	case pruneTick:
		if !s.pruning && !s.paused {
			s.pruning = true
			eng, self, st, log := c.Engine(), c.PID(), s.deps.store, s.log
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if n, err := st.PruneHealthChecks(ctx, keepHealthChecks); err != nil {
					log.Error("prune health checks", keyErr, err)
				} else if n > 0 {
					log.Info("pruned old health checks", "deleted", n)
				}
				eng.Send(self, pruneDone{})
			}()
		}
	case pruneDone:
		s.pruning = false
	case setBridge:
		s.bridge = msg.pid
		s.announce(c)
	case ListApps:
		c.Respond(AppsReply{Names: s.names()})
	case Reload:
		if s.paused {
			c.Respond(ReloadReply{Err: errBusy})
			return
		}
		c.Respond(s.reload(c))
	case listPIDs:
		c.Respond(pidsReply{apps: s.pids()})
	case pause:
		c.Respond(s.pause(c))
	case resume:
		s.resume(c)
	case containerEvent:
		app := msg.ev.Labels[LabelApp]
		if pid := s.apps[app]; pid != nil {
			s.events[app]++
			c.Send(pid, msg)
		}
	case dockerResync:
		for _, pid := range s.apps {
			c.Send(pid, msg)
		}
	case childFailed:
		s.onChildFailed(c, msg)
	case respawn:
		delete(s.stopping, msg.name)
		if cfg, ok := s.cfgs[msg.name]; ok && s.apps[msg.name] == nil {
			s.log.Info("starting app actor", keyApp, cfg.Name)
			s.spawn(c, msg.name)
			s.announce(c)
		}
	}
}

func (s *supervisor) names() []string {
	names := make([]string, 0, len(s.cfgs))
	for n := range s.cfgs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *supervisor) spawn(c *actor.Context, name string) {
	cfg := s.cfgs[name]
	s.apps[name] = c.SpawnChild(newAppActor(cfg, s.deps), "app", actor.WithID(name),
		actor.WithMiddleware(recoverMiddleware(name)))
	if s.paused {
		c.Send(s.apps[name], setPaused{on: true})
	}
}

func (s *supervisor) pids() map[string]*actor.PID {
	m := make(map[string]*actor.PID, len(s.apps))
	for n, pid := range s.apps {
		m[n] = pid
	}
	return m
}

// watch starts the process's Docker event stream (events.go).
func (s *supervisor) watch(c *actor.Context) {
	if s.stopWatcher != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatcher = cancel
	eng, self, rt, log := c.Engine(), c.PID(), s.deps.rt, s.log
	go watchEvents(ctx, rt, func(m any) { eng.Send(self, m) }, log)
}

func (s *supervisor) unwatch() {
	if s.stopWatcher != nil {
		s.stopWatcher()
		s.stopWatcher = nil
	}
}

// pause stops the event stream and tells every app actor to stop driving
// once its deployments ended (pause.go).
func (s *supervisor) pause(c *actor.Context) pauseReply {
	s.paused = true
	s.unwatch()
	out := pauseReply{apps: map[string]pausedApp{}}
	for name, pid := range s.apps {
		c.Send(pid, setPaused{on: true})
		out.apps[name] = pausedApp{pid: pid, bound: 2 * deploymentBound(s.cfgs[name])}
	}
	s.log.Info("paused: handing the driving of Docker over")
	return out
}

// resume makes the supervisor and its app actors drive again; they resync,
// as events went unheard meanwhile.
func (s *supervisor) resume(c *actor.Context) {
	if !s.paused {
		return
	}
	s.paused = false
	for _, pid := range s.apps {
		c.Send(pid, setPaused{on: false})
	}
	s.watch(c)
	s.log.Info("resumed: driving Docker again")
}

// announce sends the bridge the current app PIDs.
func (s *supervisor) announce(c *actor.Context) {
	if s.bridge == nil {
		return
	}
	c.Send(s.bridge, appsChanged{apps: s.pids()})
}

func (s *supervisor) onChildFailed(c *actor.Context, msg childFailed) {
	name := ""
	for n, pid := range s.apps {
		if pid.Equals(msg.PID) {
			name = n
		}
	}
	if name == "" {
		return
	}
	s.log.Error("app actor panicked: restarting it", keyApp, name, "reason", msg.Reason, "stack", msg.Stack)
	s.deps.rec.event(name, 0, deploy.EventActorFailed, fmt.Sprintf("app actor of %s failed (%s): restarting it", name, msg.Reason),
		map[string]any{"reason": msg.Reason})
	delete(s.apps, name)
	s.stopping[name] = true
	s.announce(c)
	d := s.backoff[name]
	if d == 0 {
		d = respawnMin
	} else if d *= 2; d > respawnMax {
		d = respawnMax
	}
	s.backoff[name] = d
	eng, self, pid := c.Engine(), c.PID(), msg.PID
	go func() {
		<-eng.Poison(pid).Done()
		time.Sleep(d)
		eng.Send(self, respawn{name: name})
	}()
}

// reload applies the app configs as they are now. Invalid ones change
// nothing and are answered as EINVALIDCONFIG, for the asker to report.
func (s *supervisor) reload(c *actor.Context) ReloadReply {
	cfgs, err := s.load()
	if err != nil {
		return ReloadReply{Err: invalidConfigs(err)}
	}
	res := deploy.ReloadResult{Added: []string{}, Removed: []string{}, Changed: []string{}, Unchanged: []string{}}
	next := map[string]*config.App{}
	for _, cfg := range cfgs {
		next[cfg.Name] = cfg
	}
	for _, name := range s.names() {
		if _, ok := next[name]; !ok {
			res.Removed = append(res.Removed, name)
			s.remove(c, name)
		}
	}
	for _, cfg := range cfgs {
		old, ok := s.cfgs[cfg.Name]
		switch {
		case !ok:
			res.Added = append(res.Added, cfg.Name)
			s.cfgs[cfg.Name] = cfg
			if !s.stopping[cfg.Name] {
				s.spawn(c, cfg.Name)
			}
		case equalConfig(old, cfg):
			res.Unchanged = append(res.Unchanged, cfg.Name)
		default:
			res.Changed = append(res.Changed, cfg.Name)
			s.cfgs[cfg.Name] = cfg
			if pid := s.apps[cfg.Name]; pid != nil {
				c.Send(pid, updateConfig{cfg: cfg})
			}
		}
	}
	s.announce(c)
	s.log.Info("configs reloaded", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
	s.deps.rec.event("", 0, deploy.EventConfigReloaded,
		fmt.Sprintf("configs reloaded: %d added, %d removed, %d changed, %d unchanged",
			len(res.Added), len(res.Removed), len(res.Changed), len(res.Unchanged)),
		map[string]any{"added": res.Added, "removed": res.Removed, "changed": res.Changed})
	return ReloadReply{Result: res}
}

// invalidConfigs is the answer to a reload of invalid configs: EINVALIDCONFIG with
// one detail per problem.
func invalidConfigs(err error) *deploy.Error {
	e := deploy.Errorf(deploy.EINVALIDCONFIG, "configs are invalid; the running config stays: %v", err)
	if errs, ok := err.(config.Errors); ok {
		e.Message = fmt.Sprintf("%d problem(s) in the app configs; the running config stays", len(errs))
		for _, x := range errs {
			e.Details = append(e.Details, x.Error())
		}
	}
	return e
}

// remove stops the actor of an app whose config is gone, for good.
func (s *supervisor) remove(c *actor.Context, name string) {
	if pid := s.apps[name]; pid != nil {
		c.Send(pid, retire{})
		s.stopping[name] = true
		eng, self := c.Engine(), c.PID()
		go func() {
			<-eng.Poison(pid).Done()
			eng.Send(self, respawn{name: name}) // spawns it again only if re-added meanwhile
		}()
	}
	delete(s.apps, name)
	delete(s.cfgs, name)
	delete(s.events, name)
	s.deps.metrics.Remove(name) // gone from /metrics now; its stopping actor counts into nothing
}

// equalConfig compares two configs, ignoring the file they came from.
func equalConfig(a, b *config.App) bool {
	x, y := *a, *b
	x.File, y.File = "", ""
	return reflect.DeepEqual(x, y)
}
