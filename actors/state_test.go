package actors

import (
	"context"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestRecord(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	ctx := context.Background()
	r := &appRecord{env: p.env}
	r.load(ctx)
	if r.active() != "" || r.current() != "" {
		t.Fatalf("an app the store does not know: %+v", r.st)
	}
	if from, err := r.switchTo(deploy.Blue, "web:v1"); err != nil || from != "" {
		t.Fatalf("switchTo: %v, from %q", err, from)
	}
	r.desire("web:v2")
	if from, changed := r.setStatus(deploy.AppDeploying, ""); !changed || from != "" {
		t.Fatal("a new status is a change")
	}
	if _, changed := r.setStatus(deploy.AppDeploying, ""); changed {
		t.Fatal("the same status again is no change")
	}
	again := &appRecord{env: p.env}
	again.load(ctx)
	if st, _ := again.status(); again.active() != deploy.Blue || again.current() != "web:v1" || again.desired() != "web:v2" ||
		st != deploy.AppDeploying {
		t.Fatalf("read back %+v", again.st)
	}
	r.settle()
	if r.desired() != "web:v1" {
		t.Fatalf("settle: desired %s, want what serves", r.desired())
	}

	p.st.Close() // a store that cannot write: a switch does not happen
	if from, err := r.switchTo(deploy.Green, "web:v2"); err == nil || from != deploy.Blue || r.active() != deploy.Blue || r.current() != "web:v1" {
		t.Fatalf("a switch the store did not record: %v; active %s %s", err, r.active(), r.current())
	}
}
