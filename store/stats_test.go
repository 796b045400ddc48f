package store

import (
	"context"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_Stats(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("no deployments", func(t *testing.T) {
		st, err := s.Stats(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if st != (deploy.Stats{}) {
			t.Errorf("got %+v, want zeros", st)
		}
	})

	add := func(app string, status deploy.Status, ms int64) {
		t.Helper()
		d := deploy.Deployment{App: app, Status: status, DurationMS: ms}
		if err := s.CreateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	// web: 20 completed with durations 100, 200, ..., 2000 (inserted out of
	// order), 3 failed, 2 rolled back, 1 superseded, 1 running.
	for _, i := range []int64{7, 3, 20, 1, 19, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18} {
		add("web", deploy.StatusCompleted, i*100)
	}
	for range 3 {
		add("web", deploy.StatusFailed, 99999)
	}
	add("web", deploy.StatusRolledBack, 99999)
	add("web", deploy.StatusRolledBack, 99999)
	add("web", deploy.StatusSuperseded, 99999)
	add("web", deploy.StatusHealthChecking, 0)
	// api: one completed, one failed.
	add("api", deploy.StatusCompleted, 333)
	add("api", deploy.StatusFailed, 1)
	// only-failed: success rate 0 and no durations.
	add("bad", deploy.StatusFailed, 5)

	tests := []struct {
		app  string
		want deploy.Stats
	}{
		// avg = 100*(1+...+20)/20 = 1050; p95 rank = ceil(0.95*20) = 19 -> 1900.
		{"web", deploy.Stats{Deployments: 27, Completed: 20, Failed: 3, RolledBack: 2, SuccessRate: 0.8, AvgDurationMS: 1050, P95DurationMS: 1900}},
		{"api", deploy.Stats{Deployments: 2, Completed: 1, Failed: 1, SuccessRate: 0.5, AvgDurationMS: 333, P95DurationMS: 333}},
		{"bad", deploy.Stats{Deployments: 1, Failed: 1}},
		// All apps: 21 completed: avg = (21000+333)/21 = 1015.857 -> 1016; rank ceil(19.95) = 20 -> 1900.
		{"", deploy.Stats{Deployments: 30, Completed: 21, Failed: 5, RolledBack: 2, SuccessRate: 21.0 / 28.0, AvgDurationMS: 1016, P95DurationMS: 1900}},
	}
	for _, tt := range tests {
		t.Run("app "+tt.app, func(t *testing.T) {
			st, err := s.Stats(ctx, tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if st != tt.want {
				t.Errorf("got  %+v\nwant %+v", st, tt.want)
			}
		})
	}
}

// The cached history of an app (Stats, LastFinished) changes with the
// write that changes it, and is dropped when another process writes.
func TestStore_historyCache(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	read := func() (deploy.Stats, *deploy.Deployment) {
		t.Helper()
		st, err := s.Stats(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		last, err := s.LastFinished(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return st, last
	}
	if st, last := read(); st.Deployments != 0 || last != nil {
		t.Fatalf("empty store: %+v, %v", st, last)
	}
	d := deploy.Deployment{App: "web", Status: deploy.StatusPulling, ToImage: "web:v1"}
	if err := s.CreateDeployment(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if st, last := read(); st.Deployments != 1 || last != nil {
		t.Fatalf("after create: %+v, %v; want 1 deployment, none finished", st, last)
	}
	d.Status, d.DurationMS = deploy.StatusCompleted, 1500
	if err := s.UpdateDeployment(ctx, &d); err != nil {
		t.Fatal(err)
	}
	st, last := read()
	if st.Deployments != 1 || st.SuccessRate != 1 || st.AvgDurationMS != 1500 || last == nil || last.DeploymentID != d.DeploymentID {
		t.Fatalf("after update: %+v, %+v; want the completed deployment", st, last)
	}
	// Another app's write leaves web's entry alone but is seen for its own.
	o := deploy.Deployment{App: "api", Status: deploy.StatusFailed}
	if err := s.CreateDeployment(ctx, &o); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LastFinished(ctx, "api"); err != nil || got == nil || got.DeploymentID != o.DeploymentID {
		t.Fatalf("LastFinished(api) = %+v, %v", got, err)
	}

	// Another process (the old one during an upgrade) finishes a
	// deployment: the next checkpoint notices and the cache is dropped.
	other, err := Open(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := s.Checkpoint(ctx); err != nil { // notes the data version
		t.Fatal(err)
	}
	d2 := deploy.Deployment{App: "web", Status: deploy.StatusRolledBack, ToImage: "web:v2"}
	if err := other.CreateDeployment(ctx, &d2); err != nil {
		t.Fatal(err)
	}
	if _, last := read(); last.DeploymentID != d.DeploymentID {
		t.Fatalf("before a checkpoint the cache still holds the deployment it read (so this test sees the cache at work); got %d", last.DeploymentID)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if st, last := read(); st.Deployments != 2 || last == nil || last.DeploymentID != d2.DeploymentID {
		t.Fatalf("after the other process's write and a checkpoint: %+v, %+v", st, last)
	}
}
