package actors

import (
	"context"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

func TestAppActor_InterruptedAndResumed(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	u.rt.image("web:v2", fakeImage{health: 500}, true) // its candidate stays in the gate
	id := u.gated(cfg.Name, "web:v2")
	u.restart()

	d, err := u.sys.Deployment(context.Background(), id)
	if err != nil || d.Status != deploy.StatusInterrupted || !strings.Contains(d.Error, "supervisor stopped") {
		t.Fatalf("the interrupted deployment: %+v, %v", d, err)
	}
	// Its candidate is removed and the request is deployed again, with its
	// trigger, by a new deployment.
	var resumed deploy.Deployment
	u.until("the resumed deployment", func() bool {
		hist, err := u.sys.History(context.Background(), cfg.Name, 1, 0)
		if err != nil || len(hist) == 0 || hist[0].DeploymentID == id {
			return false
		}
		resumed = hist[0]
		return true
	})
	if resumed.ToImage != "web:v2" || resumed.TriggerSource != deploy.TriggerS3dock {
		t.Fatalf("resumed %+v", resumed)
	}
	u.reaches(resumed.DeploymentID, deploy.StatusHealthChecking)
	u.until("the gate's timer", func() bool { return u.clock.pending(gateTimeout) >= 1 })
	u.rt.setHealth(cfg.Name+"-green", 200)
	if d := u.wait(resumed.DeploymentID); d.Status != deploy.StatusCompleted {
		t.Fatalf("resumed %+v", d)
	}
	if st := u.stable(cfg.Name, "web:v2"); st.ActiveColor != deploy.Green {
		t.Fatalf("status %+v", st)
	}
	if evs := u.events(cfg.Name); countOf(evs, deploy.EventDeploymentInterrupted) != 1 {
		t.Fatalf("events %v", evs)
	}
}

func TestAppActor_StateSurvivesRestart(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	// The first start, then web:v2 into green (a deploy that came before
	// the adoption would take blue, with no first start).
	u.stable(cfg.Name, "web:v1")
	u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
	u.restart()
	st := u.stable(cfg.Name, "web:v2")
	// The status read back from the store shows stable before the new
	// actor's first read of Docker; wait for that read.
	u.until("the containers read from Docker", func() bool {
		var err error
		st, err = u.sys.App(context.Background(), cfg.Name)
		return err == nil && st.Containers.Blue != nil
	})
	if st.ActiveColor != deploy.Green || st.Containers.Blue == nil || st.Containers.Blue.State != "exited" {
		t.Fatalf("after restart: %+v", st)
	}
	hist, err := u.sys.History(context.Background(), cfg.Name, 10, 0)
	if err != nil || len(hist) != 2 {
		t.Fatalf("no new deployment after a restart: %+v %v", hist, err)
	}
	t.Run("a stopped active container is started", func(t *testing.T) {
		u.stop()
		u.rt.exit(cfg.Name+"-green", 0, false)
		u.start()
		// As above, the status read back from the store is stable before
		// the adoption: wait for the one that shows green as Docker lists
		// it, running again, and the app stable on it.
		u.until("green running again, stable", func() bool {
			st, err := u.sys.App(context.Background(), cfg.Name)
			return err == nil && st.Containers.Green != nil && st.Containers.Green.State == "running" &&
				st.Status == deploy.AppStable && st.CurrentImage == "web:v2"
		})
		if ct, _ := u.rt.container(cfg.Name + "-green"); !ct.Running {
			t.Fatalf("green %+v", ct)
		}
	})
}

func TestAppActor_DockerDown(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	ctx := context.Background()

	u.rt.setDown(true)
	if _, err := u.sys.Deploy(ctx, cfg.Name, deploy.Request{DesiredImage: "web:v2"}); deploy.ErrorCode(err) != deploy.EDOCKERUNAVAILABLE {
		t.Fatalf("deploy with Docker down: %v", err)
	}
	u.tick(cfg.Name)
	u.until("degraded", func() bool {
		st := u.app(cfg.Name)
		return st.Status == deploy.AppDegraded && strings.HasPrefix(st.Error, "Docker unreachable")
	})
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("with Docker down the proxy answered %q", got)
	}
	u.rt.setDown(false)
	u.tick(cfg.Name)
	u.stable(cfg.Name, "web:v1")

	t.Run("in the middle of a deployment", func(t *testing.T) {
		u.rt.failNext("EnsureImage", &dockerDown{})
		d := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
		if d.Status != deploy.StatusFailed || !strings.HasPrefix(d.Error, "Docker unreachable: ") {
			t.Fatalf("deployment %+v", d)
		}
		u.keptServing(cfg.Name, "web:v1")
	})
	t.Run("at start", func(t *testing.T) {
		u.stop()
		u.rt.setDown(true)
		u.start()
		u.until("degraded from the last known state", func() bool {
			st := u.app(cfg.Name)
			return st.Status == deploy.AppDegraded && st.ActiveColor == deploy.Blue
		})
		if got := u.serves(cfg); got != "web:v1" {
			t.Fatalf("the proxy answered %q", got)
		}
		u.rt.setDown(false)
		u.tick(cfg.Name) // adoption, retried
		u.stable(cfg.Name, "web:v1")
	})
}

// dockerDown is an error of an unreachable daemon.
type dockerDown struct{}

func (*dockerDown) Error() string        { return "cannot reach Docker at fake: is dockerd running?" }
func (*dockerDown) Is(target error) bool { return target == docker.ErrUnavailable }

func TestAppActor_Reconcile(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	blue := cfg.Name + "-blue"

	u.rt.exit(blue, 2, false)
	u.tick(cfg.Name)
	u.until("degraded", func() bool {
		st := u.app(cfg.Name)
		return st.Status == deploy.AppDegraded && st.Error == "the active blue container is exited"
	})
	ct, _ := u.rt.container(blue)
	if err := u.rt.Remove(context.Background(), ct.ID); err != nil {
		t.Fatal(err)
	}
	u.tick(cfg.Name)
	u.until("gone", func() bool {
		st := u.app(cfg.Name)
		return st.Error == "the active blue container is gone" && st.Containers.Blue == nil
	})
	// Only a deployment brings it back.
	u.wait(u.deploy(cfg.Name, "").DeploymentID)
	u.stable(cfg.Name, "web:v1")
}

func countOf[T comparable](list []T, v T) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
