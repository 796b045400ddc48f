package actors

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestAppActor_QueuedAndSuperseded(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	release := u.rt.hold("EnsureImage")
	first := u.deploy(cfg.Name, "web:v2")
	again := u.deploy(cfg.Name, "web:v2")
	second := u.deploy(cfg.Name, "web:sick")
	third := u.deploy(cfg.Name, "web:v3")
	if first.Status != deploy.AnswerStarted || again != first {
		t.Fatalf("first %+v, the same image again %+v", first, again)
	}
	if second.Status != deploy.AnswerQueued || third.Status != deploy.AnswerQueued {
		t.Fatalf("queued: %+v %+v", second, third)
	}
	if d := u.wait(second.DeploymentID); d.Status != deploy.StatusSuperseded || !strings.Contains(d.Error, "web:v3") {
		t.Fatalf("the older queued one: %+v", d)
	}
	if st := u.app(cfg.Name); st.Status != deploy.AppDeploying || st.Deployment == nil || st.Deployment.DeploymentID != first.DeploymentID {
		t.Fatalf("while pulling: %+v", st)
	}
	release()
	if d := u.wait(first.DeploymentID); d.Status != deploy.StatusCompleted {
		t.Fatalf("first %+v", d)
	}
	d := u.wait(third.DeploymentID)
	if d.Status != deploy.StatusCompleted || d.FromImage != "web:v2" || d.Color != deploy.Blue {
		t.Fatalf("the newest queued one %+v", d)
	}
	if st := u.stable(cfg.Name, "web:v3"); st.ActiveColor != deploy.Blue {
		t.Fatalf("status %+v", st)
	}
}

func TestAppActor_Switch(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	ctx := context.Background()

	if _, err := u.sys.Switch(ctx, cfg.Name, deploy.Green); deploy.ErrorCode(err) != deploy.ECONFLICT || !strings.Contains(err.Error(), "no green container") {
		t.Fatalf("switch to a color without a container: %v", err)
	}
	u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
	before, _ := u.sys.History(ctx, cfg.Name, 100, 0)
	if st, err := u.sys.Switch(ctx, cfg.Name, deploy.Green); err != nil || st.ActiveColor != deploy.Green || st.CurrentImage != "web:v2" {
		t.Fatalf("switch to the active color: %+v, %v; want the status, nothing done", st, err)
	}
	if after, _ := u.sys.History(ctx, cfg.Name, 100, 0); len(after) != len(before) {
		t.Fatalf("switch to the active color made a deployment: %d, were %d", len(after), len(before))
	}
	if _, err := u.sys.Switch(ctx, cfg.Name, "red"); deploy.ErrorCode(err) != deploy.EINVALID {
		t.Fatalf("switch to red: %v", err)
	}

	st, err := u.sys.Switch(ctx, cfg.Name, deploy.Blue)
	if err != nil || st.ActiveColor != deploy.Blue || st.CurrentImage != "web:v1" {
		t.Fatalf("switch back: %+v, %v", st, err)
	}
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("proxy answered %q", got)
	}
	d := *st.LastDeployment
	if d.TriggerSource != deploy.TriggerManual || d.Color != deploy.Blue {
		t.Fatalf("the switch's deployment %+v", d)
	}
	if got, want := phaseNamesOf(d), []string{"starting", "health_checking", "switching", "draining", "stopping"}; !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	if ct, ok := u.rt.container(cfg.Name + "-green"); !ok || ct.Running {
		t.Fatalf("green after the switch: %+v %v (kept, stopped)", ct, ok)
	}

	t.Run("an unhealthy color is not switched to", func(t *testing.T) {
		u.rt.setHealth(cfg.Name+"-green", 503)
		resp, err := u.sys.askDeploy(Switch{App: cfg.Name, Color: deploy.Green})
		if err != nil {
			t.Fatal(err)
		}
		u.reaches(resp.DeploymentID, deploy.StatusHealthChecking)
		if _, err := u.sys.Switch(ctx, cfg.Name, deploy.Green); deploy.ErrorCode(err) != deploy.ECONFLICT || !strings.Contains(err.Error(), "is running") {
			t.Fatalf("switch during a switch: %v", err)
		}
		u.until("the gate's timer", func() bool { return u.clock.pending(gateTimeout) == 1 })
		u.clock.fire(gateTimeout)
		if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusRolledBack {
			t.Fatalf("switch to an unhealthy green: %+v", d)
		}
		u.stable(cfg.Name, "web:v1")
		if ct, ok := u.rt.container(cfg.Name + "-green"); !ok || ct.Running {
			t.Fatalf("green after the failed switch: %+v %v (kept, stopped)", ct, ok)
		}
	})
}

func TestAppActor_RollbackRequest(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	ctx := context.Background()
	if _, err := u.sys.Rollback(ctx, cfg.Name); deploy.ErrorCode(err) != deploy.ECONFLICT {
		t.Fatalf("rollback without an earlier image: %v", err)
	}
	u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
	resp, err := u.sys.Rollback(ctx, cfg.Name)
	if err != nil || resp.Status != deploy.AnswerStarted {
		t.Fatalf("rollback: %+v, %v", resp, err)
	}
	if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusCompleted || d.ToImage != "web:v1" || d.TriggerSource != deploy.TriggerManual {
		t.Fatalf("rollback %+v", d)
	}
	u.stable(cfg.Name, "web:v1")
}
