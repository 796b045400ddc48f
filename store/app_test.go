package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_GetApp(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("unknown app is ErrNotFound", func(t *testing.T) {
		_, err := s.GetApp(ctx, "nope")
		if !errors.Is(err, ErrNotFound) || deploy.ErrorCode(err) != deploy.ENOTFOUND {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("round trip in UTC", func(t *testing.T) {
		want := AppState{Name: "web", ActiveColor: "green", CurrentImage: "web:v1", DesiredImage: "web:v2",
			Status: deploy.AppDegraded, Error: "green unhealthy", UpdatedAt: t0}
		if err := s.PutApp(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetApp(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedAt.Equal(t0) || got.UpdatedAt.Location() != time.UTC {
			t.Errorf("UpdatedAt = %v, want %v in UTC", got.UpdatedAt, t0)
		}
		got.UpdatedAt = want.UpdatedAt
		if got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
}

func TestStore_PutApp(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("upsert replaces every field and stamps a zero time", func(t *testing.T) {
		if err := s.PutApp(ctx, AppState{Name: "web", ActiveColor: "blue", Status: deploy.AppDeploying, Error: "x"}); err != nil {
			t.Fatal(err)
		}
		first, _ := s.GetApp(ctx, "web")
		if err := s.PutApp(ctx, AppState{Name: "web", Status: deploy.AppStable}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetApp(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if got.ActiveColor != "" || got.Status != deploy.AppStable || got.Error != "" {
			t.Errorf("got %+v, want the second write", got)
		}
		if !got.UpdatedAt.After(first.UpdatedAt) {
			t.Errorf("UpdatedAt %v not after %v: not stamped by Now", got.UpdatedAt, first.UpdatedAt)
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		for _, a := range []AppState{{}, {Name: "web", ActiveColor: "red"}} {
			if err := s.PutApp(ctx, a); err == nil {
				t.Errorf("PutApp(%+v) succeeded", a)
			}
		}
	})
}

func TestStore_ListApps(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	apps, err := s.ListApps(ctx)
	if err != nil || apps == nil || len(apps) != 0 {
		t.Fatalf("empty ListApps = %#v, %v; want an empty slice", apps, err)
	}
	for _, n := range []string{"web", "api", "worker"} {
		if err := s.PutApp(ctx, AppState{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	apps, err = s.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	if len(names) != 3 || names[0] != "api" || names[1] != "web" || names[2] != "worker" {
		t.Errorf("names = %v, want sorted", names)
	}
}
