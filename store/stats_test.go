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
