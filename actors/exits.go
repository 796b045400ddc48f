package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// A container's exits and starts as the containers record them (docs/faults.md,
// "A container that exits"), and the revival of a dead active container.
//
// An active container that exits without bluegreen stopping it (a crash, an
// OOM kill, docker kill) makes the app degraded at once and is recorded as
// container.exited with its exit code and whether it was OOM killed. Docker's
// restart policy gets reviveGrace to start it again; if it has not (Docker
// never restarts after docker kill), the app actor starts it, waiting twice
// as long before each further try while it keeps dying, and not at all under
// restart_policy: no. Either way the app is stable again only once the
// container passed healthy_threshold checks. A candidate that exits during
// its health gate ends the gate (the deployment rolls back).

// Revival timing.
const (
	reviveGrace = 2 * time.Second // Docker's restart policy's turn
	reviveMax   = time.Minute     // the longest wait between the actor's restarts
	// exitGrace is how long an exit waits for Docker's word on it (an OOM
	// kill) before it is recorded with what the events said. Right after an
	// exit Docker is busy tearing the container's network down: an inspect
	// then takes up to a second on a loaded machine, its oom event a moment.
	exitGrace = 100 * time.Millisecond
)

// errNoInspect stands for an inspect that did not answer within exitGrace.
var errNoInspect = errors.New("no answer yet")

// setOOM records Docker's word that color's container was killed for its
// memory.
func (cs *appContainers) setOOM(color deploy.Color) { cs.slots[color].oom = true }

// died takes the exit of color's container; it reports whether it stopped
// running by itself (not stopped or removed by the actor).
func (cs *appContainers) died(color deploy.Color) bool {
	s := cs.slots[color]
	was := s.running()
	s.state = "exited"
	s.resetHealth()
	cs.save(color)
	return was && !s.stopping
}

// activeDied records that the active container stopped running by itself:
// the app is degraded until it is back and healthy. Docker is asked how it
// ended (an OOM kill) and whether it restarts it (exitInspected, or
// exitDue when it takes longer than exitGrace).
func (cs *appContainers) activeDied(color deploy.Color, code int) {
	s, e := cs.slots[color], cs.env
	s.recovering, s.exitPending = true, true
	e.log.Warn("active container exited", keyColor, color, keyContainer, short(s.id), "exit_code", code)
	send, rt, id := e.send, e.deps.rt, s.id
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ct, err := rt.Inspect(ctx, id)
		send(exitInspected{color: color, id: id, exitCode: code, ct: ct, err: err})
	}()
	e.after(exitGrace, exitDue{color: color, id: id, exitCode: code})
}

// exitRecorded records the exit of the active container once (the first of
// its inspect and exitDue does) as container.exited; false when it was
// recorded already, or the container is another by now.
func (cs *appContainers) exitRecorded(msg exitInspected) bool {
	s, e := cs.slots[msg.color], cs.env
	if s == nil || s.id != msg.id {
		return false
	}
	if msg.err == nil {
		s.exitState = msg.ct.State // what Docker does about it: "restarting" or not
	}
	if !s.exitPending {
		return false
	}
	// Docker clears OOMKilled when it starts the container again: the oom
	// event (kept on the slot until this is recorded) says it too.
	oom := s.oom || (msg.err == nil && msg.ct.OOMKilled)
	s.exitPending = false
	if s.running() {
		s.oom = false
	}
	how := fmt.Sprintf("exited with code %d", msg.exitCode)
	if oom {
		how = fmt.Sprintf("was killed for exceeding its memory limit (code %d)", msg.exitCode)
	}
	policy := e.cfg.Docker.RestartPolicy
	next := "Docker's restart policy (" + policy + ") or bluegreen starts it again"
	if policy == "no" {
		next = "restart_policy is no: not started again"
	}
	e.event(0, deploy.EventContainerExited, fmt.Sprintf("active %s container %s %s: %s", msg.color, short(msg.id), how, next),
		map[string]any{"color": msg.color, "container": msg.id, "exit_code": msg.exitCode, "oom_killed": oom,
			"restart_policy": policy})
	return true
}

// tookStart takes a start of a known container that was not running, from
// its event or from a reconcile that read it running first: whichever comes
// first records a start that bluegreen did not make (byDocker), the other
// finds it running and does nothing.
func (cs *appContainers) tookStart(color deploy.Color) (byDocker bool) {
	s, e := cs.slots[color], cs.env
	s.state = "running"
	s.stopping, s.exitState, s.fresh = false, "", true
	if !s.exitPending {
		s.oom = false
	}
	s.resetHealth()
	if !s.starting {
		e.log.Info("container started by Docker", keyColor, color, keyContainer, short(s.id))
		e.event(0, deploy.EventContainerStarted, fmt.Sprintf("%s container %s started again by Docker", color, short(s.id)),
			map[string]any{"color": color, "container": s.id, "by": "docker"})
	}
	cs.save(color)
	return !s.starting
}

// markRecovering marks the active container as down until it is healthy
// again: nothing will start it but the revival.
func (cs *appContainers) markRecovering(color deploy.Color) { cs.slots[color].recovering = true }

