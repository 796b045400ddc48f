package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// Phase names beyond the deployment statuses.
const (
	phaseStopping = "stopping" // stopping the old container after drain
	phaseRollback = "rollback" // stopping and removing a failed candidate
)

// crashPollInterval is how often the candidate container is inspected
// during the health gate, so a crash ends the gate at once.
const crashPollInterval = 200 * time.Millisecond

// deployRun is the deployment an app actor is running.
type deployRun struct {
	dep        deploy.Deployment
	gen        uint64
	ctx        context.Context
	cancel     context.CancelFunc
	color      deploy.Color // the color being deployed
	oldColor   deploy.Color // the active color when it began
	switchOnly bool         // a manual switch: start the existing container, never remove it

	containerID  string
	gating       bool // in the health gate
	lastCheckErr string
	phaseOpen    bool
	failStatus   deploy.Status
	failErr      string

	timer *time.Timer
}

func (r *deployRun) stopTimers() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// onDeploy handles a deploy request: unchanged, the running deployment,
// queued (the newest queued wins), or a new deployment.
func (a *appActor) onDeploy(c *actor.Context, image string, trigger deploy.Trigger) DeployReply {
	redeploy := image == ""
	if redeploy {
		image = a.state.CurrentImage
		if image == "" {
			image = a.cfg.Image
		}
	}
	if a.state.DesiredImage != image {
		a.state.DesiredImage = image
		a.saveState()
	}
	if r := a.run; r != nil {
		if r.dep.ToImage == image && !redeploy && !r.switchOnly {
			return DeployReply{Response: deploy.Response{DeploymentID: r.dep.DeploymentID, Status: deploy.AnswerStarted}}
		}
		return a.enqueue(image, trigger)
	}
	if !redeploy && image == a.state.CurrentImage && a.serving() {
		return DeployReply{Response: deploy.Response{DeploymentID: a.lastDeploymentID, Status: deploy.AnswerUnchanged}}
	}
	id, err := a.startDeployment(c, image, trigger, "")
	if err != nil {
		return DeployReply{Err: err}
	}
	return DeployReply{Response: deploy.Response{DeploymentID: id, Status: deploy.AnswerStarted}}
}

// serving reports whether the active container runs and is not failing checks.
func (a *appActor) serving() bool {
	s := a.slots[a.state.ActiveColor]
	st, _ := a.appStatus()
	return s.running() && st == deploy.AppStable
}

func (a *appActor) enqueue(image string, trigger deploy.Trigger) DeployReply {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if a.queued != nil {
		a.endQueued(ctx, deploy.StatusSuperseded, "superseded by a newer request for "+image)
	}
	d := deploy.Deployment{App: a.cfg.Name, FromImage: a.state.CurrentImage, ToImage: image,
		TriggerSource: trigger, Status: deploy.StatusQueued, StartedAt: time.Now().UTC()}
	if err := a.deps.store.CreateDeployment(ctx, &d); err != nil {
		return DeployReply{Err: fmt.Errorf("record deployment: %w", err)}
	}
	a.queued = &d
	a.log.Info("deployment queued", keyDeploymentID, d.DeploymentID, keyImage, image)
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentQueued,
		fmt.Sprintf("deployment %d of %s queued behind deployment %d", d.DeploymentID, image, a.run.dep.DeploymentID),
		map[string]any{"status": d.Status, "image": image})
	return DeployReply{Response: deploy.Response{DeploymentID: d.DeploymentID, Status: deploy.AnswerQueued}}
}

// endQueued ends the queued deployment with a final status.
func (a *appActor) endQueued(ctx context.Context, status deploy.Status, why string) {
	q := a.queued
	a.queued = nil
	now := time.Now().UTC()
	q.Status, q.Error, q.CompletedAt = status, why, &now
	q.DurationMS = now.Sub(q.StartedAt).Milliseconds()
	if err := a.deps.store.UpdateDeployment(ctx, q); err != nil {
		a.log.Error("update deployment", keyDeploymentID, q.DeploymentID, keyErr, err)
	}
	a.deps.rec.event(a.cfg.Name, q.DeploymentID, status.Event(),
		fmt.Sprintf("deployment %d of %s %s: %s", q.DeploymentID, q.ToImage, status, why),
		map[string]any{"status": status, "error": why})
}

