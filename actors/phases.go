package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

// The work of each phase of a run: enter starts it, and what it found comes
// back to advance as a stepDone: from a goroutine by a message to the app
// actor (slow work), or at once as the work's result. What belongs to the
// app's other parts the run asks of the actor (runHost). Nothing here
// changes the phase.

// done sends the app actor res, the end of one of the run's phases; safe
// from the phases' goroutines (it reads only what never changes).
func (r *deploymentRun) done(res stepDone) {
	res.gen = r.gen
	r.env.send(res)
}

// pull makes the image present according to the pull policy, once the
// running image retention pass ended (it must not remove this image).
func (r *deploymentRun) pull() {
	rt, ctx, pruning := r.env.deps.rt, r.ctx, r.host.retentionPass()
	image, policy := r.dep.ToImage, r.env.cfg.Docker.PullPolicy
	go func() {
		if pruning != nil {
			select {
			case <-pruning:
			case <-ctx.Done():
			}
		}
		pulled, err := rt.EnsureImage(ctx, image, policy)
		r.done(stepDone{phase: phasePulling, pulled: pulled, err: err})
	}()
}

// startCandidate starts a new container in the color, once the color's
// standby is set aside (runHost.newContainer); a manual switch starts the
// color's existing container instead.
func (r *deploymentRun) startCandidate() {
	rt, startup, poll := r.env.deps.rt, r.env.cfg.Deployment.StartupTimeout, r.env.deps.timers.runPoll
	done := func(id string, port int, startedAt time.Time, err error) {
		r.done(stepDone{phase: phaseStarting, container: id, port: port, startedAt: startedAt, err: err})
	}
	if r.existing {
		id, port := r.host.startExisting(r.color)
		go func() {
			ctx, cancel := timeoutAfterQueue(r.ctx, startup) // startup_timeout runs from the turn in Docker's queue (queue.go)
			defer cancel()
			var startedAt time.Time
			err := rt.Start(ctx, id)
			if err == nil {
				startedAt, err = waitRunning(ctx, rt, id, poll)
			}
			done(id, port, startedAt, err)
		}()
		return
	}
	spec, prepare := r.host.newContainer(r.dep)
	go func() {
		ctx, cancel := timeoutAfterQueue(r.ctx, startup)
		defer cancel()
		if prepare != nil {
			if err := prepare(ctx); err != nil {
				done("", 0, time.Time{}, err)
				return
			}
		}
		id, err := createAndStart(ctx, rt, spec)
		if err != nil {
			done("", 0, time.Time{}, err)
			return
		}
		startedAt, err := waitRunning(ctx, rt, id, poll)
		done(id, spec.HostPort, startedAt, err)
	}()
}

// createAndStart creates and starts the container of spec, after removing
// the one of its name (whatever bluegreen knows of it). A container that
// could not start is removed again.
func createAndStart(ctx context.Context, rt Runtime, spec docker.Spec) (string, error) {
	// Remove returns once the name is free (also when another removal of it runs).
	if err := rt.Remove(ctx, spec.Name); err != nil {
		return "", fmt.Errorf("remove old %s: %w", spec.Name, err)
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
		return "", err
	}
	if err := rt.Start(ctx, id); err != nil {
		rctx, rcancel := timeoutAfterQueue(context.Background(), 30*time.Second)
		_ = rt.Remove(rctx, id)
		rcancel()
		return "", err
	}
	return id, nil
}

// candidateCreated takes the started (or failed to run) candidate into its
// color.
func (r *deploymentRun) candidateCreated(res stepDone) {
	r.candidate = res.container
	id := r.dep.DeploymentID
	if r.existing {
		id = 0 // the color's container from before, of no deployment
	}
	r.host.candidateStarted(r.color, res.container, r.dep.ToImage, res.port, id, res.startedAt, res.err != nil)
	if res.err == nil {
		r.env.event(r.dep.DeploymentID, deploy.EventContainerStarted,
			fmt.Sprintf("%s container %s started from %s on 127.0.0.1:%d", r.color, short(res.container), r.dep.ToImage, res.port),
			map[string]any{"color": r.color, "container": res.container, "port": res.port})
	}
}

