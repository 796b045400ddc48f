package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// What Docker says of the two colors' containers when the app actor asks
// (containers.go): the list of adoption, the reads of the reconcile, and
// how what it says changes what the actor knows.

// stateUnknown is the state of a container Docker has not told of yet.
const stateUnknown = "unknown"

// assume takes the active color's container as the store last knew it,
// until Docker answers.
func (cs *appContainers) assume(color deploy.Color, image string) {
	cs.slots[color] = &slot{image: image, port: cs.port(color), state: stateUnknown}
}

// list lists the app's containers in the background (adoptResult).
func (cs *appContainers) list() {
	send, rt, name := cs.env.send, cs.env.deps.rt, cs.env.cfg.Name
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := rt.List(ctx, map[string]string{LabelApp: name})
		send(adoptResult{containers: list, err: err})
	}()
}

// adoptAll makes the slots the containers listed.
func (cs *appContainers) adoptAll(list []docker.Container) {
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
func (cs *appContainers) adoptBeside(list []docker.Container, owned deploy.Color) {
	cs.adopted, cs.dockErr = true, nil
	for _, ct := range list {
		if color, ok := cs.colorOf(ct); ok && color != owned && cs.slots[color] == nil {
			cs.slots[color] = cs.slotOf(color, ct)
			cs.save(color)
		}
	}
}

// read reads both colors' containers by their names in the background
// (reconcileResult), unless a read is in flight.
func (cs *appContainers) read() {
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
func (cs *appContainers) readDone() { cs.reading = false }

// isReading reports whether a read is in flight.
func (cs *appContainers) isReading() bool { return cs.reading }

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
func (cs *appContainers) agrees(list []docker.Container) (reconcileResult, bool) {
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
func (cs *appContainers) sawEvent(color deploy.Color) { cs.seen[colorIndex(color)]++ }

// fresh reports whether no event of color came since seen was taken: a
// read begun then is not older than what the actor knows.
func (cs *appContainers) fresh(color deploy.Color, seen [2]uint64) bool {
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
func (cs *appContainers) dockerDown(err error, msg string) {
	if cs.dockErr == nil {
		cs.env.log.Error(msg, keyErr, err)
	}
	cs.dockErr = err
}

// dockerUp records that Docker answered a read again.
func (cs *appContainers) dockerUp() {
	if cs.dockErr != nil {
		cs.env.log.Info("docker reachable again")
		cs.dockErr = nil
	}
}

// gone forgets color's container: Docker has none (any more).
func (cs *appContainers) gone(color deploy.Color) {
	s := cs.slots[color]
	cs.env.log.Warn("container gone", keyColor, color, keyContainer, short(s.id))
	cs.env.event(0, deploy.EventContainerRemoved, fmt.Sprintf("%s container %s is gone", color, short(s.id)),
		map[string]any{"color": color})
	delete(cs.slots, color)
	cs.delete(color)
}

// replace takes ct as color's container instead of the one known (if any).
func (cs *appContainers) replace(color deploy.Color, ct docker.Container) {
	cs.slots[color] = cs.slotOf(color, ct)
	cs.save(color)
}

// stateChanged takes a state of color's container, other than running
// (tookStart), that Docker reported and the actor had missed; it reports
// whether the container stopped running by itself.
func (cs *appContainers) stateChanged(color deploy.Color, state string) (died bool) {
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
func (cs *appContainers) slotOf(color deploy.Color, ct docker.Container) *slot {
	s := &slot{id: ct.ID, image: ct.Image, port: ct.HostPort, state: ct.State}
	if s.port == 0 {
		s.port = cs.port(color)
	}
	if id, err := strconv.ParseInt(ct.Labels[LabelDeployment], 10, 64); err == nil {
		s.deploymentID = id
	}
	return s
}
