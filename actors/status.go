package actors

import (
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// The app's status, derived from its parts: what GET /api/apps/{app}
// shows, what the store and the metrics record.

// appStatus derives the app's status, and why when it is not stable, from
// what the actor knows: its proxy listener, its deployment, Docker and the
// active container.
func (a *appActor) appStatus() (deploy.State, string) {
	color := a.record.active()
	active, found := a.containers.get(color)
	dockErr := a.containers.dockerErr()
	switch {
	case a.listener.failure() != nil:
		return deploy.AppFailed, a.listener.failure().Error()
	case a.deployments.running() != nil:
		return deploy.AppDeploying, ""
	case color == "":
		if dockErr != nil {
			return deploy.AppFailed, "Docker unreachable: " + dockErr.Error()
		}
		if a.retry.waiting() {
			return deploy.AppFailed, a.retry.reason() // retry.go
		}
		return deploy.AppFailed, "no container serves this app: deploy an image"
	case dockErr != nil:
		return deploy.AppDegraded, "Docker unreachable: " + dockErr.Error()
	case !found:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container is gone", color)
	case !active.running():
		return deploy.AppDegraded, fmt.Sprintf("the active %s container is %s", color, active.state)
	case active.unhealthy:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container fails its health checks", color)
	case active.recovering:
		return deploy.AppDegraded, fmt.Sprintf("the active %s container was started again after it exited: %d of %d health checks passed",
			color, min(active.passes, a.cfg.HealthCheck.HealthyThreshold), a.cfg.HealthCheck.HealthyThreshold)
	}
	return deploy.AppStable, ""
}

// known reports whether the actor knows enough to derive a status: Docker
// answered once (or failed to), or the proxy cannot listen.
func (a *appActor) known() bool {
	return a.containers.isAdopted() || a.containers.dockerErr() != nil || a.listener.failure() != nil
}

// refreshStatus records a change of the derived status: in the store, the
// log and the audit trail.
func (a *appActor) refreshStatus() {
	a.followOutage() // the proxy follows the active container (traffic.go)
	shown, _ := a.shownStatus()
	a.metrics.SetStatus(shown) // the status GET /api/apps shows, also before the first adoption
	if !a.known() {
		return // the first adoption decides
	}
	st, why := a.appStatus()
	from, changed := a.record.setStatus(st, why)
	if changed && from != st {
		a.log.Info("app state changed", keyFrom, from, keyTo, st, "reason", why)
		a.event(0, deploy.EventAppState, fmt.Sprintf("%s is %s", a.cfg.Name, st),
			map[string]any{"from": from, "to": st, "reason": why})
	}
}

// shownStatus is the status (and why) that the app shows: the derived one,
// or before Docker first answered, the status last recorded.
func (a *appActor) shownStatus() (deploy.State, string) {
	st, why := a.appStatus()
	if !a.known() && a.deployments.running() == nil {
		st, _ = a.record.status()
		why = "reading the containers from Docker"
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
		ActiveColor:  a.record.active(),
		CurrentImage: a.record.current(),
		DesiredImage: a.record.desired(),
		Ports:        deploy.Ports{Proxy: a.cfg.Ports.Proxy, Blue: a.cfg.Ports.Blue, Green: a.cfg.Ports.Green},
		Connections:  a.listener.connections(),
		Traffic:      a.traffic.mode().Status(a.listener.held()),
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
	return out
}

// activeContainer answers GetActiveContainer: the active container's ID.
func (a *appActor) activeContainer() ContainerReply {
	s, ok := a.containers.get(a.record.active())
	if !ok || s.id == "" {
		return ContainerReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s has no active container", a.cfg.Name)}
	}
	return ContainerReply{ID: s.id}
}