func (a *appActor) onRollback(c *actor.Context, trigger deploy.Trigger) DeployReply {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	done, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, []deploy.Status{deploy.StatusCompleted}, 200)
	if err != nil {
		return DeployReply{Err: fmt.Errorf("read history: %w", err)}
	}
	target := ""
	for i, d := range done {
		if i == 0 && d.ToImage == a.state.CurrentImage {
			continue // the current one
		}
		if d.ToImage != a.state.CurrentImage {
			target = d.ToImage
			break
		}
	}
	if target == "" {
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"%s has no earlier completed deployment of another image to roll back to", a.cfg.Name)}
	}
	return a.onDeploy(c, target, trigger)
}

func (a *appActor) onSwitch(c *actor.Context, color deploy.Color) DeployReply {
	switch {
	case !color.Valid():
		return DeployReply{Err: deploy.Errorf(deploy.EINVALID, "color must be blue or green, not %q", color)}
	case a.run != nil:
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"deployment %d of %s is running: wait for it to end, then switch", a.run.dep.DeploymentID, a.cfg.Name)}
	case color == a.state.ActiveColor:
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s is already the active color of %s", color, a.cfg.Name)}
	case a.slots[color] == nil || a.slots[color].id == "":
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"%s has no %s container to switch to: deploy an image instead", a.cfg.Name, color)}
	}
	id, err := a.startDeployment(c, a.slots[color].image, deploy.TriggerManual, color)
	if err != nil {
		return DeployReply{Err: err}
	}
	return DeployReply{Response: deploy.Response{DeploymentID: id, Status: deploy.AnswerStarted}}
}

// startDeployment records a new deployment and begins it. switchTo names the
// color of an existing container to switch to (a manual switch); otherwise the
// image goes into the inactive color. It returns the deployment's ID.
func (a *appActor) startDeployment(c *actor.Context, image string, trigger deploy.Trigger, switchTo deploy.Color) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	color := a.state.ActiveColor.Other()
	if a.state.ActiveColor == "" {
		color = deploy.Blue
	}
	if switchTo != "" {
		color = switchTo
	}
	d := deploy.Deployment{App: a.cfg.Name, FromImage: a.state.CurrentImage, ToImage: image, Color: color,
		TriggerSource: trigger, Status: deploy.StatusPulling, StartedAt: time.Now().UTC()}
	if switchTo != "" {
		d.Status = deploy.StatusStarting
	}
	if err := a.deps.store.CreateDeployment(ctx, &d); err != nil {
		return 0, fmt.Errorf("record deployment: %w", err)
	}
	a.begin(c, d, switchTo != "")
	return d.DeploymentID, nil
}

// begin runs a recorded deployment.
func (a *appActor) begin(c *actor.Context, d deploy.Deployment, switchOnly bool) {
	rctx, cancel := context.WithCancel(context.Background())
	r := &deployRun{dep: d, gen: a.nextGen(), ctx: rctx, cancel: cancel, color: d.Color,
		oldColor: a.state.ActiveColor, switchOnly: switchOnly}
	a.run = r
	if a.state.DesiredImage != d.ToImage {
		a.state.DesiredImage = d.ToImage
	}
	a.refreshStatus()
	a.saveState()
	what := "deploying " + d.ToImage + " into " + string(d.Color)
	if switchOnly {
		what = "switching to " + string(d.Color) + " (" + d.ToImage + ")"
	}
	a.log.Info("deployment started", keyDeploymentID, d.DeploymentID, keyImage, d.ToImage, keyColor, d.Color, keyTrigger, d.TriggerSource)
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentStarted,
		fmt.Sprintf("deployment %d: %s (trigger %s)", d.DeploymentID, what, d.TriggerSource),
		map[string]any{"status": d.Status, "image": d.ToImage, "color": d.Color, "from_image": d.FromImage, "trigger_source": d.TriggerSource})
	if switchOnly {
		a.phaseStarting(c)
		return
	}
	a.enterPhase(string(deploy.StatusPulling))
	eng, self, rt, gen := a.eng, a.self, a.deps.rt, r.gen
	image, policy := d.ToImage, a.cfg.Docker.PullPolicy
	go func() {
		pulled, err := rt.EnsureImage(rctx, image, policy)
		eng.Send(self, pullDone{gen: gen, pulled: pulled, err: err})
	}()
}

