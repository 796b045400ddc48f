package actors

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/store"
)

// Container labels (docs/deployments.md, "Containers and labels").
const (
	LabelApp        = "bluegreen.app"
	LabelColor      = "bluegreen.color"
	LabelManaged    = "bluegreen.managed"
	LabelDeployment = "bluegreen.deployment"
)

// appContainers are an app's two colors' containers as its actor knows
// them, kept in the store as they change: adoption, the reconcile, Docker's
// events, the actor's own starts and removals, a deployment and the health
// checks change them, each through a method here, in inspect.go, exits.go
// or standby.go (a color's standby set aside while a candidate takes the
// color); no other file writes a slot. It also knows whether Docker
// answered its last read.
type appContainers struct {
	env      *env
	slots    map[deploy.Color]*slot
	asides   map[deploy.Color]*aside // the standbys set aside while a candidate takes their color (standby.go)
	asideGen uint64                  // numbers the standbys' operations
	removing []<-chan struct{}       // the removals of standbys that passed, closed when each ended (removals)
	seen     [2]uint64               // the events of each color taken (reconcileResult.seen)

	adopted bool  // Docker listed them once
	reading bool  // a read of both colors (the reconcile) is in flight
	dockErr error // Docker did not answer the last adoption or read
}

// slot is one color's container as the app actor knows it.
type slot struct {
	id           string
	image        string
	port         int // published host port
	state        string
	deploymentID int64
	// startedAt is when Docker started the run of it that the actor started
	// and waited for (Docker's clock; zero when it did not): its events
	// from before are of an earlier run (earlierRun).
	startedAt time.Time

	healthy   bool // passed healthy_threshold checks in a row since it last started or failed
	unhealthy bool // failed unhealthy_threshold checks in a row and not healthy since
	checked   bool // at least one check ran
	failures  int  // consecutive failed checks (not those before its first pass: starting)
	passes    int  // consecutive passed checks
	fresh     bool // started since the actor knew it and no check passed since: its first failed checks are starting

	oom         bool   // Docker reported an OOM kill since it last started
	exitPending bool   // its exit is not recorded yet (exits.go)
	exitState   string // Docker's state of it right after its exit ("restarting": its policy starts it)
	stopping    bool   // the actor stops or removes it: its exit is no crash
	starting    bool   // the actor starts it: the start is recorded when it answers
	recovering  bool   // the active container died: degraded until healthy again
}

func newAppContainers(e *env) appContainers {
	return appContainers{env: e, slots: map[deploy.Color]*slot{}, asides: map[deploy.Color]*aside{}}
}

func (s *slot) running() bool { return s != nil && s.state == "running" }

// resetHealth forgets the checks of a container that stopped running.
func (s *slot) resetHealth() {
	s.healthy, s.unhealthy, s.checked, s.passes, s.failures = false, false, false, 0, 0
}

// Reads. A slot read is a copy: it changes only here.

// get returns color's container; false when there is none.
func (cs *appContainers) get(color deploy.Color) (slot, bool) {
	if s := cs.slots[color]; s != nil {
		return *s, true
	}
	return slot{}, false
}

// running reports whether color's container runs.
func (cs *appContainers) running(color deploy.Color) bool { return cs.slots[color].running() }

// count is how many colors have a container.
func (cs *appContainers) count() int { return len(cs.slots) }

// each calls f with each color's container, blue first.
func (cs *appContainers) each(f func(color deploy.Color, s slot)) {
	for _, color := range deploy.Colors {
		if s := cs.slots[color]; s != nil {
			f(color, *s)
		}
	}
}

// isAdopted reports whether Docker listed the containers once.
func (cs *appContainers) isAdopted() bool { return cs.adopted }

// dockerErr is why Docker did not answer the last read; nil when it did.
func (cs *appContainers) dockerErr() error { return cs.dockErr }

// name is the name of color's container.
func (cs *appContainers) name(color deploy.Color) string {
	return cs.env.cfg.Name + "-" + string(color)
}

// port is the host port color's containers publish.
func (cs *appContainers) port(color deploy.Color) int {
	if color == deploy.Green {
		return cs.env.cfg.Ports.Green
	}
	return cs.env.cfg.Ports.Blue
}

// colorOf names the color of a container Docker reported, when it is one
// of this app's, named and labelled as bluegreen names them.
func (cs *appContainers) colorOf(ct docker.Container) (deploy.Color, bool) {
	color := deploy.Color(ct.Labels[LabelColor])
	return color, color.Valid() && ct.Name == cs.name(color)
}

