package actors

import (
	"context"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

// Every deployment says what kind of change it is; switches are left out
// of the stats.
func TestAppActor_Kinds(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	ctx := context.Background()
	first := u.firstDeployment(cfg.Name)
	u.stable(cfg.Name, "web:v1")
	deployed := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
	st, err := u.sys.Switch(ctx, cfg.Name, deploy.Blue)
	if err != nil {
		t.Fatal(err)
	}
	switched := *st.LastDeployment
	resp, err := u.sys.Rollback(ctx, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack := u.wait(resp.DeploymentID)
	for _, tt := range []struct {
		d    deploy.Deployment
		want deploy.Kind
	}{{first, deploy.KindConfig}, {deployed, deploy.KindDeploy}, {switched, deploy.KindSwitch}, {rolledBack, deploy.KindRollback}} {
		if tt.d.Kind != tt.want || tt.d.Status != deploy.StatusCompleted {
			t.Errorf("deployment %d (%s → %s): kind %q, status %s; want %q, completed", tt.d.DeploymentID, tt.d.FromImage, tt.d.ToImage,
				tt.d.Kind, tt.d.Status, tt.want)
		}
	}
	hist, err := u.sys.History(ctx, cfg.Name, 10, 0)
	if err != nil || len(hist) != 4 || hist[1].Kind != deploy.KindSwitch {
		t.Fatalf("history %+v, %v", hist, err)
	}
	stats := u.stable(cfg.Name, "web:v2").Stats
	if stats.Deployments != 3 || stats.Completed != 3 || stats.SuccessRate != 1 {
		t.Fatalf("stats %+v: want 3 deployments (the switch left out)", stats)
	}
}

// A deploy request for the image already queued answers the queued
// deployment instead of queueing another.
func TestAppActor_QueuedImageAskedAgain(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	release := u.rt.hold("EnsureImage")
	running := u.deploy(cfg.Name, "web:v2")
	queued := u.deploy(cfg.Name, "web:v3")
	again := u.deploy(cfg.Name, "web:v3")
	if queued.Status != deploy.AnswerQueued || again != queued {
		t.Fatalf("queued %+v, asked again %+v: want the same queued deployment", queued, again)
	}
	hist, err := u.sys.History(context.Background(), cfg.Name, 10, 0)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history %+v, %v: want the first start, the running and one queued", hist, err)
	}
	release()
	u.wait(running.DeploymentID)
	if d := u.wait(queued.DeploymentID); d.Status != deploy.StatusCompleted || d.Kind != deploy.KindDeploy {
		t.Fatalf("the queued deployment %+v", d)
	}
}
