package actors

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/store"
)

// TestAppActor_PauseAndResume is the single-driver rule: a pause waits for
// the running deployment, refuses new requests, then drives nothing (no
// event stream, no health checks, no restarts) while the proxy keeps
// routing; a resume resyncs and drives again.
func TestAppActor_PauseAndResume(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.until("the event stream", func() bool { return u.rt.streamCount() == 1 })
	ctx := context.Background()

	release := u.rt.hold("EnsureImage")
	running := u.deploy(cfg.Name, "web:v2")
	paused := make(chan error, 1)
	go func() { paused <- u.sys.Pause(ctx) }()
	u.until("paused", u.sys.Paused)
	for what, err := range map[string]error{
		"deploy":   second(u.sys.Deploy(ctx, cfg.Name, deploy.Request{DesiredImage: "web:v3"})),
		"rollback": second(u.sys.Rollback(ctx, cfg.Name)),
		"switch":   second(u.sys.Switch(ctx, cfg.Name, deploy.Blue)),
		"reload":   second(u.sys.Reload(ctx)),
	} {
		if deploy.ErrorCode(err) != deploy.EUNAVAILABLE || !strings.Contains(err.Error(), "retry in a few seconds") {
			t.Errorf("%s during a pause: %v", what, err)
		}
	}
	// Through the actor too: a request that passed the System's check
	// before the pause began.
	if v, err := u.sys.ask(Deploy{App: cfg.Name, Image: "web:v3", Trigger: deploy.TriggerAPI}); err != nil ||
		deploy.ErrorCode(v.(DeployReply).Err) != deploy.EUNAVAILABLE {
		t.Fatalf("deploy message during a pause: %+v %v", v, err)
	}
	select {
	case err := <-paused:
		t.Fatalf("the pause returned (%v) while deployment %d runs", err, running.DeploymentID)
	default:
	}
	release()
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
	if d := u.wait(running.DeploymentID); d.Status != deploy.StatusCompleted {
		t.Fatalf("the running deployment %+v", d)
	}
	u.until("no event stream", func() bool { return u.rt.streamCount() == 0 })
	if st := u.app(cfg.Name); st.Containers.Green.Health != deploy.Unchecked {
		t.Fatalf("health checks while paused: %+v", st.Containers.Green)
	}
	checks := u.healthChecks(cfg.Name, deploy.Green)
	u.rt.kill(cfg.Name + "-green") // nobody notices, nor restarts it
	u.tick(cfg.Name)
	if got := u.healthChecks(cfg.Name, deploy.Green); got != checks {
		t.Fatalf("%d health checks written while paused", got-checks)
	}
	if st := u.app(cfg.Name); st.Status != deploy.AppStable || u.clock.pending(reviveGrace) != 0 {
		t.Fatalf("a paused app reacted: %+v", st)
	}

	u.sys.Resume()
	u.until("the event stream again", func() bool { return u.rt.streamCount() == 1 })
	u.until("degraded", func() bool { return u.app(cfg.Name).Status == deploy.AppDegraded })
	u.reviveTimer("2s")
	u.clock.fire(reviveGrace)
	u.stable(cfg.Name, "web:v2")
	if resp := u.deploy(cfg.Name, "web:v3"); resp.Status != deploy.AnswerStarted {
		t.Fatalf("deploy after the pause: %+v", resp)
	}
}

// TestAppActor_PauseOverrunsBound: a deployment that overruns its timeouts
// ends the wait with the reason; a resume goes on.
func TestAppActor_PauseOverrunsBound(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	release := u.rt.hold("EnsureImage")
	defer release()
	running := u.deploy(cfg.Name, "web:v2")
	paused := make(chan error, 1)
	go func() { paused <- u.sys.Pause(context.Background()) }()
	bound := deploymentBound(cfg)
	u.until("the bound's timer", func() bool { return u.clock.pending(bound) == 1 })
	u.clock.fire(bound)
	err := <-paused
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("deployment %d of %s is still running", running.DeploymentID, cfg.Name)) {
		t.Fatalf("pause: %v", err)
	}
	u.sys.Resume()
	release()
	if d := u.wait(running.DeploymentID); d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment %+v", d)
	}
}

