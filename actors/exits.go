package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// What Docker's events say of an app's containers (CONTRACT §6.8), and the
// revival of a dead active container.
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

// exitInspected carries what Docker says of a container that died.
type exitInspected struct {
	color    deploy.Color
	id       string
	exitCode int
	ct       docker.Container
	err      error
}

// exitDue records an exit that Docker's inspect did not answer within exitGrace.
type exitDue struct {
	color    deploy.Color
	id       string
	exitCode int
}

// reviveDue asks the app actor to start its dead active container, unless
// Docker did meanwhile.
type reviveDue struct{ gen uint64 }

// revival is the pending restart of a dead active container.
type revival struct {
	gen      uint64
	attempts int         // restarts the actor made since the container was last healthy
	stop     func() bool // the timer of the next one
}

// onContainerEvent takes a Docker event of one of the app's containers.
func (a *appActor) onContainerEvent(c *actor.Context, ev docker.Event) {
	color := deploy.Color(ev.Labels[LabelColor])
	if !color.Valid() || (ev.Name != "" && ev.Name != a.containerName(color)) {
		return
	}
	a.seen[colorIndex(color)]++
	s := a.slots[color]
	if s == nil || s.id != ev.ID {
		// A container the actor does not know (made or removed behind its
		// back, or by a step still running): read both colors again.
		if ev.Action != docker.ActionKill && ev.Action != docker.ActionStop {
			a.onReconcileTick()
		}
		return
	}
	switch ev.Action {
	case docker.ActionOOM:
		s.oom = true
	case docker.ActionDie:
		a.onDie(c, color, s, ev.ExitCode)
	case docker.ActionStart, docker.ActionRestart:
		a.onStart(c, color, s)
	case docker.ActionDestroy:
		a.reconcileColor(color, nil)
		a.ensureMonitors(c)
		a.refreshStatus()
	}
}

// onDie takes the exit of a known container.
func (a *appActor) onDie(c *actor.Context, color deploy.Color, s *slot, code int) {
	if r := a.run; r.gating(color) && r.candidate == s.id {
		a.onStep(c, stepDone{gen: r.gen, phase: phaseHealthChecking,
			err: &exitError{docker.Container{ID: s.id, State: "exited", ExitCode: code, OOMKilled: s.oom}}})
		return
	}
	was := s.running()
	s.state = "exited"
	s.resetHealth()
	a.saveContainer(color)
	a.ensureMonitors(c)
	if was && !s.stopping && color == a.state.ActiveColor {
		a.activeDied(color, s, code)
	}
	a.refreshStatus()
	if r := a.run; r != nil && r.phase == phaseStopping && color == r.from && s.stopping {
		// The old container's process ended: the deployment is done. The
		// stop call returns only after Docker's clean-up of the container
		// (its network and published ports), which takes seconds when
		// many stop at once and which Docker serialises; it goes on in the
		// background and its answer is stale by then.
		a.onStep(c, stepDone{gen: r.gen, phase: phaseStopping})
	}
}

// activeDied records that the active container stopped running by itself:
// the app is degraded until it is back and healthy. Docker is asked how it
// ended (an OOM kill) and whether it restarts it.
func (a *appActor) activeDied(color deploy.Color, s *slot, code int) {
	s.recovering, s.exitPending = true, true
	a.log.Warn("active container exited", keyColor, color, keyContainer, short(s.id), "exit_code", code)
	eng, self, rt, id := a.eng, a.self, a.deps.rt, s.id
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ct, err := rt.Inspect(ctx, id)
		eng.Send(self, exitInspected{color: color, id: id, exitCode: code, ct: ct, err: err})
	}()
	a.deps.timers.after(exitGrace, func() { eng.Send(self, exitDue{color: color, id: id, exitCode: code}) })
}

// onExitDue records an exit Docker's inspect has not answered for yet.
func (a *appActor) onExitDue(c *actor.Context, msg exitDue) {
	a.onExitInspected(c, exitInspected{color: msg.color, id: msg.id, exitCode: msg.exitCode, err: errNoInspect})
}

// errNoInspect stands for an inspect that did not answer within exitGrace.
var errNoInspect = errors.New("no answer yet")

// onExitInspected records the exit (the first of its inspect and exitDue
// does) and gives Docker's restart policy its turn.
func (a *appActor) onExitInspected(c *actor.Context, msg exitInspected) {
	s := a.slots[msg.color]
	if s == nil || s.id != msg.id {
		return
	}
	if msg.err == nil {
		s.exitState = msg.ct.State // what Docker does about it: "restarting" or not
	}
	if !s.exitPending {
		return
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
	policy := a.cfg.Docker.RestartPolicy
	next := "Docker's restart policy (" + policy + ") or bluegreen starts it again"
	if policy == "no" {
		next = "restart_policy is no: not started again"
	}
	a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerExited,
		fmt.Sprintf("active %s container %s %s: %s", msg.color, short(msg.id), how, next),
		map[string]any{"color": msg.color, "container": msg.id, "exit_code": msg.exitCode, "oom_killed": oom,
			"restart_policy": policy})
	if msg.err == nil && msg.ct.Running {
		a.onStart(c, msg.color, s) // Docker already started it again
		return
	}
	a.scheduleRevive(msg.color)
}

