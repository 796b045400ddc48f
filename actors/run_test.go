package actors

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestPhase_String(t *testing.T) {
	for p, want := range map[phase]string{phasePulling: "pulling", phaseStarting: "starting",
		phaseHealthChecking: "health_checking", phaseSwitching: "switching", phaseDraining: "draining",
		phaseStopping: "stopping", phaseRollingBack: "rollback", phase(42): "phase(42)"} {
		if p.String() != want {
			t.Errorf("%d: %q, want %q", int(p), p.String(), want)
		}
		// A phase named like a status shows that status.
		if st, ok := p.status(); ok && string(st) != want {
			t.Errorf("%s shows status %s", want, st)
		}
	}
	for _, p := range []phase{phaseStopping, phaseRollingBack, phaseNone} {
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
