package actors

import (
	"context"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
	"github.com/bluegreen/bluegreen/store"
)

// appActor owns one app: its blue and green slots, its health actors, its
// proxy listener and its deployments. Nothing else touches them.
//
// What it knows of Docker comes in by messages (adoption at start, then a
// reconcile every tick); its deployment, when one runs, is a run that moves
// through the phases of CONTRACT §4 (run.go); the app's status is derived
// from both (status.go).
type appActor struct {
	*env

	state    store.AppState // the active color and images, and the status last recorded
	slots    map[deploy.Color]*slot
	proxy    *proxy.Proxy
	proxyErr error // the proxy cannot listen
	dockErr  error // Docker did not answer the last adoption or reconcile

	boot        *boot          // what the start found in the store, until the first adoption uses it
	interrupted map[int64]bool // the deployments the start found interrupted: their containers are removed
	adopted     bool           // the containers were read from Docker once
	reconciling bool           // a reconcile is in flight
	seen        [2]uint64      // the events of each color taken (reconcileResult.seen)
	revive      revival

	run           *run               // the running deployment, nil when none
	queued        *deploy.Deployment // the newest request behind it
	gen           uint64             // generation of runs and health actors
	lastCompleted int64              // the ID of the app's last completed deployment

	images retention // image retention (images.go)

	retired bool // removed from the configs: stopping for good

	gate gate // the single-driver rule of an upgrade (pause.go)

	dyingMonitors []context.Context // health actors stopped and maybe not gone yet (monitor.go)
}

func newAppActor(cfg *config.App, d deps) actor.Producer {
	return func() actor.Receiver {
		e := &env{cfg: cfg, deps: d, log: d.log.With(keyApp, cfg.Name)}
		return &appActor{env: e, gate: gate{env: e}, images: retention{env: e}}
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

// quietIfIdle stops the app's Docker work once a paused app has no
// deployment running or queued.
func (a *appActor) quietIfIdle(c *actor.Context) {
	if a.run != nil || a.queued != nil || !a.gate.quieten() {
		return
	}
	a.stopDriving(c)
	a.gate.answer(nil)
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
	a.images.cancel()
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

// pruneImages starts a retention pass after deployment id completed
// (images.go).
func (a *appActor) pruneImages(id int64) { a.images.start(id, a.protection()) }

// onImagesPruned records a retention pass, and runs the one a deployment
// that completed meanwhile asked for.
func (a *appActor) onImagesPruned(msg imagesPruned) {
	if again := a.images.ended(msg, !a.gate.drives()); again != 0 {
		a.pruneImages(again)
	}
}

// protection is what no retention pass may remove now.
func (a *appActor) protection() protection {
	p := protection{refs: map[string]bool{}}
	add := func(ref string) {
		if ref != "" {
			p.refs[docker.NormalizeRef(ref)] = true
		}
	}
	for _, s := range a.slots {
		add(s.image)
	}
	add(a.state.CurrentImage)
	add(a.state.DesiredImage)
	if a.queued != nil {
		add(a.queued.ToImage)
	}
	if a.run != nil {
		add(a.run.dep.ToImage)
	}
	return p
}
