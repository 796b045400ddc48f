package actors

import (
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// What follows a change of the app actor's parts, whichever message made
// it: the health actors follow the containers, the proxy follows the active
// container, a pause's quiet follows the end of the deployments, and a
// read of Docker follows a doubt about what the actor knows.

// ensureMonitors runs a health actor for each color that needs one: the
// active color while it runs, and a deployment's candidate during its gate
// and its verification windows;
// none once another process drives (pause.go).
func (a *appActor) ensureMonitors() {
	want := map[deploy.Color]healthTarget{}
	if a.gate.drives() {
		a.containers.each(func(color deploy.Color, s slot) {
			if r := a.deployments.running(); s.running() && (color == a.record.active() || r.gating(color) || r.inWindow(color)) {
				want[color] = healthTarget{id: s.id, port: s.port}
				if s.fresh { // its first checks may find the app not listening yet
					want[color] = healthTarget{id: s.id, port: s.port, starting: a.cfg.Deployment.HealthCheckTimeout}
				}
			}
		})
	}
	a.monitors.ensure(want)
}

// startProxy starts the app's proxy (listener.go) and points it at the
// active container.
func (a *appActor) startProxy() {
	if a.listener.start() {
		a.routeActive()
	}
	a.refreshStatus()
}

// routeActive points the proxy at the active color's container.
func (a *appActor) routeActive() {
	color := a.record.active()
	s, ok := a.containers.get(color)
	if color == "" || !ok {
		return
	}
	port := s.port
	if port == 0 {
		port = a.containers.port(color)
	}
	a.listener.route(color, port)
}

// onReconcileTick retries what failed (the proxy listener, adoption) and,
// when no deployment runs, reads both colors' containers again.
func (a *appActor) onReconcileTick() {
	if !a.listener.listening() {
		a.startProxy()
	}
	if !a.containers.isAdopted() {
		a.containers.list()
		return
	}
	if a.deployments.running() == nil {
		a.containers.read()
	}
}

// resync reads the containers again (adopting them if that never worked):
// after a pause, or when the Docker event stream was down. Docker answers
// again: a restart of a dead active container that waited out a backoff of
// failed starts is scheduled anew, as for a fresh death (the reconcile
// finds it down), so it runs again within seconds.
func (a *appActor) resync() {
	a.revival.cancel()
	a.revival.reset()
	a.retry.resume() // a retry that waits is due at once (retry.go)
	if !a.containers.isAdopted() {
		a.containers.list()
		return
	}
	a.ensureMonitors()
	a.onReconcileTick()
}

// quietIfIdle stops the app's Docker work once a paused app has no
// deployment running or queued.
func (a *appActor) quietIfIdle() {
	if !a.deployments.idle() || !a.gate.quieten() {
		return
	}
	a.stopDriving()
	a.gate.answer(nil)
}

// stopDriving stops what drives Docker or writes health: the health
// actors, a pending restart of the active container, the timer of a
// retry (retry.go) and a retention pass (images.go).
func (a *appActor) stopDriving() {
	a.monitors.stopAll()
	a.revival.cancel()
	a.retry.pause()
	a.images.cancel()
}

// pruneImages starts a retention pass after deployment id completed
// (images.go).
func (a *appActor) pruneImages(id int64) {
	a.images.start(id, a.protection(), a.containers.removals())
}

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
	a.containers.each(func(_ deploy.Color, s slot) { add(s.image) })
	add(a.record.current())
	add(a.record.desired())
	for _, image := range a.deployments.images() {
		add(image)
	}
	return p
}