// Container operations outside a deployment (opDone.what).
const (
	opStart  = "start"
	opRemove = "remove"
)

// startOp starts color's existing container in the background (opDone): an
// active container found stopped at adoption, or dead.
func (cs *appContainers) startOp(color deploy.Color) {
	s, e := cs.slots[color], cs.env
	s.starting, s.stopping = true, false
	send, rt, id := e.send, e.deps.rt, s.id
	timeout := e.cfg.Deployment.StartupTimeout
	go func() {
		ctx, cancel := timeoutAfterQueue(context.Background(), timeout) // from the turn in Docker's queue (queue.go)
		defer cancel()
		err := rt.Start(ctx, id)
		send(opDone{what: opStart, color: color, err: err})
	}()
}

// remove force-removes color's container in the background (opDone) and
// forgets it.
func (cs *appContainers) remove(color deploy.Color, why string) {
	s, e := cs.slots[color], cs.env
	if s == nil {
		return
	}
	e.log.Info("removing container", keyColor, color, keyContainer, short(s.id), "reason", why)
	s.stopping = true
	send, rt, id := e.send, e.deps.rt, s.id
	go func() {
		ctx, cancel := timeoutAfterQueue(context.Background(), 30*time.Second)
		defer cancel()
		err := rt.Remove(ctx, id)
		send(opDone{what: opRemove, color: color, err: err})
	}()
	delete(cs.slots, color)
	cs.delete(color)
}

// The outcome of an operation outside a deployment (containers.opDone).
type opOutcome int

const (
	opFailed       opOutcome = iota // logged
	opActiveFailed                  // the start of the dead active container failed: it is revived later
	opStarted                       // the container runs
	opRemoved                       // the container is gone
)

// opDone takes the end of an operation outside a deployment (active: the
// active color).
func (cs *appContainers) opDone(msg opDone, active deploy.Color) opOutcome {
	s, e := cs.slots[msg.color], cs.env
	if msg.what == opStart && s != nil {
		s.starting = false
	}
	if msg.err != nil && !(msg.what == opRemove && errors.Is(msg.err, docker.ErrNotFound)) {
		e.log.Error("container "+msg.what, keyColor, msg.color, keyErr, msg.err)
		if msg.what == opStart && msg.color == active && s != nil && !s.running() {
			s.recovering = true
			return opActiveFailed
		}
		return opFailed
	}
	if msg.what == opRemove {
		e.event(0, deploy.EventContainerRemoved, fmt.Sprintf("%s container removed", msg.color), map[string]any{"color": msg.color})
		return opRemoved
	}
	if s != nil {
		if !s.running() {
			s.stopping, s.exitState, s.fresh = false, "", true
			s.oom = s.oom && s.exitPending
			s.resetHealth()
		}
		s.state = "running"
		cs.save(msg.color)
		e.event(0, deploy.EventContainerStarted, fmt.Sprintf("%s container %s started", msg.color, short(s.id)),
			map[string]any{"color": msg.color, "container": s.id, "by": "bluegreen"})
	}
	return opStarted
}

// activeRevival is the pending restart of a dead active container: only its
// methods change it.
type activeRevival struct {
	env      *env
	gen      uint64      // tags its timer and inspect; another generation's message is stale
	attempts int         // restarts the actor made since the container was last healthy
	stop     func() bool // the timer of the next one
}

// schedule sends reviveDue once the wait for color's next restart passed,
// unless restart_policy is no. The wait doubles with each restart made.
func (r *activeRevival) schedule(color deploy.Color) {
	if r.env.cfg.Docker.RestartPolicy == "no" {
		return
	}
	r.cancel()
	wait := min(reviveGrace<<min(r.attempts, 10), reviveMax)
	r.gen++
	r.stop = r.env.after(wait, reviveDue{gen: r.gen})
	r.env.log.Info("restart of the active container scheduled", keyColor, color, "in", wait.String())
}

// pending reports whether a restart waits for its timer.
func (r *activeRevival) pending() bool { return r.stop != nil }

// cancel stops the timer of the next restart.
func (r *activeRevival) cancel() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// due reports whether msg is the timer of the pending restart, which it ends.
func (r *activeRevival) due(msg reviveDue) bool {
	if msg.gen != r.gen {
		return false
	}
	r.stop = nil
	return true
}

// inspect asks Docker, in the background, how the dead container id is
// (reviveInspected).
func (r *activeRevival) inspect(id string) {
	r.gen++
	send, rt, gen := r.env.send, r.env.deps.rt, r.gen
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ct, err := rt.Inspect(ctx, id)
		send(reviveInspected{gen: gen, ct: ct, err: err})
	}()
}

// current reports whether msg answers the latest inspect, with no restart
// scheduled since.
func (r *activeRevival) current(msg reviveInspected) bool { return msg.gen == r.gen && r.stop == nil }

// attempt counts a restart the actor makes and returns its number.
func (r *activeRevival) attempt() int {
	r.attempts++
	return r.attempts
}

// reset starts the backoff over: the container was healthy again, or
// Docker answers again after it did not (a fresh death).
func (r *activeRevival) reset() { r.attempts = 0 }
