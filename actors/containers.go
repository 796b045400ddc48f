package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

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

// containers are an app's two colors' containers as its actor knows them,
// kept in the store as they change: adoption, the reconcile, Docker's
// events, the actor's own starts and removals, a deployment and the health
// checks change them, each through a method here or in exits.go; no other
// file writes a slot. It also knows whether Docker answered its last read.
type containers struct {
	env   *env
	slots map[deploy.Color]*slot
	seen  [2]uint64 // the events of each color taken (reconcileResult.seen)

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

	healthy   bool // passed healthy_threshold checks in a row since it last started or failed
	unhealthy bool // failed unhealthy_threshold checks in a row and not healthy since
	checked   bool // at least one check ran
	failures  int  // consecutive failed checks
	passes    int  // consecutive passed checks

	oom         bool   // Docker reported an OOM kill since it last started
	exitPending bool   // its exit is not recorded yet (exits.go)
	exitState   string // Docker's state of it right after its exit ("restarting": its policy starts it)
	stopping    bool   // the actor stops or removes it: its exit is no crash
	starting    bool   // the actor starts it: the start is recorded when it answers
	recovering  bool   // the active container died: degraded until healthy again
}

func newContainers(e *env) containers {
	return containers{env: e, slots: map[deploy.Color]*slot{}}
}

func (s *slot) running() bool { return s != nil && s.state == "running" }

// resetHealth forgets the checks of a container that stopped running.
func (s *slot) resetHealth() {
	s.healthy, s.unhealthy, s.checked, s.passes, s.failures = false, false, false, 0, 0
}

// Reads. A slot read is a copy: it changes only here.

// get returns color's container; false when there is none.
func (cs *containers) get(color deploy.Color) (slot, bool) {
	if s := cs.slots[color]; s != nil {
		return *s, true
	}
	return slot{}, false
}

// running reports whether color's container runs.
func (cs *containers) running(color deploy.Color) bool { return cs.slots[color].running() }

// count is how many colors have a container.
func (cs *containers) count() int { return len(cs.slots) }

// each calls f with each color's container, blue first.
func (cs *containers) each(f func(color deploy.Color, s slot)) {
	for _, color := range deploy.Colors {
		if s := cs.slots[color]; s != nil {
			f(color, *s)
		}
	}
}

// isAdopted reports whether Docker listed the containers once.
func (cs *containers) isAdopted() bool { return cs.adopted }

// dockerErr is why Docker did not answer the last read; nil when it did.
func (cs *containers) dockerErr() error { return cs.dockErr }

// name is the name of color's container.
func (cs *containers) name(color deploy.Color) string { return cs.env.cfg.Name + "-" + string(color) }

// port is the host port color's containers publish.
func (cs *containers) port(color deploy.Color) int {
	if color == deploy.Green {
		return cs.env.cfg.Ports.Green
	}
	return cs.env.cfg.Ports.Blue
}

// colorOf names the color of a container Docker reported, when it is one
// of this app's, named and labelled as bluegreen names them.
func (cs *containers) colorOf(ct docker.Container) (deploy.Color, bool) {
	color := deploy.Color(ct.Labels[LabelColor])
	return color, color.Valid() && ct.Name == cs.name(color)
}

// spec is the container deployment d creates in its color.
func (cs *containers) spec(d deploy.Deployment) docker.Spec {
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

// Adoption and the reconcile: reading Docker.

// assume takes the active color's container as the store last knew it,
// until Docker answers.
func (cs *containers) assume(color deploy.Color, image string) {
	cs.slots[color] = &slot{image: image, port: cs.port(color), state: "unknown"}
}

// list lists the app's containers in the background (adoptResult).
func (cs *containers) list() {
	send, rt, name := cs.env.send, cs.env.deps.rt, cs.env.cfg.Name
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := rt.List(ctx, map[string]string{LabelApp: name})
		send(adoptResult{containers: list, err: err})
	}()
}

