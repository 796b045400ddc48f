package actors

import (
	"context"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// unfinished records a deployment of image into color that a stop left in status.
func (p *partEnv) unfinished(image string, color deploy.Color, status deploy.Status) int64 {
	p.t.Helper()
	d := deploy.Deployment{App: p.env.cfg.Name, ToImage: image, Color: color, TriggerSource: deploy.TriggerAPI,
		Status: status, StartedAt: time.Now().UTC()}
	if err := p.st.CreateDeployment(context.Background(), &d); err != nil {
		p.t.Fatal(err)
	}
	return d.DeploymentID
}

func TestDeployments_Load(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	done := p.completedDeployment("web:v1")
	pulling := p.unfinished("web:v3", deploy.Blue, deploy.StatusPulling)
	switched := p.unfinished("web:v2", deploy.Green, deploy.StatusDraining)
	ds := &appDeployments{env: p.env}
	ds.load(context.Background(), deploy.Green, "web:v2") // the store says green serves web:v2: switched

	if ds.last() != done || !ds.idle() {
		t.Fatalf("last completed %d, want %d", ds.last(), done)
	}
	b := ds.takeBoot(false)
	if b == nil || b.finish == nil || b.finish.DeploymentID != switched || b.resume == nil || b.resume.DeploymentID != pulling {
		t.Fatalf("boot %+v", b)
	}
	if ds.takeBoot(false) != nil {
		t.Fatal("the boot is handed over twice")
	}
	if !ds.leftBy(pulling) || ds.leftBy(switched) || ds.leftBy(done) {
		t.Fatal("leftBy: only the interrupted deployment")
	}
	if d, _ := p.st.GetDeployment(context.Background(), pulling); d.Status != deploy.StatusInterrupted {
		t.Fatalf("the unfinished deployment is %s", d.Status)
	}
	if d, _ := p.st.GetDeployment(context.Background(), switched); d.Status != deploy.StatusDraining {
		t.Fatalf("the switched deployment is %s, left to be finished", d.Status)
	}

	// Removed from the configs: everything unfinished ends, none is kept.
	ds.retire(context.Background())
	if d, _ := p.st.GetDeployment(context.Background(), switched); d.Status != deploy.StatusInterrupted {
		t.Fatalf("retired: the switched deployment is %s", d.Status)
	}
}

func TestDeployments_Queue(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	ds := &appDeployments{env: p.env}
	d := deploy.Deployment{App: p.env.cfg.Name, ToImage: "web:v2", Color: deploy.Green, TriggerSource: deploy.TriggerAPI,
		Status: deploy.StatusPulling, StartedAt: time.Now().UTC()}
	if err := ds.record(&d); err != nil {
		t.Fatal(err)
	}
	r := ds.start(&fakeHost{p: p}, d, deploy.Blue, false)
	if ds.running() != r || ds.idle() || r.id() != d.DeploymentID {
		t.Fatal("start: the run does not run")
	}
	first := ds.enqueue("web:v3", "web:v1", deploy.TriggerAPI, deploy.KindDeploy)
	second := ds.enqueue("web:v4", "web:v1", deploy.TriggerAPI, deploy.KindRollback)
	if first.Response.Status != deploy.AnswerQueued || second.Response.Status != deploy.AnswerQueued {
		t.Fatalf("enqueue answered %+v, %+v", first, second)
	}
	if id, ok := ds.queuedOf("web:v4"); !ok || id != second.Response.DeploymentID {
		t.Fatalf("queuedOf(web:v4) = %d, %v; want the queued %d", id, ok, second.Response.DeploymentID)
	}
	if _, ok := ds.queuedOf("web:v3"); ok {
		t.Fatal("queuedOf names a superseded deployment")
	}
	if got, _ := p.st.GetDeployment(context.Background(), second.Response.DeploymentID); got.Kind != deploy.KindRollback {
		t.Fatalf("the queued deployment's kind %q, want rollback", got.Kind)
	}
	if got, _ := p.st.GetDeployment(context.Background(), first.Response.DeploymentID); got.Status != deploy.StatusSuperseded {
		t.Fatalf("the first queued is %s, want superseded", got.Status)
	}
	if images := ds.images(); len(images) != 2 || images[0] != "web:v4" || images[1] != "web:v2" {
		t.Fatalf("images %v", images)
	}
	d.Status = deploy.StatusCompleted
	ds.finished(d)
	if ds.running() != nil || ds.last() != d.DeploymentID || ds.idle() {
		t.Fatal("finished: the run runs on, or the last completed is not it, or the queue is empty")
	}
	q := ds.takeQueued()
	if q == nil || q.ToImage != "web:v4" || ds.takeQueued() != nil || !ds.idle() {
		t.Fatalf("takeQueued %+v", q)
	}
}