// enterPhase closes the current phase and opens the next one, persisting
// the deployment and recording an event.
func (a *appActor) enterPhase(name string) {
	r := a.run
	a.closePhase("")
	r.dep.Phases = append(r.dep.Phases, deploy.Phase{Name: name, StartedAt: time.Now().UTC()})
	r.phaseOpen = true
	switch st := deploy.Status(name); st {
	case deploy.StatusPulling, deploy.StatusStarting, deploy.StatusHealthChecking, deploy.StatusSwitching, deploy.StatusDraining:
		r.dep.Status = st
	}
	a.saveDeployment()
	a.log.Info("deployment phase", keyDeploymentID, r.dep.DeploymentID, keyPhase, name)
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventDeploymentPhase,
		fmt.Sprintf("deployment %d: %s", r.dep.DeploymentID, name),
		map[string]any{"phase": name, "status": r.dep.Status})
}

func (a *appActor) closePhase(errMsg string) {
	r := a.run
	if !r.phaseOpen || len(r.dep.Phases) == 0 {
		return
	}
	p := &r.dep.Phases[len(r.dep.Phases)-1]
	p.DurationMS = time.Since(p.StartedAt).Milliseconds()
	p.Error = errMsg
	r.phaseOpen = false
}

func (a *appActor) saveDeployment() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := a.deps.store.UpdateDeployment(ctx, &a.run.dep); err != nil {
		a.log.Error("save deployment", keyDeploymentID, a.run.dep.DeploymentID, keyErr, err)
	}
}

func (a *appActor) current(gen uint64) *deployRun {
	if a.run == nil || a.run.gen != gen {
		return nil
	}
	return a.run
}

func (a *appActor) onPullDone(c *actor.Context, msg pullDone) {
	r := a.current(msg.gen)
	if r == nil {
		return
	}
	if msg.err != nil {
		a.finish(c, deploy.StatusFailed, dockerMessage(msg.err), nil)
		return
	}
	if msg.pulled {
		a.log.Info("image pulled", keyImage, r.dep.ToImage)
	}
	a.phaseStarting(c)
}

// phaseStarting replaces the color's container with a new one and starts it
// (or, for a switch, starts the existing one).
func (a *appActor) phaseStarting(c *actor.Context) {
	r := a.run
	a.enterPhase(string(deploy.StatusStarting))
	eng, self, rt, gen := a.eng, a.self, a.deps.rt, r.gen
	startup := a.cfg.Deployment.StartupTimeout
	if r.switchOnly {
		s := a.slots[r.color]
		id, port := s.id, s.port
		go func() {
			ctx, cancel := context.WithTimeout(r.ctx, startup)
			defer cancel()
			err := rt.Start(ctx, id)
			if err == nil {
				err = waitRunning(ctx, rt, id)
			}
			eng.Send(self, startDone{gen: gen, id: id, port: port, err: err})
		}()
		return
	}
	spec := a.spec(r)
	old := a.slots[r.color]
	delete(a.slots, r.color)
	if old != nil && old.monitor != nil {
		c.Engine().Poison(old.monitor)
	}
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, startup)
		defer cancel()
		// The inactive color's old container (by name, whatever bluegreen knows) goes first.
		// Remove returns once the name is free (also when another removal of it runs).
		if err := rt.Remove(ctx, spec.Name); err != nil {
			eng.Send(self, startDone{gen: gen, err: fmt.Errorf("remove old %s: %w", spec.Name, err)})
			return
		}
		id, err := rt.Create(ctx, spec)
		if err != nil {
			eng.Send(self, startDone{gen: gen, err: err})
			return
		}
		if err := rt.Start(ctx, id); err != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = rt.Remove(rctx, id)
			rcancel()
			eng.Send(self, startDone{gen: gen, err: err})
			return
		}
		err = waitRunning(ctx, rt, id)
		eng.Send(self, startDone{gen: gen, id: id, port: spec.HostPort, err: err})
	}()
	if old != nil {
		a.deleteContainer(r.color)
	}
}

