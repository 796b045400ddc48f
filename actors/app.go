package actors

import (
	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
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
	proxy    *proxy.Proxy
	proxyErr error // the proxy cannot listen

	containers containers // the two colors' containers (containers.go, exits.go)
	revival    revival    // the restart of a dead active container (exits.go)
	monitors   monitors   // the health actors (monitor.go)

	boot        *boot          // what the start found in the store, until the first adoption uses it
	interrupted map[int64]bool // the deployments the start found interrupted: their containers are removed

	run           *run               // the running deployment, nil when none
	queued        *deploy.Deployment // the newest request behind it
	gen           uint64             // generation of runs and health actors
	lastCompleted int64              // the ID of the app's last completed deployment

	images retention // image retention (images.go)

	retired bool // removed from the configs: stopping for good

	gate gate // the single-driver rule of an upgrade (pause.go)
}

func newAppActor(cfg *config.App, d deps) actor.Producer {
	return func() actor.Receiver {
		e := &env{cfg: cfg, deps: d, log: d.log.With(keyApp, cfg.Name)}
		return &appActor{env: e, gate: gate{env: e}, images: retention{env: e}, containers: newContainers(e),
			revival: revival{env: e}, monitors: newMonitors(e)}
	}
}

func (a *appActor) activeContainer() ContainerReply {
	s, ok := a.containers.get(a.state.ActiveColor)
	if !ok || s.id == "" {
		return ContainerReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s has no active container", a.cfg.Name)}
	}
	return ContainerReply{ID: s.id}
}

func (a *appActor) nextGen() uint64 {
	a.gen++
	return a.gen
}