// adoptAll makes the slots the containers listed.
func (cs *containers) adoptAll(list []docker.Container) {
	cs.adopted, cs.dockErr = true, nil
	cs.slots = map[deploy.Color]*slot{}
	for _, ct := range list {
		if color, ok := cs.colorOf(ct); ok {
			cs.slots[color] = cs.slotOf(color, ct)
			cs.save(color)
		}
	}
}

// adoptBeside takes the listed containers of the colors a deployment that
// began before adoption answered does not own (not its color).
func (cs *containers) adoptBeside(list []docker.Container, owned deploy.Color) {
	cs.adopted, cs.dockErr = true, nil
	for _, ct := range list {
		if color, ok := cs.colorOf(ct); ok && color != owned && cs.slots[color] == nil {
			cs.slots[color] = &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
		}
	}
}

// read reads both colors' containers by their names in the background
// (reconcileResult), unless a read is in flight.
func (cs *containers) read() {
	if cs.reading {
		return
	}
	cs.reading = true
	send, rt, seen := cs.env.send, cs.env.deps.rt, cs.seen
	names := map[deploy.Color]string{deploy.Blue: cs.name(deploy.Blue), deploy.Green: cs.name(deploy.Green)}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res := inspectColors(ctx, rt, names)
		res.seen = seen
		send(res)
	}()
}

// readDone records that the read in flight answered.
func (cs *containers) readDone() { cs.reading = false }

// isReading reports whether a read is in flight.
func (cs *containers) isReading() bool { return cs.reading }

// inspectColors reads the container of each color by its name.
func inspectColors(ctx context.Context, rt Runtime, names map[deploy.Color]string) reconcileResult {
	res := reconcileResult{containers: map[deploy.Color]*docker.Container{}}
	for color, name := range names {
		ct, err := rt.Inspect(ctx, name)
		switch {
		case errors.Is(err, docker.ErrNotFound):
			res.containers[color] = nil
		case err != nil:
			res.err = err
		default:
			res.containers[color] = &ct
		}
	}
	return res
}

// agrees returns the listed containers of both colors when each is the one
// known, in the state known (or neither has one), and the events taken.
func (cs *containers) agrees(list []docker.Container) (reconcileResult, bool) {
	res := reconcileResult{containers: map[deploy.Color]*docker.Container{}, seen: cs.seen}
	for _, ct := range list {
		if color, ok := cs.colorOf(ct); ok {
			res.containers[color] = &ct
		}
	}
	for _, color := range deploy.Colors {
		s, ct := cs.slots[color], res.containers[color]
		switch {
		case s == nil && ct == nil:
		case s == nil || ct == nil || s.id != ct.ID || s.state != ct.State:
			return res, false
		}
	}
	return res, true
}

// sawEvent counts an event of color's container.
func (cs *containers) sawEvent(color deploy.Color) { cs.seen[colorIndex(color)]++ }

// fresh reports whether no event of color came since seen was taken: a
// read begun then is not older than what the actor knows.
func (cs *containers) fresh(color deploy.Color, seen [2]uint64) bool {
	return cs.seen[colorIndex(color)] == seen[colorIndex(color)]
}

// colorIndex numbers the two colors (containers.seen).
func colorIndex(color deploy.Color) int {
	if color == deploy.Green {
		return 1
	}
	return 0
}

// dockerDown records that Docker did not answer; a change is logged once.
func (cs *containers) dockerDown(err error, msg string) {
	if cs.dockErr == nil {
		cs.env.log.Error(msg, keyErr, err)
	}
	cs.dockErr = err
}

// dockerUp records that Docker answered a read again.
func (cs *containers) dockerUp() {
	if cs.dockErr != nil {
		cs.env.log.Info("docker reachable again")
		cs.dockErr = nil
	}
}

