package config

import (
	"time"

	"github.com/goccy/go-yaml/ast"
)

// deploymentKeys are the keys of the deployment section.
var deploymentKeys = []string{"drain_timeout", "websocket_drain_timeout", "startup_timeout", "health_check_timeout", "stop_timeout", "verify", "canary"}

func (d *decoder) deployment(f *field, dep *Deployment) {
	m, ok := d.mapping(f, deploymentKeys)
	if !ok {
		return
	}
	d.setDuration(m, "drain_timeout", &dep.DrainTimeout)
	d.setDuration(m, "websocket_drain_timeout", &dep.WebSocketDrainTimeout)
	d.setDuration(m, "startup_timeout", &dep.StartupTimeout)
	d.setDuration(m, "health_check_timeout", &dep.HealthCheckTimeout)
	if sf := optional(m, "stop_timeout"); sf != nil {
		if v, ok := d.duration(sf); ok {
			if v%time.Second != 0 {
				d.errorf(sf.at, sf.path, "%s is not whole seconds: Docker's stop grace period counts seconds (e.g. 10s)", v)
			} else {
				dep.StopTimeout = v
			}
		}
	}
	if vf := optional(m, "verify"); vf != nil {
		dep.Verify = d.verify(vf)
	}
	if cf := optional(m, "canary"); cf != nil {
		dep.Canary = d.canary(cf)
		if optional(m, "verify") == nil && !emptyList(cf) {
			d.errorf(cf.at, cf.path, "needs deployment.verify: each canary step is judged over a verify window (add e.g. verify: {window: 60s})")
		}
	}
}

// crossCheck validates settings against each other.
func (d *decoder) crossCheck(app *App) {
	h := app.HealthCheck
	need := time.Duration(h.HealthyThreshold) * h.Interval
	if app.Deployment.HealthCheckTimeout < need {
		at, path := d.placeOfFirst("deployment.health_check_timeout", "health_check.interval", "health_check.healthy_threshold")
		d.errorf(at, path, "the health check timeout %s is shorter than interval × healthy_threshold (%s × %d = %s): a new container could never pass",
			app.Deployment.HealthCheckTimeout, h.Interval, h.HealthyThreshold, need)
	}
}

// placeOfFirst returns the place and path of the first of paths that is set.
func (d *decoder) placeOfFirst(paths ...string) (pos, string) {
	for _, p := range paths {
		if at, ok := d.places[p]; ok {
			return at, p
		}
	}
	return pos{1, 1}, paths[0]
}

// emptyList reports whether f is a list without items.
func emptyList(f *field) bool {
	s, ok := f.node.(*ast.SequenceNode)
	return ok && len(s.Values) == 0
}
