package actors

import (
	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
)

// appActor owns one app: its blue and green containers, its health actors,
// its proxy listener and its deployments. Nothing else touches them.
//
// It is made of owned parts, each a type that alone holds and changes its
// state, in its own file: a reader asks which file may write a field, and
// the answer is the part's. The actor's Receive (receive.go) hands each
// message to the part it concerns, and the parts talk to each other only
// through the actor: by return values, by messages to it, or (a run) by
// asking it (runHost). What a change of one part means for the others
// follows in follow.go; the app's status is derived from all (status.go).
type appActor struct {
	*env // the config and shared resources every part reads (env.go)

	containers  containers  // the two colors' containers (containers.go, exits.go)
	revival     revival     // the restart of a dead active container (exits.go)
	monitors    monitors    // the health actors (monitor.go)
	deployments deployments // the running and the queued deployment (deployments.go; a run: run.go, phases.go)
	images      retention   // image retention (images.go)
	gate        gate        // the single-driver rule of an upgrade (pause.go)

	record   record   // the app's row in the store: active color, images, status (state.go)
	listener listener // the app's proxy (listener.go)

	retired bool // removed from the configs: stopping for good (receive.go)
}

func newAppActor(cfg *config.App, d deps) actor.Producer {
	return func() actor.Receiver {
		e := &env{cfg: cfg, deps: d, log: d.log.With(keyApp, cfg.Name)}
		return &appActor{env: e, containers: newContainers(e), revival: revival{env: e}, monitors: newMonitors(e),
			deployments: deployments{env: e}, images: retention{env: e}, gate: gate{env: e}, record: record{env: e},
			listener: listener{env: e}}
	}
}
