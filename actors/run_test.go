package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

func TestPhase_String(t *testing.T) {
	for p, want := range map[phase]string{phasePulling: "pulling", phaseStarting: "starting",
		phaseHealthChecking: "health_checking", phaseCanary: "canary", phaseSwitching: "switching", phaseVerifying: "verifying",
		phaseDraining: "draining", phaseStopping: "stopping", phaseRollingBack: "rollback", phaseReverting: "reverting",
		phase(42): "phase(42)"} {
		if p.String() != want {
			t.Errorf("%d: %q, want %q", int(p), p.String(), want)
		}
		// A phase named like a status shows that status.
		if st, ok := p.status(); ok && string(st) != want {
			t.Errorf("%s shows status %s", want, st)
		}
	}
	for _, p := range []phase{phaseStopping, phaseRollingBack, phaseReverting, phaseNone} {
		if _, ok := p.status(); ok {
			t.Errorf("%s changes the status", p)
		}
	}
}

// gated deploys image and waits until its candidate is in the health gate.
func (u *unit) gated(app, image string) int64 {
	u.t.Helper()
	resp := u.deploy(app, image)
	u.reaches(resp.DeploymentID, deploy.StatusHealthChecking)
	u.until("the health_check_timeout timer", func() bool { return u.clock.pending(gateTimeout) == 1 })
	return resp.DeploymentID
}

// keptServing checks that a failed deployment left the app on image in blue.
func (u *unit) keptServing(app, image string) {
	u.t.Helper()
	st := u.stable(app, image)
	if st.ActiveColor != deploy.Blue || st.DesiredImage != image || st.Deployment != nil {
		u.t.Fatalf("after the failed deployment: %+v", st)
	}
	if _, ok := u.rt.container(app + "-green"); ok {
		u.t.Fatal("the failed candidate is still there")
	}
}

func TestAppActor_RollbackOnHealthTimeout(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	id := u.gated(cfg.Name, "web:sick")
	u.until("a failed check", func() bool {
		st := u.app(cfg.Name)
		return st.Containers.Green != nil && st.Containers.Green.Health == deploy.Starting
	})
	u.clock.fire(gateTimeout)
	d := u.wait(id)
	if d.Status != deploy.StatusRolledBack || !strings.Contains(d.Error, "not healthy within health_check_timeout (1h0m0s)") ||
		!strings.Contains(d.Error, "last health check: status 500") || len(d.Logs) == 0 {
		t.Fatalf("deployment %+v", d)
	}
	if got, want := phaseNamesOf(d), []string{"pulling", "starting", "health_checking", "rollback"}; !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	if d.Phases[2].Error != d.Error || d.Phases[3].Error != d.Error {
		t.Fatalf("the gate and the rollback carry the reason: %+v", d.Phases)
	}
	u.keptServing(cfg.Name, "web:v1")
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("proxy answered %q", got)
	}
	if evs := u.events(cfg.Name); !slices.Contains(evs, deploy.EventDeploymentRolledBack) || !slices.Contains(evs, deploy.EventContainerRemoved) {
		t.Fatalf("events %v", evs)
	}
}

func TestAppActor_RollbackOnCrash(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	id := u.gated(cfg.Name, "web:sick")
	u.rt.exit(cfg.Name+"-green", 137, true)
	d := u.wait(id)
	if d.Status != deploy.StatusRolledBack || !strings.Contains(d.Error, "killed for exceeding its memory limit during health checks") {
		t.Fatalf("deployment %+v", d)
	}
	if u.clock.pending(gateTimeout) != 0 {
		t.Fatal("the gate's timer still runs")
	}
	u.keptServing(cfg.Name, "web:v1")
	if evs := u.events(cfg.Name); !slices.Contains(evs, deploy.EventContainerExited) {
		t.Fatalf("no container.exited in %v", evs)
	}
	// A stale timer of the ended gate changes nothing.
	u.clock.fire(gateTimeout)
	u.stable(cfg.Name, "web:v1")
}

func TestAppActor_StartFailures(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	t.Run("a container that exits at once rolls back", func(t *testing.T) {
		u.rt.image("web:exits", fakeImage{exits: true}, true)
		d := u.wait(u.deploy(cfg.Name, "web:exits").DeploymentID)
		if d.Status != deploy.StatusRolledBack || !strings.Contains(d.Error, "exited with code 1 right after start") {
			t.Fatalf("deployment %+v", d)
		}
		if got, want := phaseNamesOf(d), []string{"pulling", "starting", "rollback"}; !slices.Equal(got, want) {
			t.Fatalf("phases %v, want %v", got, want)
		}
		u.keptServing(cfg.Name, "web:v1")
	})
	t.Run("a failed create fails", func(t *testing.T) {
		u.rt.failNext("Create", errors.New("create u-green: no space left on device"))
		d := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
		if d.Status != deploy.StatusFailed || !strings.Contains(d.Error, "no space left") || d.Phases[len(d.Phases)-1].Error != d.Error {
			t.Fatalf("deployment %+v", d)
		}
		u.keptServing(cfg.Name, "web:v1")
	})
	t.Run("a missing image fails", func(t *testing.T) {
		d := u.wait(u.deploy(cfg.Name, "web:nowhere").DeploymentID)
		if d.Status != deploy.StatusFailed || !strings.Contains(d.Error, "image missing") || len(d.Phases) != 1 {
			t.Fatalf("deployment %+v", d)
		}
		u.keptServing(cfg.Name, "web:v1")
	})
}

