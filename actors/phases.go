package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

// The work of each phase of a run: enter starts it, and what it found comes
// back to advance as a stepDone. Slow work runs in a goroutine.

// pull makes the image present according to the pull policy.
func (a *appActor) pull(r *run) {
	eng, self, rt, gen, ctx := a.eng, a.self, a.deps.rt, r.gen, r.ctx
	image, policy := r.dep.ToImage, a.cfg.Docker.PullPolicy
	pruning := a.images.running()
	go func() {
		if pruning != nil { // a retention pass must not remove the image under this deployment
			select {
			case <-pruning:
			case <-ctx.Done():
			}
		}
		pulled, err := rt.EnsureImage(ctx, image, policy)
		eng.Send(self, stepDone{gen: gen, phase: phasePulling, pulled: pulled, err: err})
	}()
}

// startCandidate replaces the color's container with a new one and starts
// it; a manual switch starts the color's existing container instead.
func (a *appActor) startCandidate(c *actor.Context, r *run) {
	eng, self, rt, gen := a.eng, a.self, a.deps.rt, r.gen
	startup, poll := a.cfg.Deployment.StartupTimeout, a.deps.timers.runPoll
	done := func(id string, port int, err error) {
		eng.Send(self, stepDone{gen: gen, phase: phaseStarting, container: id, port: port, err: err})
	}
	if r.existing {
		id, port := a.containers.startExisting(r.color)
		go func() {
			ctx, cancel := context.WithTimeout(r.ctx, startup)
			defer cancel()
			err := rt.Start(ctx, id)
			if err == nil {
				err = waitRunning(ctx, rt, id, poll)
			}
			done(id, port, err)
		}()
		return
	}
	spec := a.containers.spec(r.dep)
	if _, ok := a.containers.get(r.color); ok {
		a.monitors.stop(c, r.color)
		a.containers.clear(r.color)
	}
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, startup)
		defer cancel()
		// The inactive color's old container (by name, whatever bluegreen knows) goes first.
		// Remove returns once the name is free (also when another removal of it runs).
		if err := rt.Remove(ctx, spec.Name); err != nil {
			done("", 0, fmt.Errorf("remove old %s: %w", spec.Name, err))
			return
		}
		id, err := rt.Create(ctx, spec)
		if errors.Is(err, docker.ErrNameInUse) {
			// A container of that name appeared after the removal: one a
			// supervisor killed in the middle of its creation left, which
			// Docker finished since. It never served: remove it, once.
			if err = rt.Remove(ctx, spec.Name); err == nil {
				id, err = rt.Create(ctx, spec)
			}
		}
		if err != nil {
			done("", 0, err)
			return
		}
		if err := rt.Start(ctx, id); err != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = rt.Remove(rctx, id)
			rcancel()
			done("", 0, err)
			return
		}
		done(id, spec.HostPort, waitRunning(ctx, rt, id, poll))
	}()
}

// candidateCreated takes the started (or failed to run) candidate into its
// color's slot.
func (a *appActor) candidateCreated(r *run, res stepDone) {
	r.candidate = res.container
	a.containers.putCandidate(r.color, res.container, r.dep.ToImage, res.port, r.dep.DeploymentID, r.existing, res.err != nil)
	if res.err == nil {
		a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerStarted,
			fmt.Sprintf("%s container %s started from %s on 127.0.0.1:%d", r.color, short(res.container), r.dep.ToImage, res.port),
			map[string]any{"color": r.color, "container": res.container, "port": res.port})
	}
}

// openGate health-checks the candidate until healthy_threshold passes (see
// gateCheck), health_check_timeout, or a crash.
func (a *appActor) openGate(c *actor.Context, r *run) {
	a.ensureMonitors(c)
	eng, self, gen, rt, id, ctx := a.eng, a.self, r.gen, a.deps.rt, r.candidate, r.ctx
	failed := func(err error) { eng.Send(self, stepDone{gen: gen, phase: phaseHealthChecking, err: err}) }
	r.stopGate = a.deps.timers.after(a.cfg.Deployment.HealthCheckTimeout, func() { failed(errGateTimeout) })
	go watchCrash(ctx, rt, id, a.deps.timers.crashPoll, failed)
}