func second[T any](_ T, err error) error { return err }

// healthChecks counts the checks recorded of an app's color.
func (u *unit) healthChecks(app string, color deploy.Color) int {
	u.t.Helper()
	checks, err := u.st.HealthChecks(context.Background(), app, color, 100000)
	if err != nil {
		u.t.Fatal(err)
	}
	return len(checks)
}

// TestAppActor_FinishesSwitchedDeployment stops the supervisor while the old
// color is being stopped (after the switch): the next start routes to the
// new color at once and finishes the deployment: the old color stopped,
// completed. One that had not switched ends interrupted (adopt_test.go).
func TestAppActor_FinishesSwitchedDeployment(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	release := u.rt.hold("Stop")
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.until("stopping", func() bool {
		d, err := u.sys.Deployment(context.Background(), id)
		return err == nil && slices.Contains(phaseNamesOf(d), "stopping")
	})
	u.restart()
	if got := u.serves(cfg); got != "web:v2" {
		t.Fatalf("after the restart the proxy answered %q", got)
	}
	release()
	d := u.wait(id)
	if d.Status != deploy.StatusCompleted || d.Error != "" {
		t.Fatalf("deployment %+v", d)
	}
	if ct, _ := u.rt.container(cfg.Name + "-blue"); ct.Running {
		t.Fatalf("the old color still runs: %+v", ct)
	}
	st := u.stable(cfg.Name, "web:v2")
	if st.ActiveColor != deploy.Green || st.LastDeployment.DeploymentID != id {
		t.Fatalf("status %+v", st)
	}
	if n := countOf(u.events(cfg.Name), deploy.EventDeploymentInterrupted); n != 0 {
		t.Fatalf("%d interrupted", n)
	}
}

// TestAppActor_CrashInSwitching starts a supervisor over the store a crash
// in the switching phase leaves, before and after the durable switch.
func TestAppActor_CrashInSwitching(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprintf("switch recorded %v", durable), func(t *testing.T) {
			cfg := unitApp(t, "web:v1")
			u := newUnit(t, cfg)
			u.stable(cfg.Name, "web:v1")
			u.stop()
			ctx := context.Background()
			st, err := store.Open(u.db)
			if err != nil {
				t.Fatal(err)
			}
			// The candidate, healthy, in green, as the crashed supervisor made it.
			d := deploy.Deployment{App: cfg.Name, FromImage: "web:v1", ToImage: "web:v2", Color: deploy.Green,
				TriggerSource: deploy.TriggerAPI, Status: deploy.StatusSwitching, StartedAt: time.Now().UTC(),
				Phases: []deploy.Phase{{Name: "switching", StartedAt: time.Now().UTC()}}}
			if err := st.CreateDeployment(ctx, &d); err != nil {
				t.Fatal(err)
			}
			spec := docker.Spec{Name: cfg.Name + "-green", Image: "web:v2", HostPort: cfg.Ports.Green,
				Labels: map[string]string{LabelApp: cfg.Name, LabelColor: "green", LabelManaged: "true", LabelDeployment: fmt.Sprint(d.DeploymentID)}}
			cid, err := u.rt.Create(ctx, spec)
			if err != nil || u.rt.Start(ctx, cid) != nil {
				t.Fatal(err)
			}
			if durable {
				app, _ := st.GetApp(ctx, cfg.Name)
				app.ActiveColor, app.CurrentImage, app.DesiredImage = deploy.Green, "web:v2", "web:v2"
				if err := st.PutApp(ctx, app); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
			u.start()
			if durable {
				if got := u.serves(cfg); got != "web:v2" {
					t.Fatalf("proxy answered %q", got)
				}
				if d := u.wait(d.DeploymentID); d.Status != deploy.StatusCompleted {
					t.Fatalf("deployment %+v", d)
				}
				if ct, _ := u.rt.container(cfg.Name + "-blue"); ct.Running {
					t.Fatal("the old color still runs")
				}
				if ct, _ := u.rt.container(cfg.Name + "-green"); ct.ID != cid || !ct.Running {
					t.Fatalf("green was recreated or stopped: %+v", ct)
				}
				u.stable(cfg.Name, "web:v2")
				return
			}
			if got := u.serves(cfg); got != "web:v1" {
				t.Fatalf("proxy answered %q", got)
			}
			if d := u.wait(d.DeploymentID); d.Status != deploy.StatusInterrupted {
				t.Fatalf("deployment %+v", d)
			}
			u.until("the candidate removed", func() bool {
				ct, ok := u.rt.container(cfg.Name + "-green")
				return !ok || ct.ID != cid
			})
		})
	}
}

