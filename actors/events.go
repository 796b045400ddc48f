package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// The Docker event stream (docs/faults.md, "Docker restarts or is
// unreachable"). One stream serves the whole
// process: the supervisor runs watchEvents while it drives Docker, and routes
// each event, as a containerEvent, to the app actor that the container's
// bluegreen.app label names. An app actor learns of an exit, an OOM kill or
// a restart of its containers from it within milliseconds; its reconcile
// tick, every few seconds, stays as the safety net for anything missed.
//
// When the stream breaks (Docker went away or restarted), watchEvents pings
// Docker with backoff; once Docker answers it opens a new stream, replaying
// from the last event seen, and asks every app actor to resync (dockerResync):
// to read its containers again, since a restart of the daemon may have
// stopped them without an event reaching us.

// Backoff of watchEvents while Docker does not answer. Its cap bounds how
// long after Docker answers again the apps resync.
const (
	eventsBackoffMin = 100 * time.Millisecond
	eventsBackoffMax = time.Second
	// eventsSteady is how long a stream must have lasted for the backoff to
	// start over after it breaks.
	eventsSteady = 10 * time.Second
)

// eventStream is the supervisor's Docker event stream while it drives:
// only its methods start and stop it.
type eventStream struct {
	rt    Runtime
	log   *slog.Logger
	close context.CancelFunc // ends the stream; nil when none runs
}

// start streams the events to the supervisor (watchEvents), unless they
// stream already.
func (w *eventStream) start(c *actor.Context) {
	if w.close != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.close = cancel
	eng, self := c.Engine(), c.PID()
	go watchEvents(ctx, w.rt, func(m any) { eng.Send(self, m) }, w.log)
}

// stop ends the stream.
func (w *eventStream) stop() {
	if w.close != nil {
		w.close()
		w.close = nil
	}
}

// watchEvents streams the events of bluegreen's containers to send until ctx
// ends, reconnecting and resyncing as described above.
func watchEvents(ctx context.Context, rt Runtime, send func(any), log *slog.Logger) {
	var lastSeen time.Time // the newest event seen: a new stream replays from there
	backoff := eventsBackoffMin
	broken := false // the stream broke and the apps have not resynced since
	for ctx.Err() == nil {
		err := pingFor(ctx, rt)
		if err == nil {
			// Times are the daemon's clock: the replay starts from the last
			// event it sent, or from now on the first stream.
			var evs <-chan docker.Event
			evs, err = rt.Events(ctx, lastSeen, map[string]string{LabelManaged: "true"})
			if err == nil {
				if broken {
					log.Info("docker event stream reconnected: resyncing the apps")
					send(dockerResync{})
					broken = false
				}
				opened, replayedUpTo := time.Now(), lastSeen
				for ev := range evs {
					if !replayedUpTo.IsZero() && !ev.Time.After(replayedUpTo) {
						continue // seen on the stream before
					}
					if ev.Time.After(lastSeen) {
						lastSeen = ev.Time
					}
					send(containerEvent{ev: ev})
				}
				if ctx.Err() != nil {
					return
				}
				if time.Since(opened) > eventsSteady {
					backoff = eventsBackoffMin
				}
				err = errors.New("the stream ended")
			}
		}
		if !broken {
			log.Warn("docker event stream lost: reconnecting", keyErr, err)
			broken = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, eventsBackoffMax)
	}
}

func pingFor(ctx context.Context, rt Runtime) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return rt.Ping(ctx)
}

// What the app actor does with what Docker says of its containers: an event
// from the stream, one color's container as the reconcile read it, the end
// of its own start or removal, and the revival of a dead active container
// (exits.go).

// onContainerEvent takes a Docker event of one of the app's containers.
func (a *appActor) onContainerEvent(ev docker.Event) {
	color := deploy.Color(ev.Labels[LabelColor])
	if !color.Valid() || (ev.Name != "" && ev.Name != a.containers.name(color)) {
		return
	}
	a.containers.sawEvent(color)
	s, ok := a.containers.get(color)
	if !ok || s.id != ev.ID {
		// A container the actor does not know (made or removed behind its
		// back, or by a step still running): read both colors again.
		if ev.Action != docker.ActionKill && ev.Action != docker.ActionStop {
			a.onReconcileTick()
		}
		return
	}
	if s.earlierRun(ev) {
		// Of the stop before the actor started it again: no crash of this run.
		a.log.Debug("event of an earlier run of the container ignored", keyColor, color, keyContainer, short(ev.ID), "action", ev.Action)
		return
	}
	switch ev.Action {
	case docker.ActionKill:
		a.onKill(color, ev.Signal)
	case docker.ActionOOM:
		a.containers.setOOM(color)
	case docker.ActionDie:
		a.onDie(color, ev.ExitCode)
	case docker.ActionStart, docker.ActionRestart:
		a.onStart(color)
	case docker.ActionDestroy:
		a.reconcileColor(color, nil)
		a.ensureMonitors()
		a.refreshStatus()
	}
}

// earlierRun reports whether ev, an exit, kill or OOM kill of the slot's
// container, happened before the run of it that the actor started (both
// times are Docker's clock). The stream may bring a stop's events after
// the actor, told by the stop's answer that the container is down, has
// started it again (a manual switch back to it).
func (s slot) earlierRun(ev docker.Event) bool {
	switch ev.Action {
	case docker.ActionDie, docker.ActionKill, docker.ActionOOM:
		return ev.Time.Before(s.startedAt)
	}
	return false
}