// gateCheck counts a check of the candidate: healthy_threshold passes in a
// row end the gate.
func (a *appActor) gateCheck(c *actor.Context, r *run, check deploy.HealthCheck) {
	if !check.Success {
		r.lastCheckErr = check.Error
	}
	if !a.containers.passedGate(r.color) {
		return
	}
	s, _ := a.containers.get(r.color)
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerHealthy,
		fmt.Sprintf("%s container passed %d health checks", r.color, s.passes), map[string]any{"color": r.color})
	a.advance(c, r, stepDone{gen: r.gen, phase: phaseHealthChecking})
}

// gateFailure says why the gate failed, recording a crash in the audit trail.
func (a *appActor) gateFailure(r *run, err error) string {
	var exited *exitError
	switch {
	case errors.Is(err, errGateTimeout):
		why := fmt.Sprintf("not healthy within health_check_timeout (%s)", a.cfg.Deployment.HealthCheckTimeout)
		if r.lastCheckErr != "" {
			why += ": last health check: " + r.lastCheckErr
		}
		if s, ok := a.containers.get(r.color); ok && !s.checked {
			why += ": no health check answered"
		}
		return why
	case errors.As(err, &exited):
		a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerExited, err.Error(),
			map[string]any{"color": r.color, "exit_code": exited.ct.ExitCode})
	}
	return err.Error()
}

// switchTraffic moves the proxy to the healthy candidate: it is now the
// active color. The switch is durable: the new active color is written to
// the store before the proxy moves, so a supervisor that dies at any moment
// after never routes back to the old color at its next start (and finishes
// this deployment: adopt.go). A switch the store cannot record does not
// happen: the candidate is rolled back.
func (a *appActor) switchTraffic(c *actor.Context, r *run) {
	r.closeGate()
	from, fromImage := a.state.ActiveColor, a.state.CurrentImage
	a.state.ActiveColor = r.color
	a.state.CurrentImage = r.dep.ToImage
	if err := a.putState(); err != nil {
		a.state.ActiveColor, a.state.CurrentImage = from, fromImage
		a.enter(c, r, phaseRollingBack, fmt.Sprintf("could not record the switch in the store (%v): traffic stays on %s", err, orNone(from)))
		return
	}
	a.routeActive()
	a.log.Info("traffic switched", keyFrom, from, keyTo, r.color, keyImage, r.dep.ToImage)
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventProxySwitched,
		fmt.Sprintf("traffic switched from %s to %s (%s)", orNone(from), r.color, r.dep.ToImage),
		map[string]any{"from": from, "to": r.color, "image": r.dep.ToImage})
	a.ensureMonitors(c) // the old color is no longer monitored
	a.advance(c, r, stepDone{gen: r.gen, phase: phaseSwitching})
}

// drain lets the old color's requests finish and closes its WebSockets.
func (a *appActor) drain(r *run) {
	dc := a.cfg.Deployment
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventDrainStarted,
		fmt.Sprintf("draining %s (HTTP up to %s, WebSockets up to %s)", r.from, dc.DrainTimeout, dc.WebSocketDrainTimeout),
		map[string]any{"color": r.from})
	eng, self, gen, p := a.eng, a.self, r.gen, a.proxy
	if p == nil {
		eng.Send(self, stepDone{gen: gen, phase: phaseDraining})
		return
	}
	color := string(r.from)
	go func() {
		// Not the run's context: a stop of the actor in the middle lets the
		// old color's requests finish all the same (bounded by the timeouts).
		res := p.Drain(context.Background(), color, dc.DrainTimeout, dc.WebSocketDrainTimeout)
		eng.Send(self, stepDone{gen: gen, phase: phaseDraining, drained: res})
	}()
}

func (a *appActor) drained(r *run, res proxy.DrainResult) {
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventDrainCompleted,
		fmt.Sprintf("%s drained in %s (%d requests cut, %d WebSockets closed)", r.from,
			res.Duration.Round(time.Millisecond), res.HTTPCut, res.WebSocketsClosed),
		map[string]any{"color": r.from, "duration_ms": res.Duration.Milliseconds(),
			"http_cut": res.HTTPCut, "websockets_closed": res.WebSocketsClosed})
}

// stopOld stops the old color's container, which stays for a switch back.
func (a *appActor) stopOld(c *actor.Context, r *run) {
	old, ok := a.containers.get(r.from)
	if !ok || old.id == "" {
		a.advance(c, r, stepDone{gen: r.gen, phase: phaseStopping})
		return
	}
	a.containers.stopping(r.from, old.id)
	eng, self, rt, gen, id, grace := a.eng, a.self, a.deps.rt, r.gen, old.id, a.cfg.Deployment.StopTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
		defer cancel()
		eng.Send(self, stepDone{gen: gen, phase: phaseStopping, err: rt.Stop(ctx, id, grace)})
	}()
}

