package actors

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// eventsOf returns the app's audit events of type typ, oldest first.
func (u *unit) eventsOf(app string, typ deploy.EventType) []deploy.Event {
	u.t.Helper()
	evs, err := u.sys.Events(context.Background(), app, 0, 1000)
	if err != nil {
		u.t.Fatal(err)
	}
	var out []deploy.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// exitedData is the data of a container.exited event.
type exitedData struct {
	Color     deploy.Color `json:"color"`
	ExitCode  int          `json:"exit_code"`
	OOMKilled bool         `json:"oom_killed"`
}

// exited waits for the app's n-th container.exited event and returns its data.
func (u *unit) exited(app string, n int) exitedData {
	u.t.Helper()
	var evs []deploy.Event
	u.until("container.exited", func() bool {
		evs = u.eventsOf(app, deploy.EventContainerExited)
		return len(evs) >= n
	})
	var d exitedData
	if err := json.Unmarshal(evs[n-1].Data, &d); err != nil {
		u.t.Fatal(err)
	}
	return d
}

// reviveTimer waits for the pending restart of the dead active container,
// after wait.
func (u *unit) reviveTimer(wait string) {
	u.t.Helper()
	d := mustDuration(u.t, wait)
	u.until("the restart timer of "+wait, func() bool { return u.clock.pending(d) == 1 })
}

func TestAppActor_DeadActiveContainerIsStartedAgain(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	blue := cfg.Name + "-blue"

	// docker kill: Docker does not start it again. The event stream tells
	// the actor at once: no tick is sent in this test.
	u.rt.kill(blue)
	if d := u.exited(cfg.Name, 1); d.Color != deploy.Blue || d.ExitCode != 137 || d.OOMKilled {
		t.Fatalf("container.exited %+v", d)
	}
	if st := u.app(cfg.Name); st.Status != deploy.AppDegraded || st.Containers.Blue.State != "exited" {
		t.Fatalf("after the kill: %+v", st)
	}
	u.reviveTimer("2s") // Docker's restart policy gets its turn first
	u.clock.fire(mustDuration(t, "2s"))
	u.until("running again", func() bool { ct, _ := u.rt.container(blue); return ct.Running })
	st := u.stable(cfg.Name, "web:v1") // only after healthy_threshold passes
	if st.Containers.Blue.Health != deploy.Healthy {
		t.Fatalf("stable but %+v", st.Containers.Blue)
	}
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("proxy answered %q", got)
	}
	// Degraded at once, then the exit as Docker tells it, each step after.
	evs := u.events(cfg.Name)
	i := slices.Index(evs, deploy.EventContainerExited) - 1
	want := []deploy.EventType{deploy.EventAppState, deploy.EventContainerExited, deploy.EventContainerRestarting,
		deploy.EventContainerStarted, deploy.EventContainerHealthy, deploy.EventAppState}
	if i < 0 || !slices.Equal(evs[i:], want) {
		t.Fatalf("events after the kill %v, want %v", evs, want)
	}

	t.Run("with backoff when it keeps dying", func(t *testing.T) {
		u.rt.kill(blue)
		u.exited(cfg.Name, 2)
		u.reviveTimer("2s") // it was healthy in between: the backoff starts over
		u.clock.fire(mustDuration(t, "2s"))
		u.until("running again", func() bool { ct, _ := u.rt.container(blue); return ct.Running })
		u.rt.kill(blue) // before it was healthy again
		u.exited(cfg.Name, 3)
		u.reviveTimer("4s")
		u.clock.fire(mustDuration(t, "4s"))
		u.stable(cfg.Name, "web:v1")
	})
}

func TestAppActor_ContainerRestartedByDocker(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	blue := cfg.Name + "-blue"

	// An OOM kill that Docker's restart policy answers at once.
	u.rt.exit(blue, 137, true)
	u.rt.dockerRestarts(blue, 137)
	if d := u.exited(cfg.Name, 1); d.ExitCode != 137 || !d.OOMKilled {
		t.Fatalf("container.exited %+v", d)
	}
	u.until("started by Docker", func() bool { return len(u.eventsOf(cfg.Name, deploy.EventContainerStarted)) == 2 })
	u.stable(cfg.Name, "web:v1")
	if n := u.clock.pending(mustDuration(t, "2s")); n != 0 {
		t.Fatalf("%d restart timers still pending though Docker started it", n)
	}
	if n := len(u.eventsOf(cfg.Name, deploy.EventContainerRestarting)); n != 0 {
		t.Fatalf("bluegreen started it too (%d times)", n)
	}
	var states []string
	for _, e := range u.eventsOf(cfg.Name, deploy.EventAppState) {
		var d struct{ To string }
		json.Unmarshal(e.Data, &d)
		states = append(states, d.To)
	}
	if want := []string{"deploying", "stable", "degraded", "stable"}; !slices.Equal(states, want) {
		t.Fatalf("app states %v, want %v: the crash is shown as degraded", states, want)
	}
}

