package actors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// The standby's life over the fake runtime (standby.go): set aside while a
// candidate takes its color, back when the candidate fails, removed once
// it passed; never more than one container of a color runs.

// withStandby brings a unit app to v2 in green with v1 stopped in blue (the
// standby) and returns blue's container.
func withStandby(t *testing.T, u *unit, app string) docker.Container {
	t.Helper()
	u.stable(app, "web:v1")
	if d := u.wait(u.deploy(app, "web:v2").DeploymentID); d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy v2: %+v", d)
	}
	blue, ok := u.rt.container(app + "-blue")
	if !ok || blue.Running {
		t.Fatalf("the standby %+v, %v: want blue's v1, stopped", blue, ok)
	}
	return blue
}

// standbyBack waits until blue's container is the standby again, under its
// own name, stopped, shown in the status; nothing is left aside.
func standbyBack(t *testing.T, u *unit, app string, standby docker.Container) {
	t.Helper()
	u.until("the standby back in blue", func() bool {
		st := u.app(app)
		return st.Containers.Blue != nil && st.Containers.Blue.ID == standby.ID && st.Containers.Blue.Image == "web:v1"
	})
	ct, ok := u.rt.container(app + "-blue")
	if !ok || ct.ID != standby.ID || ct.Running {
		t.Fatalf("blue's container %+v, %v: want the standby %s, stopped", ct, ok, short(standby.ID))
	}
	if ct, ok := u.rt.container(app + "-blue" + standbySuffix); ok {
		t.Fatalf("a container is still aside: %+v", ct)
	}
	if n := len(u.rt.containersOf(app)); n != 2 {
		t.Fatalf("%d containers of %s, want 2", n, app)
	}
}

// switchBack switches to blue and checks that the standby serves v1.
func switchBack(t *testing.T, u *unit, app string) {
	t.Helper()
	st, err := u.sys.Switch(context.Background(), app, deploy.Blue)
	if err != nil || st.ActiveColor != deploy.Blue || st.CurrentImage != "web:v1" {
		t.Fatalf("switch to the standby: %+v, %v", st, err)
	}
}

func TestStandby_KeptByARolledBackDeploy(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	standby := withStandby(t, u, cfg.Name)

	resp := u.deploy(cfg.Name, "web:sick")
	u.reaches(resp.DeploymentID, deploy.StatusHealthChecking)
	aside, ok := u.rt.container(cfg.Name + "-blue" + standbySuffix)
	if !ok || aside.ID != standby.ID || aside.Running || aside.Labels[LabelColor] != "blue" {
		t.Fatalf("while the candidate runs the standby is %+v, %v: want it aside, stopped, its labels kept", aside, ok)
	}
	candidate, ok := u.rt.container(cfg.Name + "-blue")
	if !ok || !candidate.Running || candidate.ID == standby.ID || candidate.HostPort != cfg.Ports.Blue {
		t.Fatalf("the candidate %+v, %v: want a new container on blue's port", candidate, ok)
	}
	u.until("the gate's timer", func() bool { return u.clock.pending(gateTimeout) == 1 })
	u.clock.fire(gateTimeout)
	if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusRolledBack {
		t.Fatalf("deployment %+v", d)
	}
	standbyBack(t, u, cfg.Name, standby)
	if u.rt.exists(candidate.ID) {
		t.Fatal("the failed candidate is still there")
	}
	switchBack(t, u, cfg.Name)
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("after the switch the proxy answered %q", got)
	}
}

func TestStandby_KeptByAFailedDeploy(t *testing.T) {
	for _, call := range []string{"Create", "Start"} {
		t.Run(call+" fails", func(t *testing.T) {
			cfg := unitApp(t, "web:v1")
			u := newUnit(t, cfg)
			standby := withStandby(t, u, cfg.Name)
			u.rt.failNext(call, errors.New("port is already allocated"))
			d := u.wait(u.deploy(cfg.Name, "web:v3").DeploymentID)
			if d.Status != deploy.StatusFailed || !strings.Contains(d.Error, "already allocated") {
				t.Fatalf("deployment %+v", d)
			}
			standbyBack(t, u, cfg.Name, standby)
			switchBack(t, u, cfg.Name)
		})
	}
	t.Run("the pull fails", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := newUnit(t, cfg)
		standby := withStandby(t, u, cfg.Name)
		if d := u.wait(u.deploy(cfg.Name, "web:nowhere").DeploymentID); d.Status != deploy.StatusFailed {
			t.Fatalf("deployment %+v", d)
		}
		standbyBack(t, u, cfg.Name, standby)
		if slices.Contains(u.rt.callLog(), "Rename") {
			t.Fatal("a pull that failed set the standby aside")
		}
	})
}