// spec is the container deployment d creates in its color.
func (cs *appContainers) spec(d deploy.Deployment) docker.Spec {
	cfg := cs.env.cfg
	c := cfg.Docker
	return docker.Spec{
		Name:  cs.name(d.Color),
		Image: d.ToImage,
		Labels: map[string]string{
			LabelApp:        cfg.Name,
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
		HostPort:      cs.port(d.Color),
		ContainerPort: c.ExposePort,
	}
}

// A deployment's changes (phases.go).

// startExisting marks color's existing container as started by the actor (a
// manual switch) and returns it.
func (cs *appContainers) startExisting(color deploy.Color) (id string, port int) {
	s := cs.slots[color]
	s.starting, s.stopping = true, false
	return s.id, s.port
}

// clear forgets color's container: a deployment replaces it, or removed it.
func (cs *appContainers) clear(color deploy.Color) {
	delete(cs.slots, color)
	cs.delete(color)
}

// putCandidate takes a deployment's candidate into its color: running since
// startedAt, or exited when it did not stay up (failed).
func (cs *appContainers) putCandidate(color deploy.Color, id, image string, port int, deploymentID int64, startedAt time.Time, failed bool) {
	s := &slot{id: id, image: image, port: port, state: "running", deploymentID: deploymentID, fresh: true, startedAt: startedAt}
	if failed {
		s.state = "exited"
	}
	cs.slots[color] = s
	cs.save(color)
}

// stopping marks color's container id as stopped or removed by the actor:
// its exit is no crash. It reports whether id is color's container.
func (cs *appContainers) stopping(color deploy.Color, id string) bool {
	s := cs.slots[color]
	if s == nil || s.id != id {
		return false
	}
	s.stopping = true
	return true
}

// stopped records that the actor stopped color's container (the old color
// after a switch): it stays, exited, for a switch back.
func (cs *appContainers) stopped(color deploy.Color) {
	s := cs.slots[color]
	s.state = "exited"
	s.resetHealth()
	cs.save(color)
}

// rolledBack records that a manual switch's candidate, color's existing
// container, is stopped again.
func (cs *appContainers) rolledBack(color deploy.Color) {
	if s := cs.slots[color]; s != nil {
		s.state = "exited"
		cs.save(color)
	}
}

// Health: what the health checks found of a container.

// checked takes the counts of a check of color's container id; false when
// the check is of a container that is gone.
func (cs *appContainers) checked(color deploy.Color, id string, passes, failures int) bool {
	s := cs.slots[color]
	if s == nil || s.id != id {
		return false
	}
	s.checked = true
	s.passes, s.failures = passes, failures
	if passes > 0 {
		s.fresh = false
	}
	return true
}

// passedGate marks color's candidate healthy once its checks reached
// healthy_threshold; it reports whether they did.
func (cs *appContainers) passedGate(color deploy.Color) bool {
	s := cs.slots[color]
	if s == nil || s.passes < cs.env.cfg.HealthCheck.HealthyThreshold {
		return false
	}
	s.healthy, s.unhealthy = true, false
	return true
}

// activeCheck counts a check of the active container: unhealthy after
// unhealthy_threshold failures in a row, healthy again after
// healthy_threshold passes. It reports whether that ended a recovery
// (exits.go): the container is back since it died.
func (cs *appContainers) activeCheck(color deploy.Color, check deploy.HealthCheck, hc config.HealthCheck) (recovered bool) {
	s, e := cs.slots[color], cs.env
	switch {
	case !check.Success && s.failures == hc.UnhealthyThreshold:
		s.healthy, s.unhealthy = false, true
		e.log.Warn("active container unhealthy", keyColor, color, "failures", s.failures, keyErr, check.Error)
		e.event(0, deploy.EventContainerUnhealthy,
			fmt.Sprintf("active %s container failed %d health checks: %s", color, s.failures, check.Error),
			map[string]any{"color": color, "error": check.Error})
	case check.Success && !s.healthy && s.passes >= hc.HealthyThreshold:
		s.healthy, s.unhealthy = true, false
		recovered, s.recovering = s.recovering, false
		e.log.Info("active container healthy", keyColor, color)
		e.event(0, deploy.EventContainerHealthy, fmt.Sprintf("active %s container is healthy", color), map[string]any{"color": color})
	}
	return recovered
}

// health is a container's health as the API shows it; monitored: a health
// actor checks it.
func (s slot) health(monitored bool) deploy.Health {
	switch {
	case !monitored || !s.checked:
		return deploy.Unchecked
	case s.healthy:
		return deploy.Healthy
	case s.unhealthy:
		return deploy.Unhealthy
	}
	return deploy.Starting
}

// The store's copy.

func (cs *appContainers) save(color deploy.Color) {
	s := cs.slots[color]
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := cs.env.deps.store.PutContainer(ctx, store.Container{App: cs.env.cfg.Name, Color: color, ID: s.id,
		Image: s.image, DeploymentID: s.deploymentID, State: s.state})
	if err != nil {
		cs.env.log.Error("save container", keyColor, color, keyErr, err)
	}
}

func (cs *appContainers) delete(color deploy.Color) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := cs.env.deps.store.DeleteContainer(ctx, cs.env.cfg.Name, color); err != nil {
		cs.env.log.Error("delete container", keyColor, color, keyErr, err)
	}
}

// aside is a color's standby set aside (standby.go).
type aside struct {
	slot               // the container as it was in its color
	gen  uint64        // tags its operation in flight: a standbyDone of another is stale
	op   chan struct{} // closed when its operation in flight ended; nil: none began
}