// fakeHost is the app actor as a run sees it (runHost): it answers as set
// and logs what the run asked.
type fakeHost struct {
	p         *partEnv
	calls     []string
	old       string // the old color's container, for stopping
	passes    int    // passedGate: the checks in a row so far
	switchErr error
	drains    bool               // the proxy listens
	end       *deploy.Deployment // what ended asked
	stats     *proxy.Stats       // what tally reads (verify_test.go); nil: nothing counted
}

func (h *fakeHost) call(s string) { h.calls = append(h.calls, s) }

func (h *fakeHost) retentionPass() <-chan struct{} { return nil }
func (h *fakeHost) newContainer(d deploy.Deployment) (docker.Spec, func(context.Context) error) {
	h.call("newContainer")
	cs := newAppContainers(h.p.env)
	return cs.spec(d), nil
}
func (h *fakeHost) startExisting(deploy.Color) (string, int) { return "", 0 }
func (h *fakeHost) candidateStarted(color deploy.Color, id, image string, port int, deploymentID int64, _ time.Time, failed bool) {
	h.call(fmt.Sprintf("candidateStarted %s failed=%v", color, failed))
}
func (h *fakeHost) watchHealth() { h.call("watchHealth") }
func (h *fakeHost) passedGate(deploy.Color) (int, bool) {
	return h.passes, h.passes >= h.p.env.cfg.HealthCheck.HealthyThreshold
}
func (h *fakeHost) checked(deploy.Color) bool { return h.passes > 0 }
func (h *fakeHost) switchTo(color deploy.Color, image string) (deploy.Color, error) {
	h.call("switchTo " + string(color))
	return color.Other(), h.switchErr
}
func (h *fakeHost) has(color deploy.Color) bool { return color == deploy.Green || h.old != "" } // the candidate, the old
func (h *fakeHost) drainer(deploy.Color) func() proxy.DrainResult {
	if !h.drains {
		return nil
	}
	return func() proxy.DrainResult { return proxy.DrainResult{HTTPCut: 1} }
}
func (h *fakeHost) stopping(deploy.Color) string              { return h.old }
func (h *fakeHost) containerStopped(color deploy.Color)       { h.call("containerStopped " + string(color)) }
func (h *fakeHost) rollingBack(color deploy.Color, id string) { h.call("rollingBack " + string(color)) }
func (h *fakeHost) candidateRemoved(color deploy.Color, existing bool) {
	h.call("candidateRemoved " + string(color))
}
func (h *fakeHost) ended(d deploy.Deployment) { h.end = &d }

var _ runHost = (*fakeHost)(nil)

// newTestRun records a deployment of image into green and makes its run.
func newTestRun(p *partEnv, h runHost, image string) *deploymentRun {
	p.t.Helper()
	d := deploy.Deployment{App: p.env.cfg.Name, ToImage: image, Color: deploy.Green, TriggerSource: deploy.TriggerAPI,
		Status: deploy.StatusPulling, StartedAt: time.Now().UTC()}
	if err := p.st.CreateDeployment(context.Background(), &d); err != nil {
		p.t.Fatal(err)
	}
	return newDeploymentRun(p.env, h, d, 7, deploy.Blue, false)
}

// stepTo feeds r the next stepDone sent to the actor and checks the phase
// it leaves r in.
func stepTo(t *testing.T, p *partEnv, r *deploymentRun, want phase) {
	t.Helper()
	msg := sent[stepDone](p)
	if !r.step(msg) {
		t.Fatalf("step %+v of phase %s is stale for a run in %s", msg, msg.phase, r.phase)
	}
	if r.phase != want {
		t.Fatalf("after %s: %s, want %s", msg.phase, r.phase, want)
	}
}

