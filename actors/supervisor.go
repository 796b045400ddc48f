package actors

import (
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// Respawn backoff of a failed app actor.
const (
	respawnMin = 500 * time.Millisecond
	respawnMax = 30 * time.Second
)

// supervisorActor is the root actor: it spawns one app actor per config,
// applies reloads, and replaces an app actor that panicked. It runs the
// process's Docker event stream (events.go), the reconcile's list
// (reconcile.go) and the prune of old health checks (checks.go), each a
// part of its own.
type supervisorActor struct {
	load   func() ([]*config.App, error)
	deps   deps
	log    *slog.Logger
	bridge *actor.PID

	cfgs    map[string]*config.App
	apps    map[string]*actor.PID
	backoff map[string]time.Duration
	// stopping holds apps whose old actor is still stopping: a new one is
	// spawned (by a respawn message) only once the old one is gone, since
	// hollywood hands back the old PID for a reused ID.
	stopping map[string]bool
	paused   bool // an upgrade hands the driving over (pause.go)

	stream    eventStream  // the Docker event stream (events.go)
	reconcile appsLister   // the reconcile's list (reconcile.go)
	checks    checksPruner // the prune of old health checks (checks.go)
}

func newSupervisor(initial []*config.App, load func() ([]*config.App, error), d deps) actor.Producer {
	return func() actor.Receiver {
		s := &supervisorActor{load: load, deps: d, log: d.log, cfgs: map[string]*config.App{},
			apps: map[string]*actor.PID{}, backoff: map[string]time.Duration{}, stopping: map[string]bool{},
			stream: eventStream{rt: d.rt, log: d.log}, reconcile: newAppsLister(d.rt),
			checks: checksPruner{store: d.store, log: d.log}}
		for _, cfg := range initial {
			s.cfgs[cfg.Name] = cfg
		}
		return s
	}
}

// Receive handles every message of the supervisor.
func (s *supervisorActor) Receive(c *actor.Context) {
	switch msg := c.Message().(type) {
	case actor.Started:
		s.started(c)
	case actor.Stopped:
		s.checks.stop()
		s.reconcile.stop()
		s.stream.stop()

	// The API's, through the bridge, and the System's.
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

	// The app actors' lives.
	case childFailed:
		s.onChildFailed(c, msg)
	case respawn:
		s.onRespawn(c, msg.name)

	// Docker, and the store's upkeep.
	case containerEvent:
		if pid := s.apps[msg.ev.Labels[LabelApp]]; pid != nil {
			s.reconcile.forwarded(msg.ev.Labels[LabelApp])
			c.Send(pid, msg)
		}
	case dockerResync:
		for _, pid := range s.apps {
			c.Send(pid, msg)
		}
	case reconcileAll:
		s.onReconcileAll(c)
	case listedAll:
		s.onListedAll(c, msg)
	case pruneTick:
		if !s.paused {
			s.checks.prune(c)
		}
	case pruneDone:
		s.checks.done()
	}
}

// started spawns an app actor per config and starts the timers and the
// Docker event stream.
func (s *supervisorActor) started(c *actor.Context) {
	for _, name := range s.names() {
		s.spawn(c, name)
	}
	s.checks.start(c)
	interval := s.deps.reconcile
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	s.reconcile.start(c, interval)
	s.stream.start(c)
}

// onReconcileAll lists the containers (reconcile.go). Paused (pause.go),
// the supervisor does no Docker work: each app actor gets its tick, which
// it ignores once quiet.
func (s *supervisorActor) onReconcileAll(c *actor.Context) {
	if !s.paused {
		s.reconcile.list(c)
		return
	}
	for _, pid := range s.apps {
		c.Send(pid, reconcileTick{})
	}
}

// onListedAll sends each app actor its entries of the list.
func (s *supervisorActor) onListedAll(c *actor.Context, msg listedAll) {
	entries := s.reconcile.done(msg)
	if s.paused {
		return
	}
	for app, pid := range s.apps {
		c.Send(pid, entries(app))
	}
}

// onRespawn spawns the actor of an app again once its old one is gone,
// unless the app was removed meanwhile.
func (s *supervisorActor) onRespawn(c *actor.Context, name string) {
	delete(s.stopping, name)
	if cfg, ok := s.cfgs[name]; ok && s.apps[name] == nil {
		s.log.Info("starting app actor", keyApp, cfg.Name)
		s.spawn(c, name)
		s.announce(c)
	}
}

func (s *supervisorActor) names() []string {
	names := make([]string, 0, len(s.cfgs))
	for n := range s.cfgs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *supervisorActor) spawn(c *actor.Context, name string) {
	cfg := s.cfgs[name]
	s.apps[name] = c.SpawnChild(newAppActor(cfg, s.deps), "app", actor.WithID(name),
		actor.WithMiddleware(recoverMiddleware(name)))
	if s.paused {
		c.Send(s.apps[name], setPaused{on: true})
	}
}

func (s *supervisorActor) pids() map[string]*actor.PID {
	m := make(map[string]*actor.PID, len(s.apps))
	for n, pid := range s.apps {
		m[n] = pid
	}
	return m
}

// pause stops the event stream and tells every app actor to stop driving
// once its deployments ended (pause.go).
func (s *supervisorActor) pause(c *actor.Context) pauseReply {
	s.paused = true
	s.stream.stop()
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
func (s *supervisorActor) resume(c *actor.Context) {
	if !s.paused {
		return
	}
	s.paused = false
	for _, pid := range s.apps {
		c.Send(pid, setPaused{on: false})
	}
	s.stream.start(c)
	s.log.Info("resumed: driving Docker again")
}

// announce sends the bridge the current app PIDs.
func (s *supervisorActor) announce(c *actor.Context) {
	if s.bridge == nil {
		return
	}
	c.Send(s.bridge, appsChanged{apps: s.pids()})
}

func (s *supervisorActor) onChildFailed(c *actor.Context, msg childFailed) {
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
func (s *supervisorActor) reload(c *actor.Context) ReloadReply {
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
func (s *supervisorActor) remove(c *actor.Context, name string) {
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
	s.reconcile.forget(name)
	s.deps.metrics.Remove(name) // gone from /metrics now; its stopping actor counts into nothing
}

// equalConfig compares two configs, ignoring the file they came from.
func equalConfig(a, b *config.App) bool {
	x, y := *a, *b
	x.File, y.File = "", ""
	return reflect.DeepEqual(x, y)
}