// waitRunning waits until the container runs. A container that already exited
// is reported at once; ctx carries startup_timeout.
func waitRunning(ctx context.Context, rt Runtime, id string) error {
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
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// spec is the container a deployment creates.
func (a *appActor) spec(r *deployRun) docker.Spec {
	d := a.cfg.Docker
	return docker.Spec{
		Name:  a.containerName(r.color),
		Image: r.dep.ToImage,
		Labels: map[string]string{
			LabelApp:        a.cfg.Name,
			LabelColor:      string(r.color),
			LabelManaged:    "true",
			LabelDeployment: strconv.FormatInt(r.dep.DeploymentID, 10),
		},
		Env:           d.Environment,
		Volumes:       d.Volumes,
		MemoryBytes:   d.MemoryLimit,
		CPUs:          d.CPULimit,
		RestartPolicy: d.RestartPolicy,
		Network:       d.Network,
		Command:       d.Command,
		HostIP:        "127.0.0.1",
		HostPort:      a.colorPort(r.color),
		ContainerPort: d.ExposePort,
	}
}

func (a *appActor) onStartDone(c *actor.Context, msg startDone) {
	r := a.current(msg.gen)
	if r == nil {
		return
	}
	if msg.err != nil && msg.id == "" {
		a.finish(c, deploy.StatusFailed, dockerMessage(msg.err), nil)
		return
	}
	r.containerID = msg.id
	a.slots[r.color] = &slot{id: msg.id, image: r.dep.ToImage, port: msg.port, state: "running", deploymentID: r.dep.DeploymentID}
	if r.switchOnly {
		a.slots[r.color].deploymentID = 0
	}
	a.saveContainer(r.color)
	if msg.err != nil {
		a.slots[r.color].state = "exited"
		a.rollback(c, msg.err.Error())
		return
	}
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerStarted,
		fmt.Sprintf("%s container %s started from %s on 127.0.0.1:%d", r.color, short(msg.id), r.dep.ToImage, msg.port),
		map[string]any{"color": r.color, "container": msg.id, "port": msg.port})
	a.enterPhase(string(deploy.StatusHealthChecking))
	r.gating = true
	a.ensureMonitors(c)
	eng, self, gen := a.eng, a.self, r.gen
	r.timer = time.AfterFunc(a.cfg.Deployment.HealthCheckTimeout, func() { eng.Send(self, healthTimeout{gen: gen}) })
	rt, id, rctx := a.deps.rt, msg.id, r.ctx
	go watchCrash(rctx, rt, id, func(ct docker.Container) { eng.Send(self, containerExited{gen: gen, c: ct}) })
}

// watchCrash inspects the container until ctx ends and reports once when it
// stops running or restarts.
func watchCrash(ctx context.Context, rt Runtime, id string, report func(docker.Container)) {
	t := time.NewTicker(crashPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ct, err := rt.Inspect(ctx, id)
		if errors.Is(err, docker.ErrNotFound) {
			report(docker.Container{ID: id, State: "removed"})
			return
		}
		if err != nil {
			continue
		}
		if !ct.Running || ct.RestartCount > 0 {
			report(ct)
			return
		}
	}
}

func (a *appActor) onContainerExited(c *actor.Context, msg containerExited) {
	r := a.current(msg.gen)
	if r == nil || !r.gating {
		return
	}
	why := fmt.Sprintf("container %s exited with code %d during health checks", short(msg.c.ID), msg.c.ExitCode)
	switch {
	case msg.c.State == "removed":
		why = "container " + short(msg.c.ID) + " disappeared during health checks"
	case msg.c.RestartCount > 0:
		why = fmt.Sprintf("container %s exited during health checks (Docker restarted it %d time(s))",
			short(msg.c.ID), msg.c.RestartCount)
	case msg.c.OOMKilled:
		why = fmt.Sprintf("container %s was killed for exceeding its memory limit during health checks", short(msg.c.ID))
	}
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerExited, why,
		map[string]any{"color": r.color, "exit_code": msg.c.ExitCode})
	a.rollback(c, why)
}

