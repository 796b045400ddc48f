package actors

import (
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
)

// ensureMonitors runs a health actor for each color that needs one: the
// active color while it runs, and a deployment's candidate during its gate.
func (a *appActor) ensureMonitors(c *actor.Context) {
	for _, color := range deploy.Colors {
		s := a.slots[color]
		if s == nil {
			continue
		}
		want := s.running() && (color == a.state.ActiveColor || a.run.gating(color)) &&
			a.gate.drives() // no health checks once another process drives (pause.go)
		if s.monitor != nil && (!want || s.monitorOfID != s.id || !reflect.DeepEqual(s.monitorOfCfg, a.cfg.HealthCheck)) {
			a.stopMonitor(c, s)
		}
		if want && s.monitor == nil {
			rec := healthRecorder{app: a.cfg.Name, metrics: a.metrics, store: a.deps.store, log: a.log}
			s.tally = new(atomic.Int64)
			s.monitor = c.SpawnChild(newHealthActor(color, s.id, s.port, a.cfg.HealthCheck, rec, s.tally), "health",
				actor.WithID(string(color)+"-"+strconv.FormatUint(a.nextGen(), 10)),
				actor.WithMiddleware(recoverMiddleware(a.cfg.Name+"/health")))
			s.monitorOfID = s.id
			s.monitorOfCfg = a.cfg.HealthCheck
		}
	}
}

// stopMonitor stops the health actor of s and remembers it until it is gone
// (waitMonitorsGone).
func (a *appActor) stopMonitor(c *actor.Context, s *slot) {
	a.dyingMonitors = append(a.dyingMonitors, c.Engine().Poison(s.monitor))
	s.monitor = nil
	live := a.dyingMonitors[:0]
	for _, ctx := range a.dyingMonitors {
		if ctx.Err() == nil {
			live = append(live, ctx)
		}
	}
	a.dyingMonitors = live
}

// waitMonitorsGone waits, up to a second, until the health actors stopped
// by stopMonitor are gone. Hollywood's stop of the app actor poisons its
// children again and would wait forever for one that is still stopping from
// a pill of ours: the app actor is stopped only after this.
func (a *appActor) waitMonitorsGone() {
	deadline := time.After(time.Second)
	for _, ctx := range a.dyingMonitors {
		select {
		case <-ctx.Done():
		case <-deadline:
			return
		}
	}
	a.dyingMonitors = nil
}

// onMonitorFailed restarts the monitoring of a health actor that panicked.
func (a *appActor) onMonitorFailed(c *actor.Context, msg childFailed) {
	a.log.Error("health actor failed", "reason", msg.Reason)
	for _, s := range a.slots {
		if s.monitor != nil && s.monitor.Equals(msg.PID) {
			a.stopMonitor(c, s)
		}
	}
	a.ensureMonitors(c)
}

// onHealth counts a health check (the health actor recorded it): toward
// the gate of the running deployment, or toward the active container's
// health. The health actor sends every check that can change a decision
// (healthActor), with its counts in a row.
func (a *appActor) onHealth(c *actor.Context, msg healthResult) {
	s := a.slots[msg.color]
	if s == nil || s.id != msg.containerID {
		return // a result for a container that is gone
	}
	s.checked = true
	s.passes, s.failures = msg.passes, msg.failures
	if r := a.run; r.gating(msg.color) {
		a.gateCheck(c, r, s, msg.check)
		return
	}
	if msg.color == a.state.ActiveColor {
		a.activeCheck(msg.color, s, msg.check)
		a.refreshStatus()
	}
}

// gateCheck counts a check of the candidate: healthy_threshold passes in a
// row end the gate.
func (a *appActor) gateCheck(c *actor.Context, r *run, s *slot, check deploy.HealthCheck) {
	if !check.Success {
		r.lastCheckErr = check.Error
	}
	if s.passes < a.cfg.HealthCheck.HealthyThreshold {
		return
	}
	s.healthy, s.unhealthy = true, false
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerHealthy,
		fmt.Sprintf("%s container passed %d health checks", r.color, s.passes), map[string]any{"color": r.color})
	a.advance(c, r, stepDone{gen: r.gen, phase: phaseHealthChecking})
}

// activeCheck counts a check of the active container: unhealthy after
// unhealthy_threshold failures in a row, healthy again after
// healthy_threshold passes.
func (a *appActor) activeCheck(color deploy.Color, s *slot, check deploy.HealthCheck) {
	switch {
	case !check.Success && s.failures == a.cfg.HealthCheck.UnhealthyThreshold:
		s.healthy, s.unhealthy = false, true
		a.log.Warn("active container unhealthy", keyColor, color, "failures", s.failures, keyErr, check.Error)
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerUnhealthy,
			fmt.Sprintf("active %s container failed %d health checks: %s", color, s.failures, check.Error),
			map[string]any{"color": color, "error": check.Error})
	case check.Success && !s.healthy && s.passes >= a.cfg.HealthCheck.HealthyThreshold:
		s.healthy, s.unhealthy = true, false
		a.recovered(s)
		a.log.Info("active container healthy", keyColor, color)
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerHealthy,
			fmt.Sprintf("active %s container is healthy", color), map[string]any{"color": color})
	}
}