func TestAppActor_RestartPolicyNo(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.RestartPolicy = "no"
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.rt.exit(cfg.Name+"-blue", 1, false)
	if d := u.exited(cfg.Name, 1); d.ExitCode != 1 {
		t.Fatalf("container.exited %+v", d)
	}
	u.tick(cfg.Name)
	u.until("degraded", func() bool { return u.app(cfg.Name).Status == deploy.AppDegraded })
	if n := u.clock.pending(mustDuration(t, "2s")); n != 0 {
		t.Fatalf("restart_policy no, yet %d restart timers", n)
	}
	ev := u.eventsOf(cfg.Name, deploy.EventContainerExited)[0]
	if !strings.Contains(ev.Message, "restart_policy is no") {
		t.Fatalf("message %q", ev.Message)
	}
}

// TestAppActor_DockerRestarted restarts the fake daemon: the event stream
// breaks, the containers stop without an event reaching the actor; once the
// stream is back the app resyncs and starts its active container again.
func TestAppActor_DockerRestarted(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.until("the event stream", func() bool { return u.rt.streamCount() == 1 })

	u.rt.restartDaemon(false)
	u.until("the stream reconnected", func() bool { return u.rt.streamCount() == 1 })
	u.reviveTimer("2s")
	u.clock.fire(mustDuration(t, "2s"))
	u.stable(cfg.Name, "web:v1")
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("proxy answered %q", got)
	}
	if d := u.exited(cfg.Name, 1); d.ExitCode != 255 {
		t.Fatalf("container.exited %+v", d)
	}

	t.Run("containers that Docker started again are adopted as they are", func(t *testing.T) {
		before, _ := u.rt.container(cfg.Name + "-blue")
		u.rt.restartDaemon(true)
		u.until("the stream reconnected", func() bool { return u.rt.streamCount() == 1 })
		u.stable(cfg.Name, "web:v1")
		after, _ := u.rt.container(cfg.Name + "-blue")
		if after.ID != before.ID || !after.Running {
			t.Fatalf("blue %+v, was %+v", after, before)
		}
	})
}

// TestAppActor_CrashInGateFromEvents: a candidate that dies during its gate
// ends it at once, from the event (the unit tests do not poll).
func TestAppActor_CrashInGateFromEvents(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	id := u.gated(cfg.Name, "web:sick")
	u.rt.exit(cfg.Name+"-green", 3, false)
	d := u.wait(id)
	if d.Status != deploy.StatusRolledBack || !strings.Contains(d.Error, "exited with code 3 during health checks") {
		t.Fatalf("deployment %+v", d)
	}
	u.keptServing(cfg.Name, "web:v1")
	// The candidate's exit is not the active container's: nothing restarts it.
	if n := len(u.eventsOf(cfg.Name, deploy.EventContainerRestarting)); n != 0 {
		t.Fatalf("%d restarts", n)
	}
}