func TestStandby_RemovedOncePassed(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	standby := withStandby(t, u, cfg.Name)
	if d := u.wait(u.deploy(cfg.Name, "web:v3").DeploymentID); d.Status != deploy.StatusCompleted || d.Color != deploy.Blue {
		t.Fatalf("deployment %+v", d)
	}
	u.stable(cfg.Name, "web:v3")
	u.until("the standby removed", func() bool {
		_, there := u.rt.container(cfg.Name + "-blue" + standbySuffix)
		return !there
	})
	if u.rt.exists(standby.ID) {
		t.Fatal("the old standby is still there")
	}
	if green, ok := u.rt.container(cfg.Name + "-green"); !ok || green.Running || green.Image != "web:v2" {
		t.Fatalf("green %+v: want the new standby, v2, stopped", green)
	}
	u.until("the removal recorded", func() bool { return countOf(u.events(cfg.Name), deploy.EventContainerRemoved) == 1 })
}

// A standby found running (an operator's docker start, Docker's restart
// policy) is stopped before it is set aside: the candidate takes its port.
func TestStandby_RunningStandbyIsStopped(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	standby := withStandby(t, u, cfg.Name)
	u.rt.dockerStarts(cfg.Name + "-blue")
	u.tick(cfg.Name)
	u.until("the running standby seen", func() bool {
		st := u.app(cfg.Name)
		return st.Containers.Blue != nil && st.Containers.Blue.State == "running"
	})
	resp := u.deploy(cfg.Name, "web:sick")
	u.reaches(resp.DeploymentID, deploy.StatusHealthChecking)
	if aside, ok := u.rt.container(cfg.Name + "-blue" + standbySuffix); !ok || aside.Running {
		t.Fatalf("the standby aside %+v, %v: want stopped", aside, ok)
	}
	u.until("the gate's timer", func() bool { return u.clock.pending(gateTimeout) == 1 })
	u.clock.fire(gateTimeout)
	u.wait(resp.DeploymentID)
	standbyBack(t, u, cfg.Name, standby)
}

// A supervisor stopped in the middle of a deployment (the store keeps it
// unfinished, as a kill -9 does) finds the standby aside at its next start.
func TestStandby_AfterARestart(t *testing.T) {
	t.Run("the candidate had not passed: the standby is put back", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := newUnit(t, cfg)
		standby := withStandby(t, u, cfg.Name)
		resp := u.deploy(cfg.Name, "web:sick")
		u.reaches(resp.DeploymentID, deploy.StatusHealthChecking)
		u.restart()
		if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusInterrupted {
			t.Fatalf("deployment %+v", d)
		}
		// The new process deploys the interrupted request again: its
		// candidate takes blue, and the standby is aside once more.
		var again deploy.Deployment
		u.until("the request deployed again", func() bool {
			h, err := u.sys.History(context.Background(), cfg.Name, 1, 0)
			if err == nil && len(h) == 1 && h[0].DeploymentID != resp.DeploymentID {
				again = h[0]
			}
			return again.DeploymentID != 0
		})
		u.reaches(again.DeploymentID, deploy.StatusHealthChecking)
		u.until("the gate's timer", func() bool { return u.clock.pending(gateTimeout) == 1 })
		u.clock.fire(gateTimeout)
		if d := u.wait(again.DeploymentID); d.Status != deploy.StatusRolledBack || d.Kind != deploy.KindDeploy {
			t.Fatalf("the deployment again %+v", d)
		}
		standbyBack(t, u, cfg.Name, standby)
		switchBack(t, u, cfg.Name)
	})
	t.Run("the candidate had switched: the standby is removed", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := newUnit(t, cfg)
		standby := withStandby(t, u, cfg.Name)
		release := u.rt.hold("Stop") // the old green's stop: the deployment stays in stopping
		defer release()
		resp := u.deploy(cfg.Name, "web:v3")
		u.until("the deployment stopping the old color", func() bool {
			d, err := u.sys.Deployment(context.Background(), resp.DeploymentID)
			return err == nil && len(d.Phases) > 0 && d.Phases[len(d.Phases)-1].Name == "stopping"
		})
		u.restart()
		release()
		if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment %+v", d)
		}
		u.stable(cfg.Name, "web:v3")
		u.until("the standby removed", func() bool {
			_, there := u.rt.container(cfg.Name + "-blue" + standbySuffix)
			return !there
		})
		if u.rt.exists(standby.ID) {
			t.Fatal("the old standby is still there")
		}
	})
	t.Run("the candidate was never created: the standby is put back", func(t *testing.T) {
		cfg := unitApp(t, "web:v1")
		u := newUnit(t, cfg)
		standby := withStandby(t, u, cfg.Name)
		release := u.rt.hold("Create")
		defer release()
		resp := u.deploy(cfg.Name, "web:v3")
		u.until("the standby aside", func() bool {
			_, ok := u.rt.container(cfg.Name + "-blue" + standbySuffix)
			return ok
		})
		u.rt.failNext("EnsureImage", errors.New("the registry is down")) // the new process's resume fails at its pull
		u.restart()
		release()
		if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusInterrupted {
			t.Fatalf("deployment %+v", d)
		}
		standbyBack(t, u, cfg.Name, standby)
	})
}