// gone forgets color's container: Docker has none (any more).
func (cs *containers) gone(color deploy.Color) {
	s := cs.slots[color]
	cs.env.log.Warn("container gone", keyColor, color, keyContainer, short(s.id))
	cs.env.event(0, deploy.EventContainerRemoved, fmt.Sprintf("%s container %s is gone", color, short(s.id)),
		map[string]any{"color": color})
	delete(cs.slots, color)
	cs.delete(color)
}

// replace takes ct as color's container instead of the one known (if any).
func (cs *containers) replace(color deploy.Color, ct docker.Container) {
	cs.slots[color] = cs.slotOf(color, ct)
	cs.save(color)
}

// stateChanged takes a state of color's container, other than running
// (tookStart), that Docker reported and the actor had missed; it reports
// whether the container stopped running by itself.
func (cs *containers) stateChanged(color deploy.Color, state string) (died bool) {
	s := cs.slots[color]
	was := s.running()
	s.state = state
	if was {
		s.resetHealth()
	}
	cs.save(color)
	return was && !s.stopping
}

// slotOf is a slot for a container Docker reported for color.
func (cs *containers) slotOf(color deploy.Color, ct docker.Container) *slot {
	s := &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
	if s.port == 0 {
		s.port = cs.port(color)
	}
	if id, err := strconv.ParseInt(ct.Labels[LabelDeployment], 10, 64); err == nil {
		s.deploymentID = id
	}
	return s
}

// A deployment's changes (phases.go).

// startExisting marks color's existing container as started by the actor (a
// manual switch) and returns it.
func (cs *containers) startExisting(color deploy.Color) (id string, port int) {
	s := cs.slots[color]
	s.starting, s.stopping = true, false
	return s.id, s.port
}

// clear forgets color's container: a deployment replaces it, or removed it.
func (cs *containers) clear(color deploy.Color) {
	delete(cs.slots, color)
	cs.delete(color)
}

// putCandidate takes a deployment's candidate into its color: running, or
// exited when it did not stay up (failed).
func (cs *containers) putCandidate(color deploy.Color, id, image string, port int, deploymentID int64, failed bool) {
	s := &slot{id: id, image: image, port: port, state: "running", deploymentID: deploymentID}
	if failed {
		s.state = "exited"
	}
	cs.slots[color] = s
	cs.save(color)
}

// stopping marks color's container id as stopped or removed by the actor:
// its exit is no crash. It reports whether id is color's container.
func (cs *containers) stopping(color deploy.Color, id string) bool {
	s := cs.slots[color]
	if s == nil || s.id != id {
		return false
	}
	s.stopping = true
	return true
}

// stopped records that the actor stopped color's container (the old color
// after a switch): it stays, exited, for a switch back.
func (cs *containers) stopped(color deploy.Color) {
	s := cs.slots[color]
	s.state = "exited"
	s.resetHealth()
	cs.save(color)
}

// rolledBack records that a manual switch's candidate, color's existing
// container, is stopped again.
func (cs *containers) rolledBack(color deploy.Color) {
	if s := cs.slots[color]; s != nil {
		s.state = "exited"
		cs.save(color)
	}
}

// Health: what the health checks found of a container.

// checked takes the counts of a check of color's container id; false when
// the check is of a container that is gone.
func (cs *containers) checked(color deploy.Color, id string, passes, failures int) bool {
	s := cs.slots[color]
	if s == nil || s.id != id {
		return false
	}
	s.checked = true
	s.passes, s.failures = passes, failures
	return true
}

// passedGate marks color's candidate healthy once its checks reached
// healthy_threshold; it reports whether they did.
func (cs *containers) passedGate(color deploy.Color) bool {
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
func (cs *containers) activeCheck(color deploy.Color, check deploy.HealthCheck, hc config.HealthCheck) (recovered bool) {
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

func (cs *containers) save(color deploy.Color) {
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

func (cs *containers) delete(color deploy.Color) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := cs.env.deps.store.DeleteContainer(ctx, cs.env.cfg.Name, color); err != nil {
		cs.env.log.Error("delete container", keyColor, color, keyErr, err)
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