func TestAppActor_OverallHealth(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.RestartPolicy = "no"
	u := newUnit(t, cfg)
	u.sys.version = "v-test"
	u.stable(cfg.Name, "web:v1")
	h, err := u.sys.Overall(context.Background())
	if err != nil || h.Status != deploy.OverallHealthy || h.PID == 0 || h.Version != "v-test" || h.StartedAt.IsZero() {
		t.Fatalf("overall %+v, %v", h, err)
	}
	u.rt.exit(cfg.Name+"-blue", 1, false)
	u.until("unhealthy", func() bool {
		h, err = u.sys.Overall(context.Background())
		return err == nil && h.Status == deploy.OverallUnhealthy
	})
	if h.Apps[cfg.Name] != deploy.AppDegraded {
		t.Fatalf("overall %+v", h)
	}
	t.Run("an app that serves keeps the VM in", func(t *testing.T) {
		other := unitApp(t, "web:v2")
		u.configs(nil, cfg, other)
		if _, err := u.sys.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		u.stable(other.Name, "web:v2")
		if h, _ := u.sys.Overall(context.Background()); h.Status != deploy.OverallDegraded {
			t.Fatalf("overall %+v", h)
		}
	})
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAppActor_MissedExitFoundByReconcile: an exit whose event never came
// (the stream was down) is found by the reconcile tick, recorded and
// answered like one the stream told.
func TestAppActor_MissedExitFoundByReconcile(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.rt.setQuiet(true)
	u.rt.kill(cfg.Name + "-blue")
	u.rt.setQuiet(false)
	if st := u.app(cfg.Name); st.Status != deploy.AppStable {
		t.Fatalf("the actor knew of the exit without an event: %+v", st)
	}
	u.tick(cfg.Name)
	if d := u.exited(cfg.Name, 1); d.ExitCode != 137 {
		t.Fatalf("container.exited %+v", d)
	}
	u.reviveTimer("2s")
	u.clock.fire(reviveGrace)
	u.stable(cfg.Name, "web:v1")
}

// TestAppActor_RestartWhileDockerDown: starts of a dead active container
// fail while Docker is away; once it answers again the next start is
// scheduled anew (not after the backoff the failures built up).
func TestAppActor_RestartWhileDockerDown(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.until("the event stream", func() bool { return u.rt.streamCount() == 1 })
	u.rt.kill(cfg.Name + "-blue")
	u.exited(cfg.Name, 1)
	u.reviveTimer("2s")
	u.rt.setDown(true)
	u.clock.fire(reviveGrace) // the start fails: Docker is away
	u.reviveTimer("4s")
	u.rt.setDown(false)
	u.until("the stream back", func() bool { return u.rt.streamCount() == 1 })
	u.reviveTimer("2s")
	if n := u.clock.pending(mustDuration(t, "4s")); n != 0 {
		t.Fatalf("the backed-off restart is still pending (%d)", n)
	}
	u.clock.fire(reviveGrace)
	u.stable(cfg.Name, "web:v1")
}

// startedByDocker counts the app's container.started events by Docker.
func (u *unit) startedByDocker(app string) int {
	u.t.Helper()
	n := 0
	for _, e := range u.eventsOf(app, deploy.EventContainerStarted) {
		var d struct{ By string }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			u.t.Fatal(err)
		}
		if d.By == "docker" {
			n++
		}
	}
	return n
}

// A dead active container that Docker starts again is recorded once as
// started by Docker, whichever tells the actor first: the start event or a
// reconcile's read of Docker; and a reconcile that read Docker before the
// start but answers after its event does not undo it.
func TestAppActor_StartByDockerSeenOnce(t *testing.T) {
	for _, order := range []string{"event first", "reconcile first", "reconcile read before the event"} {
		t.Run(order, func(t *testing.T) {
			cfg := unitApp(t, "web:v1")
			u := newUnit(t, cfg)
			u.stable(cfg.Name, "web:v1")
			blue := cfg.Name + "-blue"
			u.rt.kill(blue)
			u.exited(cfg.Name, 1)
			u.reviveTimer("2s") // never fired: only Docker starts it here
			switch order {
			case "event first":
				u.rt.dockerStarts(blue)
				u.until("the start event taken", func() bool { return u.app(cfg.Name).Containers.Blue.State == "running" })
				u.tick(cfg.Name)
			case "reconcile first":
				u.rt.setQuiet(true)
				u.rt.dockerStarts(blue)
				u.tick(cfg.Name)
				u.until("the reconcile's read taken", func() bool { return u.app(cfg.Name).Containers.Blue.State == "running" })
				u.rt.setQuiet(false)
				u.rt.sendEvent(blue, docker.ActionStart)
			default:
				release := u.rt.late("Inspect")
				u.tick(cfg.Name)
				u.until("the reconcile's read", func() bool { return u.rt.lateAnswers("Inspect") == 1 })
				u.rt.dockerStarts(blue)
				u.until("the start event taken", func() bool { return u.app(cfg.Name).Containers.Blue.State == "running" })
				release()
			}
			u.stable(cfg.Name, "web:v1")
			u.tick(cfg.Name) // one more read of Docker, then the counts are final
			u.stable(cfg.Name, "web:v1")
			if n := u.startedByDocker(cfg.Name); n != 1 {
				t.Fatalf("%d container.started events by docker, want 1", n)
			}
			if n := len(u.eventsOf(cfg.Name, deploy.EventContainerExited)); n != 1 {
				t.Fatalf("%d container.exited events, want 1", n)
			}
			if n := len(u.eventsOf(cfg.Name, deploy.EventContainerRestarting)); n != 0 {
				t.Fatalf("bluegreen started it too (%d times)", n)
			}
		})
	}
}

