package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/store"
)

// Container labels (CONTRACT §3).
const (
	LabelApp        = "bluegreen.app"
	LabelColor      = "bluegreen.color"
	LabelManaged    = "bluegreen.managed"
	LabelDeployment = "bluegreen.deployment"
)

// logLines is how many of a failed container's last log lines a deployment keeps.
const logLines = 50

// slot is one color's container as the app actor knows it.
type slot struct {
	id           string
	image        string
	port         int // published host port
	state        string
	deploymentID int64

	healthy      bool // passed healthy_threshold checks in a row since it last started or failed
	unhealthy    bool // failed unhealthy_threshold checks in a row and not healthy since
	checked      bool // at least one check ran
	failures     int  // consecutive failed checks
	passes       int  // consecutive passed checks
	monitor      *actor.PID
	monitorOfID  string
	monitorOfCfg config.HealthCheck
	tally        *atomic.Int64 // the monitor's passes in a row (healthActor)

	oom         bool   // Docker reported an OOM kill since it last started
	exitPending bool   // its exit is not recorded yet (exits.go)
	exitState   string // Docker's state of it right after its exit ("restarting": its policy starts it)
	stopping    bool   // the actor stops or removes it: its exit is no crash
	starting    bool   // the actor starts it: the start is recorded when it answers
	recovering  bool   // the active container died: degraded until healthy again
}

func (s *slot) running() bool { return s != nil && s.state == "running" }

// shownPasses is the container's passes in a row as the API shows them:
// the health actor's own count once a check reached the actor.
func (s *slot) shownPasses() int {
	if s.monitor != nil && s.checked && s.tally != nil {
		return int(s.tally.Load())
	}
	return s.passes
}

// resetHealth forgets the checks of a container that stopped running.
func (s *slot) resetHealth() {
	s.healthy, s.unhealthy, s.checked, s.passes, s.failures = false, false, false, 0, 0
}

// health is the slot's health as the API shows it.
func (s *slot) health() deploy.Health {
	switch {
	case s.monitor == nil || !s.checked:
		return deploy.Unchecked
	case s.healthy:
		return deploy.Healthy
	case s.unhealthy:
		return deploy.Unhealthy
	}
	return deploy.Starting
}

// slotOf is a slot for a container Docker reported for color.
func (a *appActor) slotOf(color deploy.Color, ct docker.Container) *slot {
	s := &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
	if s.port == 0 {
		s.port = a.colorPort(color)
	}
	if id, err := strconv.ParseInt(ct.Labels[LabelDeployment], 10, 64); err == nil {
		s.deploymentID = id
	}
	return s
}

// spec is the container deployment d creates in its color.
func (a *appActor) spec(d deploy.Deployment) docker.Spec {
	c := a.cfg.Docker
	return docker.Spec{
		Name:  a.containerName(d.Color),
		Image: d.ToImage,
		Labels: map[string]string{
			LabelApp:        a.cfg.Name,
			LabelColor:      string(d.Color),
			LabelManaged:    "true",
			LabelDeployment: strconv.FormatInt(d.DeploymentID, 10),
		},
		Env:           c.Environment,
		Volumes:       c.Volumes,
		MemoryBytes:   c.MemoryLimit,
		CPUs:          c.CPULimit,
		RestartPolicy: c.RestartPolicy,
		Network:       c.Network,
		Command:       c.Command,
		HostIP:        "127.0.0.1",
		HostPort:      a.colorPort(d.Color),
		ContainerPort: c.ExposePort,
	}
}

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

// Container operations outside a deployment (opDone.what).
const (
	opStart  = "start"
	opRemove = "remove"
)

// startContainerOp starts an existing container of a color in the background
// (an active container found stopped at adoption, or dead: exits.go).
func (a *appActor) startContainerOp(color deploy.Color) {
	s := a.slots[color]
	s.starting, s.stopping = true, false
	eng, self, rt, id := a.eng, a.self, a.deps.rt, s.id
	timeout := a.cfg.Deployment.StartupTimeout
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := rt.Start(ctx, id)
		eng.Send(self, opDone{what: opStart, color: color, err: err})
	}()
}

// removeSlot force-removes a color's container in the background.
func (a *appActor) removeSlot(color deploy.Color, why string) {
	s := a.slots[color]
	if s == nil {
		return
	}
	a.log.Info("removing container", keyColor, color, keyContainer, short(s.id), "reason", why)
	s.stopping = true
	eng, self, rt, id := a.eng, a.self, a.deps.rt, s.id
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := rt.Remove(ctx, id)
		eng.Send(self, opDone{what: opRemove, color: color, err: err})
	}()
	delete(a.slots, color)
	a.deleteContainer(color)
}

func (a *appActor) onOpDone(c *actor.Context, msg opDone) {
	s := a.slots[msg.color]
	if msg.what == opStart && s != nil {
		s.starting = false
	}
	if msg.err != nil && !(msg.what == opRemove && errors.Is(msg.err, docker.ErrNotFound)) {
		a.log.Error("container "+msg.what, keyColor, msg.color, keyErr, msg.err)
		if msg.what == opStart && msg.color == a.state.ActiveColor && s != nil && !s.running() {
			s.recovering = true
			a.scheduleRevive(msg.color) // try again, later
			a.refreshStatus()
		}
		return
	}
	switch msg.what {
	case opStart:
		if s != nil {
			if !s.running() {
				s.stopping, s.exitState = false, ""
				s.oom = s.oom && s.exitPending
				s.resetHealth()
			}
			s.state = "running"
			a.saveContainer(msg.color)
			a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerStarted,
				fmt.Sprintf("%s container %s started", msg.color, short(s.id)),
				map[string]any{"color": msg.color, "container": s.id, "by": "bluegreen"})
			if msg.color == a.state.ActiveColor {
				a.routeActive()
			}
		}
		a.ensureMonitors(c)
	case opRemove:
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerRemoved,
			fmt.Sprintf("%s container removed", msg.color), map[string]any{"color": msg.color})
	}
	a.refreshStatus()
}

func (a *appActor) saveContainer(color deploy.Color) {
	s := a.slots[color]
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := a.deps.store.PutContainer(ctx, store.Container{App: a.cfg.Name, Color: color, ID: s.id,
		Image: s.image, DeploymentID: s.deploymentID, State: s.state})
	if err != nil {
		a.log.Error("save container", keyColor, color, keyErr, err)
	}
}

func (a *appActor) deleteContainer(color deploy.Color) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := a.deps.store.DeleteContainer(ctx, a.cfg.Name, color); err != nil {
		a.log.Error("delete container", keyColor, color, keyErr, err)
	}
}

func (a *appActor) containerName(color deploy.Color) string { return a.cfg.Name + "-" + string(color) }

func (a *appActor) colorPort(color deploy.Color) int {
	if color == deploy.Green {
		return a.cfg.Ports.Green
	}
	return a.cfg.Ports.Blue
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