func (a *appActor) onHealthTimeout(c *actor.Context, msg healthTimeout) {
	r := a.current(msg.gen)
	if r == nil || !r.gating {
		return
	}
	why := fmt.Sprintf("not healthy within health_check_timeout (%s)", a.cfg.Deployment.HealthCheckTimeout)
	if r.lastCheckErr != "" {
		why += ": last health check: " + r.lastCheckErr
	}
	s := a.slots[r.color]
	if s != nil && !s.checked {
		why += ": no health check answered"
	}
	a.rollback(c, why)
}

// switchTraffic moves the proxy to the healthy candidate, then drains the old color.
func (a *appActor) switchTraffic(c *actor.Context) {
	r := a.run
	r.gating = false
	r.stopTimers()
	a.enterPhase(string(deploy.StatusSwitching))
	from := a.state.ActiveColor
	a.state.ActiveColor = r.color
	a.state.CurrentImage = r.dep.ToImage
	a.routeActive()
	a.saveState()
	a.log.Info("traffic switched", keyFrom, from, keyTo, r.color, keyImage, r.dep.ToImage)
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventProxySwitched,
		fmt.Sprintf("traffic switched from %s to %s (%s)", orNone(from), r.color, r.dep.ToImage),
		map[string]any{"from": from, "to": r.color, "image": r.dep.ToImage})
	a.ensureMonitors(c) // the old color is no longer monitored
	old := a.slots[r.oldColor]
	if r.oldColor == "" || r.oldColor == r.color || old == nil {
		a.finish(c, deploy.StatusCompleted, "", nil)
		return
	}
	a.enterPhase(string(deploy.StatusDraining))
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventDrainStarted,
		fmt.Sprintf("draining %s (HTTP up to %s, WebSockets up to %s)", r.oldColor,
			a.cfg.Deployment.DrainTimeout, a.cfg.Deployment.WebSocketDrainTimeout),
		map[string]any{"color": r.oldColor})
	eng, self, gen, p := a.eng, a.self, r.gen, a.proxy
	color, httpT, wsT := r.oldColor, a.cfg.Deployment.DrainTimeout, a.cfg.Deployment.WebSocketDrainTimeout
	if p == nil {
		eng.Send(self, drainDone{gen: gen})
		return
	}
	go func() {
		res := p.Drain(r.ctx, string(color), httpT, wsT)
		eng.Send(self, drainDone{gen: gen, res: res})
	}()
}

func (a *appActor) onDrainDone(c *actor.Context, msg drainDone) {
	r := a.current(msg.gen)
	if r == nil {
		return
	}
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventDrainCompleted,
		fmt.Sprintf("%s drained in %s (%d requests cut, %d WebSockets closed)", r.oldColor,
			msg.res.Duration.Round(time.Millisecond), msg.res.HTTPCut, msg.res.WebSocketsClosed),
		map[string]any{"color": r.oldColor, "duration_ms": msg.res.Duration.Milliseconds(),
			"http_cut": msg.res.HTTPCut, "websockets_closed": msg.res.WebSocketsClosed})
	a.enterPhase(phaseStopping)
	old := a.slots[r.oldColor]
	if old == nil || old.id == "" {
		a.finish(c, deploy.StatusCompleted, "", nil)
		return
	}
	eng, self, rt, gen, id, grace := a.eng, a.self, a.deps.rt, r.gen, old.id, a.cfg.Deployment.StopTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
		defer cancel()
		eng.Send(self, stopDone{gen: gen, err: rt.Stop(ctx, id, grace)})
	}()
}

func (a *appActor) onStopDone(c *actor.Context, msg stopDone) {
	r := a.current(msg.gen)
	if r == nil {
		return
	}
	if old := a.slots[r.oldColor]; old != nil {
		if msg.err != nil {
			a.log.Error("stop old container", keyColor, r.oldColor, keyErr, msg.err)
		} else {
			old.state = "exited"
			old.resetHealth()
			a.saveContainer(r.oldColor)
			a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerStopped,
				fmt.Sprintf("old %s container %s stopped (kept for switch back)", r.oldColor, short(old.id)),
				map[string]any{"color": r.oldColor})
		}
	}
	a.finish(c, deploy.StatusCompleted, "", nil)
}

