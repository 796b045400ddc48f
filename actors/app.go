package actors

import (
	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
)

// appActor owns one app: its blue and green containers, its health actors,
// its proxy listener and its deployments. Nothing else touches them.
//
// It is made of owned parts: each is a type that alone holds and changes
// its state, in its own file(s), with its own tests. The actor's Receive
// (receive.go) hands each message to the part, or the flow across parts,
// that it concerns; the parts talk to each other only through the actor,
// by return values and messages, and a deployment run by asking the actor
// (runHost, deploying.go). What a change of one part means for the others
// follows in follow.go; the app's status is derived from all (status.go).
type appActor struct {
	*env // what every part reads; written in receive.go only (started, onUpdateConfig)

	// The owned parts, with the files that may write their state.
	containers  appContainers  // the two colors' containers: containers.go, inspect.go, exits.go, standby.go
	revival     activeRevival  // the restart of a dead active container: exits.go
	retry       deployRetry    // the retry of a failed deployment while nothing serves: retry.go
	monitors    appMonitors    // the health actors: monitor.go
	deployments appDeployments // the running, the queued, the last completed deployment: deployments.go
	images      imageRetention // image retention: images.go
	gate        driverGate     // the single-driver gate of an upgrade: pause.go
	record      appRecord      // the app's row in the store: state.go
	listener    proxyListener  // the app's proxy: listener.go
	traffic     appTraffic     // serving, paused or in maintenance: traffic.go

	retired bool // removed from the configs: stopping for good (receive.go)
}

// newAppActor makes the actor of the app cfg.
func newAppActor(cfg *config.App, d deps) actor.Producer {
	return func() actor.Receiver {
		e := &env{cfg: cfg, deps: d, log: d.log.With(keyApp, cfg.Name)}
		a := &appActor{
			env:         e,
			containers:  newAppContainers(e),
			revival:     activeRevival{env: e},
			retry:       deployRetry{env: e},
			monitors:    newAppMonitors(e),
			deployments: appDeployments{env: e},
			images:      imageRetention{env: e},
			gate:        driverGate{env: e},
			record:      appRecord{env: e},
			listener:    proxyListener{env: e},
			traffic:     appTraffic{env: e},
		}
		a.monitors.eager = a.listener.holding
		return a
	}
}