// TestAppActor_StopDrains: a stop lets the request in flight finish (up to
// drain_timeout), records supervisor.stopped, leaves the containers running.
func TestAppActor_StopDrains(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	got := make(chan string, 1)
	go func() {
		b, err := body(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/slow?d=300ms", cfg.Ports.Proxy))
		if err != nil {
			b = err.Error()
		}
		got <- b
	}()
	u.until("the request in flight", func() bool { return u.app(cfg.Name).Connections[deploy.Blue].HTTP == 1 })
	u.stop()
	if b := <-got; b != "web:v1" {
		t.Fatalf("the request in flight got %q", b)
	}
	if ct, _ := u.rt.container(cfg.Name + "-blue"); !ct.Running {
		t.Fatal("the container stopped with the supervisor")
	}
	st, err := store.Open(u.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _ := st.Events(context.Background(), "", 0, 1000)
	if evs[len(evs)-1].Type != deploy.EventSupervisorStopped {
		t.Fatalf("last event %+v", evs[len(evs)-1])
	}
}

func TestAppActor_WaitReady(t *testing.T) {
	t.Run("after the first adoption", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := newUnit(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if late := u.sys.WaitReady(ctx); len(late) != 0 {
			t.Fatalf("late %v", late)
		}
	})
	t.Run("Docker down does not hold it", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := &unit{t: t, rt: newFakeRuntime(t), clock: &fakeClock{}, cfgs: nil, db: t.TempDir() + "/bg.db", logs: newTestWriter(t)}
		u.cfgs = append(u.cfgs, cfg)
		u.rt.setDown(true)
		u.start()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if late := u.sys.WaitReady(ctx); len(late) != 0 {
			t.Fatalf("late %v", late)
		}
	})
	t.Run("a hung Docker is waited for until the deadline", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := &unit{t: t, rt: newFakeRuntime(t), clock: &fakeClock{}, db: t.TempDir() + "/bg.db", logs: newTestWriter(t)}
		u.cfgs = append(u.cfgs, cfg)
		release := u.rt.hold("List")
		defer release()
		u.start()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if late := u.sys.WaitReady(ctx); !slices.Equal(late, []string{cfg.Name}) {
			t.Fatalf("late %v", late)
		}
	})
}

// answered waits for the answer of an ask.
func answered(t *testing.T, ch <-chan any) any {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
		return nil
	}
}

// notAnswered fails when an ask was answered.
func notAnswered(t *testing.T, p *partEnv, ch <-chan any) {
	t.Helper()
	p.do(func(*actor.Context) {})
	select {
	case v := <-ch:
		t.Fatalf("answered %+v", v)
	default:
	}
}

func TestGate_PauseQuietAndWake(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	g := &driverGate{env: p.env}
	if g.refuses() || !g.drives() {
		t.Fatal("a new gate refuses or does not drive")
	}
	if q := answered(t, p.ask(func(c *actor.Context) { g.awaitQuiet(c, time.Hour) })).(quietReply); q.err == nil {
		t.Fatal("awaitQuiet without a pause answered no error")
	}
	if g.quieten() {
		t.Fatal("quiet without a pause")
	}

	if !g.setPaused(true, true) || g.setPaused(true, true) {
		t.Fatal("setPaused reports no change, or a change twice")
	}
	if !g.refuses() || !g.drives() {
		t.Fatal("paused: it must refuse requests and drive until quiet")
	}
	wait := p.ask(func(c *actor.Context) { g.awaitQuiet(c, time.Hour) })
	notAnswered(t, p, wait)
	p.do(func(*actor.Context) {
		if !g.quieten() || g.quieten() {
			t.Error("quieten a paused gate: want true once")
		}
		g.answer(nil)
	})
	if q := answered(t, wait).(quietReply); q.err != nil || g.drives() {
		t.Fatalf("quiet: %v, drives %v", q.err, g.drives())
	}
	if q := answered(t, p.ask(func(c *actor.Context) { g.awaitQuiet(c, time.Hour) })).(quietReply); q.err != nil {
		t.Fatalf("awaitQuiet once quiet: %v", q.err)
	}
	if p.clock.pending(time.Hour) != 0 {
		t.Fatal("the bound's timer outlives the answer")
	}

	if !g.setPaused(false, false) || !g.wake() || g.wake() {
		t.Fatal("a lifted pause wakes a quiet gate once")
	}
	if g.refuses() || !g.drives() {
		t.Fatal("resumed: it must take requests and drive")
	}
	g.close()
	if !g.refuses() || g.drives() || !g.closed() {
		t.Fatal("closed: it must refuse and drive nothing")
	}
}