// openGate health-checks the candidate until healthy_threshold passes (see
// gateCheck), health_check_timeout, or a crash.
func (r *deploymentRun) openGate() {
	r.host.watchHealth()
	e := r.env
	stopTimer := e.after(e.cfg.Deployment.HealthCheckTimeout, stepDone{gen: r.gen, phase: phaseHealthChecking, err: errGateTimeout})
	ctx, stopWatch := context.WithCancel(r.ctx)
	r.stopGate = func() { stopTimer(); stopWatch() }
	failed := func(err error) { r.done(stepDone{phase: phaseHealthChecking, err: err}) }
	go watchCrash(ctx, e.deps.rt, r.candidate, e.deps.timers.crashPoll, failed)
}

// gateFailure says why the gate failed, recording a crash in the audit trail.
func (r *deploymentRun) gateFailure(err error) string {
	var exited *exitError
	switch {
	case errors.Is(err, errGateTimeout):
		why := fmt.Sprintf("not healthy within health_check_timeout (%s)", r.env.cfg.Deployment.HealthCheckTimeout)
		if r.lastCheckErr != "" {
			why += ": last health check: " + r.lastCheckErr
		}
		if r.host.has(r.color) && !r.host.checked(r.color) {
			why += ": no health check answered"
		}
		return why
	case errors.As(err, &exited):
		r.env.event(r.dep.DeploymentID, deploy.EventContainerExited, err.Error(),
			map[string]any{"color": r.color, "exit_code": exited.ct.ExitCode})
	}
	return err.Error()
}

// switchTraffic moves the proxy to the healthy candidate: it is now the
// active color. The switch is durable: the new active color is written to
// the store before the proxy moves, so a supervisor that dies at any moment
// after never routes back to the old color at its next start (and finishes
// this deployment: adopt.go). A switch the store cannot record does not
// happen: the candidate is rolled back. It ends at once.
func (r *deploymentRun) switchTraffic() stepDone {
	from, err := r.host.switchTo(r.color, r.dep.ToImage)
	if err != nil {
		return stepDone{gen: r.gen, phase: phaseSwitching,
			err: fmt.Errorf("could not record the switch in the store (%v): traffic stays on %s", err, orNone(from))}
	}
	// The proxy logs "traffic switched" itself (proxy.SetTarget), for every
	// move of its route: logged here too, a switch read as two.
	e := r.env
	e.event(r.dep.DeploymentID, deploy.EventProxySwitched,
		fmt.Sprintf("traffic switched from %s to %s (%s)", orNone(from), r.color, r.dep.ToImage),
		map[string]any{"from": from, "to": r.color, "image": r.dep.ToImage})
	r.host.watchHealth() // the old color is no longer monitored
	return stepDone{gen: r.gen, phase: phaseSwitching}
}

// drain lets the old color's requests finish and closes its WebSockets.
func (r *deploymentRun) drain() {
	dc := r.env.cfg.Deployment
	r.env.event(r.dep.DeploymentID, deploy.EventDrainStarted,
		fmt.Sprintf("draining %s (HTTP up to %s, WebSockets up to %s)", r.from, dc.DrainTimeout, dc.WebSocketDrainTimeout),
		map[string]any{"color": r.from})
	r.drainColor(r.from, phaseDraining)
}

// drainColor lets color's requests finish and closes its WebSockets, then
// reports the step of phase p with what the drain did. Not the run's
// context: a stop of the actor in the middle lets the requests finish all
// the same (bounded by the timeouts).
func (r *deploymentRun) drainColor(color deploy.Color, p phase) {
	drain := r.host.drainer(color)
	if drain == nil {
		r.done(stepDone{phase: p})
		return
	}
	go func() { r.done(stepDone{phase: p, drained: drain()}) }()
}

