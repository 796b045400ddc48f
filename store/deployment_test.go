package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// createDeployments creates n deployments of app with to_image app:1..n.
func createDeployments(t *testing.T, s *Store, app string, n int) []deploy.Deployment {
	t.Helper()
	var ds []deploy.Deployment
	for i := 1; i <= n; i++ {
		d := deploy.Deployment{App: app, ToImage: fmt.Sprintf("%s:%d", app, i), TriggerSource: deploy.TriggerAPI}
		if err := s.CreateDeployment(context.Background(), &d); err != nil {
			t.Fatalf("CreateDeployment: %v", err)
		}
		ds = append(ds, d)
	}
	return ds
}

func TestStore_CreateDeployment(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("sets id, start time and status", func(t *testing.T) {
		d := deploy.Deployment{App: "web", ToImage: "web:v1"}
		if err := s.CreateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if d.DeploymentID <= 0 || d.StartedAt.IsZero() || d.Status != deploy.StatusQueued {
			t.Fatalf("after create: %+v", d)
		}
		got, err := s.GetDeployment(ctx, d.DeploymentID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.StartedAt.Equal(d.StartedAt) || got.Status != deploy.StatusQueued || got.CompletedAt != nil {
			t.Errorf("stored %+v", got)
		}
		if got.Logs == nil || got.Phases == nil {
			t.Errorf("logs %#v and phases %#v must be empty slices (JSON [])", got.Logs, got.Phases)
		}
	})

	t.Run("keeps a given start time, phases and logs", func(t *testing.T) {
		done := t0.Add(90 * time.Second)
		d := deploy.Deployment{App: "web", FromImage: "web:v1", ToImage: "web:v2", Color: "green",
			TriggerSource: deploy.TriggerS3dock, Status: deploy.StatusCompleted, Logs: []string{"a", `"b"`},
			StartedAt: t0, CompletedAt: &done, DurationMS: 90000,
			Phases: []deploy.Phase{{Name: "pulling", StartedAt: t0, DurationMS: 5}, {Name: "starting", StartedAt: t0.Add(time.Second), Error: "x"}}}
		if err := s.CreateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetDeployment(ctx, d.DeploymentID)
		if err != nil {
			t.Fatal(err)
		}
		assertDeployment(t, got, d)
	})

	t.Run("ids grow", func(t *testing.T) {
		ds := createDeployments(t, s, "api", 3)
		if !(ds[0].DeploymentID < ds[1].DeploymentID && ds[1].DeploymentID < ds[2].DeploymentID) {
			t.Errorf("ids %d %d %d", ds[0].DeploymentID, ds[1].DeploymentID, ds[2].DeploymentID)
		}
	})

	t.Run("no app", func(t *testing.T) {
		if err := s.CreateDeployment(ctx, &deploy.Deployment{}); err == nil {
			t.Error("succeeded")
		}
	})
}

func TestStore_UpdateDeployment(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	d := deploy.Deployment{App: "web", ToImage: "web:v2", TriggerSource: deploy.TriggerManual, StartedAt: t0,
		Phases: []deploy.Phase{{Name: "queued", StartedAt: t0}}}
	if err := s.CreateDeployment(ctx, &d); err != nil {
		t.Fatal(err)
	}

	done := t0.Add(time.Minute)
	d.Status = deploy.StatusRolledBack
	d.Error = "health check timeout"
	d.Logs = []string{"panic: boom", "exit 2"}
	d.Color = "blue"
	d.FromImage = "web:v1"
	d.ToImage = "web:v2b"
	d.CompletedAt = &done
	d.DurationMS = 60000
	d.Phases = []deploy.Phase{{Name: "pulling", StartedAt: t0, DurationMS: 10}, {Name: "health_checking", StartedAt: t0.Add(time.Second), DurationMS: 59000, Error: "timeout"}}
	want := d
	// Fields UpdateDeployment does not write.
	d.App, d.TriggerSource, d.StartedAt = "other", deploy.TriggerAPI, t0.Add(time.Hour)
	if err := s.UpdateDeployment(ctx, &d); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDeployment(ctx, d.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	assertDeployment(t, got, want)

	t.Run("fewer phases replace more", func(t *testing.T) {
		d.Phases = nil
		d.CompletedAt = nil
		if err := s.UpdateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetDeployment(ctx, d.DeploymentID)
		if len(got.Phases) != 0 || got.CompletedAt != nil {
			t.Errorf("phases %+v, completed %v; want none", got.Phases, got.CompletedAt)
		}
	})

	t.Run("unknown id is ErrNotFound", func(t *testing.T) {
		err := s.UpdateDeployment(ctx, &deploy.Deployment{DeploymentID: 999})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStore_GetDeployment(t *testing.T) {
	s := newStore(t)
	_, err := s.GetDeployment(context.Background(), 1)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestStore_ListDeployments(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	web := createDeployments(t, s, "web", 5)
	createDeployments(t, s, "api", 2)
	// Phases on two of them, to see each gets its own.
	for _, i := range []int{1, 3} {
		web[i].Phases = []deploy.Phase{{Name: fmt.Sprint("p", i), StartedAt: t0}}
		if err := s.UpdateDeployment(ctx, &web[i]); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		limit, offset int
		want          []int // indexes into web
	}{
		{0, 0, []int{4, 3, 2, 1, 0}},
		{2, 0, []int{4, 3}},
		{2, 2, []int{2, 1}},
		{10, 4, []int{0}},
		{10, 5, nil},
		{-1, -3, []int{4, 3, 2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit %d offset %d", tt.limit, tt.offset), func(t *testing.T) {
			got, err := s.ListDeployments(ctx, "web", tt.limit, tt.offset)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || len(got) != len(tt.want) {
				t.Fatalf("got %d deployments (%v), want %d", len(got), got == nil, len(tt.want))
			}
			for i, w := range tt.want {
				assertDeployment(t, got[i], web[w])
			}
		})
	}
}

func TestStore_DeploymentsByStatus(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	set := func(d *deploy.Deployment, status deploy.Status) {
		t.Helper()
		d.Status = status
		if err := s.UpdateDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	web := createDeployments(t, s, "web", 3)
	api1 := createDeployments(t, s, "api", 2)
	set(&web[0], deploy.StatusCompleted)
	set(&web[1], deploy.StatusHealthChecking)
	set(&web[2], deploy.StatusQueued)
	set(&api1[0], deploy.StatusPulling)
	set(&api1[1], deploy.StatusFailed)
	running := []deploy.Status{deploy.StatusQueued, deploy.StatusPulling, deploy.StatusHealthChecking}

	ids := func(ds []deploy.Deployment) []int64 {
		out := []int64{}
		for _, d := range ds {
			out = append(out, d.DeploymentID)
		}
		return out
	}
	tests := []struct {
		name     string
		app      string
		statuses []deploy.Status
		limit    int
		want     []int64
	}{
		{"all apps, newest first", "", running, 0, []int64{api1[0].DeploymentID, web[2].DeploymentID, web[1].DeploymentID}},
		{"one app", "web", running, 0, []int64{web[2].DeploymentID, web[1].DeploymentID}},
		{"limit", "", running, 1, []int64{api1[0].DeploymentID}},
		{"one status", "", []deploy.Status{deploy.StatusFailed}, 0, []int64{api1[1].DeploymentID}},
		{"no statuses", "", nil, 0, []int64{}},
		{"unknown app", "nope", running, 0, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DeploymentsByStatus(ctx, tt.app, tt.statuses, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("ids = %v, want %v", ids(got), tt.want)
			}
		})
	}
}

// assertDeployment compares a stored deployment with what was written,
// times by instant.
func assertDeployment(t *testing.T, got, want deploy.Deployment) {
	t.Helper()
	if !got.StartedAt.Equal(want.StartedAt) {
		t.Errorf("deployment %d: StartedAt = %v, want %v", want.DeploymentID, got.StartedAt, want.StartedAt)
	}
	if (got.CompletedAt == nil) != (want.CompletedAt == nil) ||
		(got.CompletedAt != nil && !got.CompletedAt.Equal(*want.CompletedAt)) {
		t.Errorf("deployment %d: CompletedAt = %v, want %v", want.DeploymentID, got.CompletedAt, want.CompletedAt)
	}
	if len(got.Phases) != len(want.Phases) {
		t.Fatalf("deployment %d: phases = %+v, want %+v", want.DeploymentID, got.Phases, want.Phases)
	}
	for i := range want.Phases {
		g, w := got.Phases[i], want.Phases[i]
		if !g.StartedAt.Equal(w.StartedAt) {
			t.Errorf("deployment %d: phase %d StartedAt = %v, want %v", want.DeploymentID, i, g.StartedAt, w.StartedAt)
		}
		g.StartedAt = w.StartedAt
		if g != w {
			t.Errorf("deployment %d: phase %d = %+v, want %+v", want.DeploymentID, i, g, w)
		}
	}
	if want.Logs == nil {
		want.Logs = []string{}
	}
	got.StartedAt, got.CompletedAt, got.Phases = want.StartedAt, want.CompletedAt, want.Phases
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deployment %d:\n got %+v\nwant %+v", want.DeploymentID, got, want)
	}
}