func (a *appActor) oldStopped(r *run, err error) {
	old, ok := a.containers.get(r.from)
	switch {
	case !ok:
	case err != nil:
		a.log.Error("stop old container", keyColor, r.from, keyErr, err)
	default:
		a.containers.stopped(r.from)
		a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerStopped,
			fmt.Sprintf("old %s container %s stopped (kept for switch back)", r.from, short(old.id)),
			map[string]any{"color": r.from})
	}
}

// rollBack keeps the failed candidate's last log lines and removes it (a
// manual switch only stops it: it was there before).
func (a *appActor) rollBack(c *actor.Context, r *run, why string) {
	r.why = why
	r.closeGate()
	a.log.Warn("rolling back", keyDeploymentID, r.dep.DeploymentID, "reason", why)
	a.containers.stopping(r.color, r.candidate)
	a.ensureMonitors(c)
	eng, self, rt, gen, id, existing, grace := a.eng, a.self, a.deps.rt, r.gen, r.candidate, r.existing, a.cfg.Deployment.StopTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
		defer cancel()
		logs, _ := rt.Logs(ctx, id, logLines)
		var err error
		if existing {
			err = rt.Stop(ctx, id, grace)
		} else {
			err = rt.Remove(ctx, id)
		}
		eng.Send(self, stepDone{gen: gen, phase: phaseRollingBack, logs: logs, err: err})
	}()
}

func (a *appActor) candidateRemoved(r *run, err error) {
	if err != nil {
		a.log.Error("clean up failed container", keyColor, r.color, keyErr, err)
	}
	switch {
	case r.existing:
		a.containers.rolledBack(r.color)
	case err == nil:
		a.containers.clear(r.color)
		a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerRemoved,
			fmt.Sprintf("failed %s container %s removed", r.color, short(r.candidate)), map[string]any{"color": r.color})
	}
}

func orNone(color deploy.Color) deploy.Color {
	if color == "" {
		return "none"
	}
	return color
}

// logLines is how many of a failed container's last log lines a deployment keeps.
const logLines = 50

// waitRunning waits until the container runs, inspecting it every poll. A
// container that already exited is reported at once; ctx carries
// startup_timeout.
func waitRunning(ctx context.Context, rt Runtime, id string, poll time.Duration) error {
	for {
		ct, err := rt.Inspect(ctx, id)
		if err == nil && ct.Running {
			return nil
		}
		if err == nil && (ct.State == "exited" || ct.State == "dead") {
			return fmt.Errorf("container exited with code %d right after start", ct.ExitCode)
		}
		if err == nil && (ct.State == "restarting" || ct.RestartCount > 0) {
			return fmt.Errorf("container exited right after start (Docker restarted it %d time(s))", ct.RestartCount)
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return err
			}
			return fmt.Errorf("container not running within startup_timeout (state %s)", ct.State)
		case <-time.After(poll):
		}
	}
}

// watchCrash inspects the container every poll until ctx ends, and reports
// once, as an *exitError, when it stops running, restarts or disappears.
func watchCrash(ctx context.Context, rt Runtime, id string, poll time.Duration, report func(error)) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ct, err := rt.Inspect(ctx, id)
		if errors.Is(err, docker.ErrNotFound) {
			report(&exitError{docker.Container{ID: id, State: "removed"}})
			return
		}
		if err != nil {
			continue
		}
		if !ct.Running || ct.RestartCount > 0 {
			report(&exitError{ct})
			return
		}
	}
}

// exitError says how a container under health checks stopped running.
type exitError struct{ ct docker.Container }

func (e *exitError) Error() string {
	id := short(e.ct.ID)
	switch {
	case e.ct.State == "removed":
		return "container " + id + " disappeared during health checks"
	case e.ct.RestartCount > 0:
		return fmt.Sprintf("container %s exited during health checks (Docker restarted it %d time(s))", id, e.ct.RestartCount)
	case e.ct.OOMKilled:
		return fmt.Sprintf("container %s was killed for exceeding its memory limit during health checks", id)
	}
	return fmt.Sprintf("container %s exited with code %d during health checks", id, e.ct.ExitCode)
}