// onDie takes the exit of a known container.
func (a *appActor) onDie(color deploy.Color, code int) {
	s, _ := a.containers.get(color)
	r := a.deployments.running()
	if r != nil && r.crashed(color, s.id, code, s.oom) {
		return // the candidate crashed in its gate
	}
	byItself := a.containers.died(color)
	a.ensureMonitors()
	if byItself && color == a.record.active() {
		a.containers.activeDied(color, code)
	}
	a.refreshStatus()
	if r != nil && s.stopping {
		r.oldExited(color)
	}
}

// onStart takes a start of a known container: by Docker's restart policy,
// an operator, or the actor itself (then the opDone records it).
func (a *appActor) onStart(color deploy.Color) {
	if a.containers.running(color) {
		return // the reconcile saw it running first, and took it then
	}
	a.tookStart(color)
	a.ensureMonitors()
	a.refreshStatus()
}

// tookStart takes a start of a known container that was not running.
func (a *appActor) tookStart(color deploy.Color) {
	if a.containers.tookStart(color) {
		a.revival.cancel() // Docker started it: no need to
	}
	if color == a.record.active() {
		a.routeActive()
	}
}

// reconcileColor takes what Docker says of one color's container (nil: there
// is none) over what the actor knew.
func (a *appActor) reconcileColor(color deploy.Color, ct *docker.Container) {
	s, known := a.containers.get(color)
	active := color == a.record.active()
	switch {
	case ct == nil && known:
		a.containers.gone(color)
	case ct != nil && (!known || s.id != ct.ID):
		a.containers.replace(color, *ct)
		if active {
			a.routeActive()
		}
	case ct != nil && s.state != ct.State:
		// An event missed (the stream was down): Docker's word wins.
		a.log.Info("container state changed", keyColor, color, keyFrom, s.state, keyTo, ct.State)
		if ct.Running {
			// As its start event would: read before it, or instead of it.
			a.tookStart(color)
			return
		}
		if a.containers.stateChanged(color, ct.State) && active {
			a.containers.activeDied(color, ct.ExitCode)
		}
	case ct != nil && active && !ct.Running && !s.starting && !a.revival.pending() &&
		a.cfg.Docker.RestartPolicy != "no" && a.deployments.running() == nil:
		// Known to be down, and nothing will start it (a restart that failed
		// long ago, a pause that ended): try again.
		a.containers.markRecovering(color)
		a.revival.schedule(color)
	}
}

// onExitDue records an exit Docker's inspect has not answered for yet.
func (a *appActor) onExitDue(msg exitDue) {
	a.onExitInspected(exitInspected{color: msg.color, id: msg.id, exitCode: msg.exitCode, err: errNoInspect})
}

// onExitInspected records the exit (the first of its inspect and exitDue
// does) and gives Docker's restart policy its turn.
func (a *appActor) onExitInspected(msg exitInspected) {
	if !a.containers.exitRecorded(msg) {
		return
	}
	if msg.err == nil && msg.ct.Running {
		a.onStart(msg.color) // Docker already started it again
		return
	}
	a.revival.schedule(msg.color)
}

// onReviveDue asks Docker how the dead active container is, unless the
// actor knows it runs again.
func (a *appActor) onReviveDue(msg reviveDue) {
	if !a.revival.due(msg) {
		return
	}
	color := a.record.active()
	s, ok := a.containers.get(color)
	if !ok || s.running() || s.starting {
		return
	}
	if a.containers.dockerErr() != nil { // Docker does not answer: try again later, no step of the backoff
		a.revival.schedule(color)
		return
	}
	if s.exitState != "" && s.exitState != "restarting" {
		// Docker said, right after the exit, that it will not start it.
		a.revive(reviveInspected{ct: docker.Container{ID: s.id, State: s.exitState}})
		return
	}
	a.revival.inspect(s.id)
}

// onReviveInspected takes Docker's answer on the dead active container.
func (a *appActor) onReviveInspected(msg reviveInspected) {
	if a.revival.current(msg) {
		a.revive(msg)
	}
}

// revive starts the dead active container, unless Docker runs it or is
// about to (its restart policy waits out a backoff of its own in the state
// "restarting": its turn again).
func (a *appActor) revive(msg reviveInspected) {
	color := a.record.active()
	s, ok := a.containers.get(color)
	if !ok || s.running() || s.starting || (msg.err == nil && s.id != msg.ct.ID) {
		return
	}
	switch {
	case msg.err == nil && msg.ct.Running:
		return // started meanwhile: its start event (or the reconcile) tells
	case msg.err == nil && msg.ct.State == "restarting":
		a.log.Info("Docker restarts the active container itself", keyColor, color, keyContainer, short(s.id))
		a.revival.schedule(color)
		return
	}
	n := a.revival.attempt()
	a.log.Warn("starting the dead active container", keyColor, color, keyContainer, short(s.id), "attempt", n)
	a.event(0, deploy.EventContainerRestarting,
		fmt.Sprintf("starting the active %s container %s again (attempt %d)", color, short(s.id), n),
		map[string]any{"color": color, "container": s.id, "attempt": n})
	a.containers.startOp(color)
}

// onOpDone takes the end of a start or removal outside a deployment.
func (a *appActor) onOpDone(msg opDone) {
	switch a.containers.opDone(msg, a.record.active()) {
	case opFailed:
		return
	case opActiveFailed:
		a.revival.schedule(msg.color) // try again, later
	case opStarted:
		if msg.color == a.record.active() {
			a.routeActive()
		}
		a.ensureMonitors()
	}
	a.refreshStatus()
}