func TestRevival_Backoff(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	r := &activeRevival{env: p.env}
	for i, wait := range []time.Duration{reviveGrace, 2 * reviveGrace, 4 * reviveGrace} {
		r.schedule(deploy.Blue)
		if !r.pending() || p.clock.pending(wait) != 1 {
			t.Fatalf("restart %d: no timer of %s", i+1, wait)
		}
		p.clock.fire(wait)
		due := sent[reviveDue](p)
		if !r.due(due) || r.pending() || r.due(reviveDue{gen: due.gen - 1}) {
			t.Fatal("due: its own timer ends the wait, another's is stale")
		}
		if n := r.attempt(); n != i+1 {
			t.Fatalf("attempt %d", n)
		}
	}
	for range 10 {
		r.attempt()
	}
	r.schedule(deploy.Blue)
	if p.clock.pending(reviveMax) != 1 {
		t.Fatal("the wait is not capped at reviveMax")
	}
	r.cancel()
	if r.pending() || p.clock.pending(reviveMax) != 0 {
		t.Fatal("cancel leaves the timer")
	}
	r.reset()
	r.schedule(deploy.Blue)
	if p.clock.pending(reviveGrace) != 1 {
		t.Fatal("reset does not start the backoff over")
	}
}

func TestRevival_Inspect(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	cs := newAppContainers(p.env)
	id := p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	r := &activeRevival{env: p.env}
	r.inspect(id)
	msg := sent[reviveInspected](p)
	if !r.current(msg) || msg.err != nil || !msg.ct.Running {
		t.Fatalf("inspected %+v", msg)
	}
	r.schedule(deploy.Blue)
	if r.current(msg) {
		t.Fatal("an inspect is stale once a restart is scheduled again")
	}
}

func TestRevival_RestartPolicyNo(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.RestartPolicy = "no"
	p := newPartEnv(t, cfg)
	r := &activeRevival{env: p.env}
	r.schedule(deploy.Blue)
	if r.pending() || p.clock.pending(reviveGrace) != 0 {
		t.Fatal("restart_policy no: a restart is scheduled")
	}
}

// TestAppActor_EventsOfAnEarlierRun: a deployment stops the old color, and
// the stream brings the stop's events only after a switch started that
// container again (the stop's answer came first): they are of its earlier
// run, no crash of the switch's candidate.
func TestAppActor_EventsOfAnEarlierRun(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.until("the event stream", func() bool { return u.rt.streamCount() == 1 })
	release := u.rt.holdEvents()
	u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID) // blue stopped: its kill and die are held
	blue := cfg.Name + "-blue"
	u.rt.setHealth(blue, 503) // the switch's gate stays open
	resp, err := u.sys.askDeploy(Switch{App: cfg.Name, Color: deploy.Blue})
	if err != nil {
		t.Fatal(err)
	}
	u.reaches(resp.DeploymentID, deploy.StatusHealthChecking)
	release() // the stop's kill and die, then the switch's start
	logs := u.logs.(testWriter)
	u.until("the stop's exit taken as of the earlier run", func() bool {
		return logs.has("event of an earlier run of the container ignored", "action=die")
	})
	if d := u.deployment(resp.DeploymentID); d.Status != deploy.StatusHealthChecking {
		t.Fatalf("the switch after the stop's exit came: %+v", d)
	}
	u.rt.setHealth(blue, 200)
	if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusCompleted {
		t.Fatalf("the switch %+v", d)
	}
	if st := u.stable(cfg.Name, "web:v1"); st.ActiveColor != deploy.Blue {
		t.Fatalf("status %+v", st)
	}
	// An exit after the switch's start is one.
	u.rt.exit(blue, 3, false)
	u.until("degraded", func() bool { return u.app(cfg.Name).Status == deploy.AppDegraded })
}