func TestGate_BoundOverrun(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	g := &driverGate{env: p.env}
	g.setPaused(true, true)
	first := p.ask(func(c *actor.Context) { g.awaitQuiet(c, time.Minute) })
	second := p.ask(func(c *actor.Context) { g.awaitQuiet(c, time.Minute) })
	notAnswered(t, p, second)
	if n := p.clock.pending(time.Minute); n != 1 {
		t.Fatalf("%d timers for two waiters, want one", n)
	}
	p.clock.fire(time.Minute)
	msg := sent[quietTimeout](p)
	if !g.overran(msg) || g.overran(quietTimeout{gen: msg.gen + 1}) {
		t.Fatal("overran: the timer's message ends the wait, another generation's does not")
	}
	g.answer(fmt.Errorf("overran"))
	for _, ch := range []<-chan any{first, second} {
		if q := answered(t, ch).(quietReply); q.err == nil || q.err.Error() != "overran" {
			t.Fatalf("answer %v", q.err)
		}
	}
	g.quieten()
	if g.overran(msg) {
		t.Fatal("a quiet gate is not overrun")
	}
}

func TestGate_Ready(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	g := &driverGate{env: p.env}
	wait := p.ask(g.awaitReady)
	notAnswered(t, p, wait)
	p.do(func(*actor.Context) { g.markReady() })
	if _, ok := answered(t, wait).(readyReply); !ok || !g.isReady() {
		t.Fatal("markReady did not answer the waiter")
	}
	if _, ok := answered(t, p.ask(g.awaitReady)).(readyReply); !ok {
		t.Fatal("awaitReady once ready")
	}
}

// TestAppActor_ReconcileAfterAPause: a read of both colors that ends while
// the app is paused (an upgrade's) is taken into the containers part
// anyway, so that the reconcile runs again once the app drives again (a
// failed upgrade's resume): a container that died unseen meanwhile is
// found and started again.
func TestAppActor_ReconcileAfterAPause(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	// One check at each health actor's start, then none for an hour: only
	// a read of the colors can find the death.
	cfg.HealthCheck.Interval, cfg.HealthCheck.HealthyThreshold = time.Hour, 1
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.until("the event stream", func() bool { return u.rt.streamCount() == 1 })

	release := u.rt.hold("Inspect")
	u.tick(cfg.Name) // a read of both colors, held in Docker
	if err := u.sys.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := len(u.rt.callLog())
	release() // its result comes while the app is paused
	u.until("the read's end", func() bool { return len(u.rt.callLog()) >= before+2 })
	time.Sleep(50 * time.Millisecond) // its result taken by the paused actor
	u.sys.Resume()
	u.until("the event stream again", func() bool { return u.rt.streamCount() == 1 })
	u.until("blue checked again", func() bool { return u.app(cfg.Name).Containers.Blue.Health == deploy.Healthy })

	u.rt.setQuiet(true) // the stream misses the death: only a read finds it
	u.rt.kill(cfg.Name + "-blue")
	u.rt.setQuiet(false)
	u.tick(cfg.Name)
	u.until("the death found by a read", func() bool { return len(u.eventsOf(cfg.Name, deploy.EventContainerExited)) > 0 })
}