// scheduleRevive starts the dead active container after its wait, unless
// restart_policy is no.
func (a *appActor) scheduleRevive(color deploy.Color) {
	if a.cfg.Docker.RestartPolicy == "no" {
		return
	}
	a.cancelRevive()
	wait := reviveGrace << min(a.revive.attempts, 10)
	wait = min(wait, reviveMax)
	gen := a.nextGen()
	eng, self := a.eng, a.self
	a.revive.gen = gen
	a.revive.stop = a.deps.timers.after(wait, func() { eng.Send(self, reviveDue{gen: gen}) })
	a.log.Info("restart of the active container scheduled", keyColor, color, "in", wait.String())
}

func (a *appActor) cancelRevive() {
	if a.revive.stop != nil {
		a.revive.stop()
		a.revive.stop = nil
	}
}

// onReviveDue asks Docker how the dead active container is, unless the
// actor knows it runs again.
func (a *appActor) onReviveDue(msg reviveDue) {
	if msg.gen != a.revive.gen {
		return
	}
	a.revive.stop = nil
	color := a.state.ActiveColor
	s := a.slots[color]
	if s == nil || s.running() || s.starting {
		return
	}
	if a.dockErr != nil { // Docker does not answer: try again later, no step of the backoff
		a.scheduleRevive(color)
		return
	}
	if s.exitState != "" && s.exitState != "restarting" {
		// Docker said, right after the exit, that it will not start it.
		a.onReviveInspected(reviveInspected{gen: a.revive.gen, ct: docker.Container{ID: s.id, State: s.exitState}})
		return
	}
	gen := a.nextGen()
	a.revive.gen = gen
	eng, self, rt, id := a.eng, a.self, a.deps.rt, s.id
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ct, err := rt.Inspect(ctx, id)
		eng.Send(self, reviveInspected{gen: gen, ct: ct, err: err})
	}()
}

// reviveInspected carries Docker's view of a dead active container when its
// restart is due.
type reviveInspected struct {
	gen uint64
	ct  docker.Container
	err error
}

// onReviveInspected starts the dead active container, unless Docker runs it
// or is about to (its restart policy waits out a backoff of its own in the
// state "restarting": its turn again).
func (a *appActor) onReviveInspected(msg reviveInspected) {
	if msg.gen != a.revive.gen || a.revive.stop != nil {
		return
	}
	color := a.state.ActiveColor
	s := a.slots[color]
	if s == nil || s.running() || s.starting || (msg.err == nil && s.id != msg.ct.ID) {
		return
	}
	switch {
	case msg.err == nil && msg.ct.Running:
		return // started meanwhile: its start event (or the reconcile) tells
	case msg.err == nil && msg.ct.State == "restarting":
		a.log.Info("Docker restarts the active container itself", keyColor, color, keyContainer, short(s.id))
		a.scheduleRevive(color)
		return
	}
	a.revive.attempts++
	a.log.Warn("starting the dead active container", keyColor, color, keyContainer, short(s.id), "attempt", a.revive.attempts)
	a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerRestarting,
		fmt.Sprintf("starting the active %s container %s again (attempt %d)", color, short(s.id), a.revive.attempts),
		map[string]any{"color": color, "container": s.id, "attempt": a.revive.attempts})
	a.startContainerOp(color)
}

// onStart takes a start of a known container: by Docker's restart policy,
// an operator, or the actor itself (then the opDone records it).
func (a *appActor) onStart(c *actor.Context, color deploy.Color, s *slot) {
	if s.running() {
		return // the reconcile saw it running first, and took it then
	}
	a.tookStart(color, s)
	a.ensureMonitors(c)
	a.refreshStatus()
}

// tookStart takes a start of a known container that was not running, from
// its event or from a reconcile that read it running first: whichever comes
// first records a start that bluegreen did not make, the other finds it
// running and does nothing.
func (a *appActor) tookStart(color deploy.Color, s *slot) {
	s.state = "running"
	s.stopping, s.exitState = false, ""
	if !s.exitPending {
		s.oom = false
	}
	s.resetHealth()
	if !s.starting {
		a.cancelRevive()
		a.log.Info("container started by Docker", keyColor, color, keyContainer, short(s.id))
		a.deps.rec.event(a.cfg.Name, 0, deploy.EventContainerStarted,
			fmt.Sprintf("%s container %s started again by Docker", color, short(s.id)),
			map[string]any{"color": color, "container": s.id, "by": "docker"})
	}
	a.saveContainer(color)
	if color == a.state.ActiveColor {
		a.routeActive()
	}
}

// recovered marks the active container healthy after a restart: the app is
// stable again and the next death starts the backoff over.
func (a *appActor) recovered(s *slot) {
	if s.recovering {
		s.recovering = false
		a.revive.attempts = 0
	}
}