// rollback stops the gate and cleans up the candidate: removed after a
// failed deployment, only stopped after a failed switch.
func (a *appActor) rollback(c *actor.Context, why string) {
	r := a.run
	r.gating = false
	r.stopTimers()
	r.failStatus, r.failErr = deploy.StatusRolledBack, why
	a.closePhase(why)
	a.log.Warn("rolling back", keyDeploymentID, r.dep.DeploymentID, "reason", why)
	a.enterPhase(phaseRollback)
	a.ensureMonitors(c)
	eng, self, rt, gen, id, switchOnly, grace := a.eng, a.self, a.deps.rt, r.gen, r.containerID, r.switchOnly, a.cfg.Deployment.StopTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
		defer cancel()
		logs, _ := rt.Logs(ctx, id, logLines)
		var err error
		if switchOnly {
			err = rt.Stop(ctx, id, grace)
		} else {
			err = rt.Remove(ctx, id)
		}
		eng.Send(self, rollbackDone{gen: gen, logs: logs, err: err})
	}()
}

func (a *appActor) onRollbackDone(c *actor.Context, msg rollbackDone) {
	r := a.current(msg.gen)
	if r == nil {
		return
	}
	if msg.err != nil {
		a.log.Error("clean up failed container", keyColor, r.color, keyErr, msg.err)
	}
	if r.switchOnly {
		if s := a.slots[r.color]; s != nil {
			s.state = "exited"
			a.saveContainer(r.color)
		}
	} else if msg.err == nil {
		delete(a.slots, r.color)
		a.deleteContainer(r.color)
		a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, deploy.EventContainerRemoved,
			fmt.Sprintf("failed %s container %s removed", r.color, short(r.containerID)), map[string]any{"color": r.color})
	}
	a.finish(c, r.failStatus, r.failErr, msg.logs)
}

// finish ends the running deployment, records it, and starts the queued one.
func (a *appActor) finish(c *actor.Context, status deploy.Status, errMsg string, logs []string) {
	r := a.run
	r.stopTimers()
	r.cancel()
	a.closePhase(errMsg)
	now := time.Now().UTC()
	r.dep.Status, r.dep.Error, r.dep.Logs = status, errMsg, logs
	r.dep.CompletedAt = &now
	r.dep.DurationMS = now.Sub(r.dep.StartedAt).Milliseconds()
	a.saveDeployment()
	a.run = nil
	if status == deploy.StatusCompleted {
		a.lastDeploymentID = r.dep.DeploymentID
	}
	msg := fmt.Sprintf("deployment %d of %s %s in %s", r.dep.DeploymentID, r.dep.ToImage, status,
		time.Duration(r.dep.DurationMS)*time.Millisecond)
	if errMsg != "" {
		msg += ": " + errMsg
		a.log.Warn("deployment ended", keyDeploymentID, r.dep.DeploymentID, keyStatus, status, keyDuration, r.dep.DurationMS, keyErr, errMsg)
	} else {
		a.log.Info("deployment ended", keyDeploymentID, r.dep.DeploymentID, keyStatus, status, keyDuration, r.dep.DurationMS)
	}
	a.deps.rec.event(a.cfg.Name, r.dep.DeploymentID, status.Event(), msg,
		map[string]any{"status": status, "error": errMsg, "duration_ms": r.dep.DurationMS, "image": r.dep.ToImage})
	if status != deploy.StatusCompleted && a.queued == nil {
		// What was asked for did not happen: the desired image is what serves,
		// so a restart does not try the failed image again.
		a.state.DesiredImage = a.state.CurrentImage
		a.saveState()
	}
	a.ensureMonitors(c)
	a.refreshStatus()
	if q := a.queued; q != nil {
		a.queued = nil
		q.Color = a.state.ActiveColor.Other()
		if a.state.ActiveColor == "" {
			q.Color = deploy.Blue
		}
		q.FromImage = a.state.CurrentImage
		q.Status = deploy.StatusPulling
		q.StartedAt = time.Now().UTC()
		a.begin(c, *q, false)
	}
}

// dockerMessage makes a Docker error read as what to do.
func dockerMessage(err error) string {
	if errors.Is(err, docker.ErrUnavailable) {
		return "Docker unreachable: " + err.Error()
	}
	return err.Error()
}

func orNone(color deploy.Color) deploy.Color {
	if color == "" {
		return "none"
	}
	return color
}