func TestRun_Completes(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	h := &fakeHost{p: p, drains: true, old: p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)}
	r := newTestRun(p, h, "web:v2")

	r.begin()
	stepTo(t, p, r, phaseStarting)
	stepTo(t, p, r, phaseHealthChecking)
	if p.clock.pending(gateTimeout) != 1 {
		t.Fatal("no health_check_timeout timer")
	}
	h.passes = 1
	r.gateCheck(deploy.HealthCheck{Success: true})
	if r.phase != phaseHealthChecking {
		t.Fatal("one pass ended the gate")
	}
	h.passes = 2
	r.gateCheck(deploy.HealthCheck{Success: true})
	if r.phase != phaseDraining || p.clock.pending(gateTimeout) != 0 {
		t.Fatalf("after the gate: %s, gate timer pending %d", r.phase, p.clock.pending(gateTimeout))
	}
	stepTo(t, p, r, phaseStopping)
	msg := sent[stepDone](p)
	if r.step(stepDone{gen: msg.gen + 1, phase: msg.phase}) || r.step(stepDone{gen: msg.gen, phase: phasePulling}) {
		t.Fatal("a step of another run or phase is taken")
	}
	r.step(msg)
	if h.end == nil || h.end.Status != deploy.StatusCompleted {
		t.Fatalf("ended %+v", h.end)
	}
	if got, want := phaseNamesOf(*h.end), []string{"pulling", "starting", "health_checking", "switching", "draining", "stopping"}; !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	if want := []string{"newContainer", "candidateStarted green failed=false", "watchHealth", "switchTo green", "watchHealth",
		"containerStopped blue"}; !slices.Equal(h.calls, want) {
		t.Fatalf("asked the actor %q, want %q", h.calls, want)
	}
	if stored, err := p.st.GetDeployment(context.Background(), h.end.DeploymentID); err != nil || stored.Status != deploy.StatusCompleted {
		t.Fatalf("stored %+v %v", stored, err)
	}
	evs := p.events()
	for _, typ := range []deploy.EventType{deploy.EventDeploymentStarted, deploy.EventContainerStarted, deploy.EventContainerHealthy,
		deploy.EventProxySwitched, deploy.EventDrainCompleted, deploy.EventContainerStopped, deploy.EventDeploymentCompleted} {
		if !slices.Contains(evs, typ) {
			t.Errorf("no %s in %v", typ, evs)
		}
	}
}

func TestRun_RollsBack(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func(p *partEnv, h *fakeHost, r *deploymentRun)
		why  string
	}{
		{"gate timeout", func(p *partEnv, h *fakeHost, r *deploymentRun) {
			r.gateCheck(deploy.HealthCheck{Error: "status 500"})
			p.clock.fire(gateTimeout)
			stepTo(t, p, r, phaseRollingBack)
		}, "not healthy within health_check_timeout (1h0m0s): last health check: status 500: no health check answered"},
		{"crash in the gate", func(p *partEnv, h *fakeHost, r *deploymentRun) {
			if r.crashed(deploy.Blue, r.candidate, 1, false) || r.crashed(deploy.Green, "another", 1, false) {
				t.Fatal("the exit of another container ends the gate")
			}
			if !r.crashed(deploy.Green, r.candidate, 137, true) || r.phase != phaseRollingBack {
				t.Fatal("the candidate's crash does not end the gate")
			}
		}, "killed for exceeding its memory limit during health checks"},
		{"switch not recorded", func(p *partEnv, h *fakeHost, r *deploymentRun) {
			h.switchErr = errors.New("database is locked")
			h.passes = 2
			r.gateCheck(deploy.HealthCheck{Success: true})
		}, "could not record the switch in the store (database is locked): traffic stays on blue"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPartEnv(t, unitApp(t, "web:v1"))
			h := &fakeHost{p: p}
			r := newTestRun(p, h, "web:v2")
			r.begin()
			stepTo(t, p, r, phaseStarting)
			stepTo(t, p, r, phaseHealthChecking)
			tt.fail(p, h, r)
			if r.phase != phaseRollingBack || !slices.Contains(h.calls, "rollingBack green") {
				t.Fatalf("in %s, asked %q", r.phase, h.calls)
			}
			r.step(sent[stepDone](p))
			if h.end == nil || h.end.Status != deploy.StatusRolledBack || !strings.Contains(h.end.Error, tt.why) ||
				len(h.end.Logs) == 0 {
				t.Fatalf("ended %+v, want rolled back: %s", h.end, tt.why)
			}
			if !slices.Contains(h.calls, "candidateRemoved green") {
				t.Fatalf("the candidate is not forgotten: %q", h.calls)
			}
			if _, ok := p.rt.container(p.env.cfg.Name + "-green"); ok {
				t.Fatal("the candidate is still there")
			}
		})
	}
}

func TestRun_PullFails(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	h := &fakeHost{p: p}
	r := newTestRun(p, h, "web:nowhere")
	r.begin()
	r.step(sent[stepDone](p))
	if h.end == nil || h.end.Status != deploy.StatusFailed || !strings.Contains(h.end.Error, "image missing") || len(h.calls) != 0 {
		t.Fatalf("ended %+v, asked %q", h.end, h.calls)
	}
}
