package actors

import (
	"context"
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// appStatus derives the app's status, and why when it is not stable, from
// what the actor knows: its proxy listener, its deployment, Docker and the
// active container.
func (a *appActor) appStatus() (deploy.State, string) {
	active, found := a.containers.get(a.state.ActiveColor)
	dockErr := a.containers.dockerErr()
	switch {
	case a.proxyErr != nil:
		return deploy.AppFailed, a.proxyErr.Error()
	case a.deployments.running() != nil:
		return deploy.AppDeploying, ""
	case a.state.ActiveColor == "":
		if dockErr != nil {
			return deploy.AppFailed, "Docker unreachable: " + dockErr.Error()
		}
		return deploy.AppFailed, "no container serves this app: deploy an image"
	case dockErr != nil:
		return deploy.AppDegraded, "Docker unreachable: " + dockErr.Error()
	case !found:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container is gone", a.state.ActiveColor)
	case !active.running():
		return deploy.AppDegraded, fmt.Sprintf("the active %s container is %s", a.state.ActiveColor, active.state)
	case active.unhealthy:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container fails its health checks", a.state.ActiveColor)
	case active.recovering:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container was started again after it exited: %d of %d health checks passed",
			a.state.ActiveColor, min(active.passes, a.cfg.HealthCheck.HealthyThreshold), a.cfg.HealthCheck.HealthyThreshold)
	}
	return deploy.AppStable, ""
}

// known reports whether the actor knows enough to derive a status: Docker
// answered once (or failed to), or the proxy cannot listen.
func (a *appActor) known() bool {
	return a.containers.isAdopted() || a.containers.dockerErr() != nil || a.proxyErr != nil
}

// refreshStatus records a change of the derived status: in the store, the
// log and the audit trail.
func (a *appActor) refreshStatus() {
	shown, _ := a.shownStatus()
	a.metrics.SetStatus(shown) // the status GET /api/apps shows, also before the first adoption
	if !a.known() {
		return // the first adoption decides
	}
	st, why := a.appStatus()
	if st == a.state.Status && why == a.state.Error {
		return
	}
	from := a.state.Status
	a.state.Status, a.state.Error = st, why
	a.saveState()
	if from != st {
		a.log.Info("app state changed", keyFrom, from, keyTo, st, "reason", why)
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventAppState, fmt.Sprintf("%s is %s", a.cfg.Name, st),
			map[string]any{"from": from, "to": st, "reason": why})
	}
}

func (a *appActor) saveState() {
	if err := a.putState(); err != nil {
		a.log.Error("save app state", keyErr, err)
	}
}

// putState writes the app's state to the store.
func (a *appActor) putState() error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	a.state.Name = a.cfg.Name
	return a.deps.store.PutApp(ctx, a.state)
}

// shownStatus is the status (and why) that the app shows: the derived one,
// or before Docker first answered, the status last recorded.
func (a *appActor) shownStatus() (deploy.State, string) {
	st, why := a.appStatus()
	if !a.known() && a.deployments.running() == nil {
		st, why = a.state.Status, "reading the containers from Docker"
		if st == "" {
			st = deploy.AppStopped
		}
	}
	return st, why
}

// status builds the live part of the app's AppStatus.
func (a *appActor) status() deploy.AppStatus {
	st, why := a.shownStatus()
	out := deploy.AppStatus{
		Name:         a.cfg.Name,
		Status:       st,
		Error:        why,
		ActiveColor:  a.state.ActiveColor,
		CurrentImage: a.state.CurrentImage,
		DesiredImage: a.state.DesiredImage,
		Ports:        deploy.Ports{Proxy: a.cfg.Ports.Proxy, Blue: a.cfg.Ports.Blue, Green: a.cfg.Ports.Green},
		Connections:  map[deploy.Color]deploy.Connections{deploy.Blue: {}, deploy.Green: {}},
	}
	a.containers.each(func(color deploy.Color, s slot) {
		passes := s.passes // the health actor's own count once a check reached the actor
		if n, ok := a.monitors.tally(color); ok && s.checked {
			passes = n
		}
		out.Containers.Set(color, &deploy.Container{ID: s.id, Image: s.image, State: s.state, Health: s.health(a.monitors.watching(color)),
			HealthPasses: passes, HealthyThreshold: a.cfg.HealthCheck.HealthyThreshold})
	})
	if r := a.deployments.running(); r != nil {
		d := r.deployment()
		out.Deployment = &d
	}
	if a.proxy != nil {
		for color, n := range a.proxy.Connections() {
			out.Connections[deploy.Color(color)] = deploy.Connections{HTTP: n.HTTP, WebSocket: n.WebSocket}
		}
	}
	return out
}

// activeContainer answers GetActiveContainer: the active container's ID.
func (a *appActor) activeContainer() ContainerReply {
	s, ok := a.containers.get(a.state.ActiveColor)
	if !ok || s.id == "" {
		return ContainerReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s has no active container", a.cfg.Name)}
	}
	return ContainerReply{ID: s.id}
}