// drained records what the drain of color did.
func (r *deploymentRun) drained(color deploy.Color, res proxy.DrainResult) {
	r.env.event(r.dep.DeploymentID, deploy.EventDrainCompleted,
		fmt.Sprintf("%s drained in %s (%d requests cut, %d WebSockets closed)", color,
			res.Duration.Round(time.Millisecond), res.HTTPCut, res.WebSocketsClosed),
		map[string]any{"color": color, "duration_ms": res.Duration.Milliseconds(),
			"http_cut": res.HTTPCut, "websockets_closed": res.WebSocketsClosed})
}

// stopOld stops the old color's container, which stays for a switch back;
// with none, it ends at once (now).
func (r *deploymentRun) stopOld() (res stepDone, now bool) {
	id := r.host.stopping(r.from)
	r.old = id
	if id == "" {
		return stepDone{gen: r.gen, phase: phaseStopping}, true
	}
	rt, grace := r.env.deps.rt, r.env.cfg.Deployment.StopTimeout
	go func() {
		ctx, cancel := timeoutAfterQueue(context.Background(), grace+30*time.Second)
		defer cancel()
		r.done(stepDone{phase: phaseStopping, err: rt.Stop(ctx, id, grace)})
	}()
	return stepDone{}, false
}

func (r *deploymentRun) oldStopped(err error) {
	switch {
	case !r.host.has(r.from):
	case err != nil:
		r.env.log.Error("stop old container", keyColor, r.from, keyErr, err)
	default:
		r.host.containerStopped(r.from)
		r.env.event(r.dep.DeploymentID, deploy.EventContainerStopped,
			fmt.Sprintf("old %s container %s stopped (kept for switch back)", r.from, short(r.old)),
			map[string]any{"color": r.from})
	}
}

// rollBack keeps the failed candidate's last log lines and removes it (a
// manual switch only stops it: it was there before).
func (r *deploymentRun) rollBack(why string) {
	r.why = why
	r.env.log.Warn("rolling back", keyDeploymentID, r.dep.DeploymentID, "reason", why)
	r.host.rollingBack(r.color, r.candidate)
	rt, id, existing, grace := r.env.deps.rt, r.candidate, r.existing, r.env.cfg.Deployment.StopTimeout
	go func() {
		ctx, cancel := timeoutAfterQueue(context.Background(), grace+30*time.Second)
		defer cancel()
		logs, _ := rt.Logs(ctx, id, logLines)
		var err error
		if existing {
			err = rt.Stop(ctx, id, grace)
		} else {
			err = rt.Remove(ctx, id)
		}
		r.done(stepDone{phase: phaseRollingBack, logs: logs, err: err})
	}()
}

func (r *deploymentRun) candidateRemoved(err error) {
	if err != nil {
		r.env.log.Error("clean up failed container", keyColor, r.color, keyErr, err)
	}
	if !r.existing && err != nil {
		return
	}
	r.host.candidateRemoved(r.color, r.existing)
	if !r.existing {
		r.env.event(r.dep.DeploymentID, deploy.EventContainerRemoved,
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

// waitRunning waits until the container runs, inspecting it every poll,
// and returns when Docker started it (its clock). A container that already
// exited is reported at once; ctx carries startup_timeout.
func waitRunning(ctx context.Context, rt Runtime, id string, poll time.Duration) (time.Time, error) {
	for {
		ct, err := rt.Inspect(ctx, id)
		if err == nil && ct.Running {
			return ct.StartedAt, nil
		}
		if err == nil && (ct.State == "exited" || ct.State == "dead") {
			return time.Time{}, fmt.Errorf("container exited with code %d right after start", ct.ExitCode)
		}
		if err == nil && (ct.State == "restarting" || ct.RestartCount > 0) {
			return time.Time{}, fmt.Errorf("container exited right after start (Docker restarted it %d time(s))", ct.RestartCount)
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return time.Time{}, err
			}
			return time.Time{}, fmt.Errorf("container not running within startup_timeout (state %s)", ct.State)
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
