package store

import (
	"context"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_PutContainer(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	blue := Container{App: "web", Color: "blue", ID: "c1", Image: "web:v1", DeploymentID: 7, State: "running", UpdatedAt: t0}
	if err := s.PutContainer(ctx, blue); err != nil {
		t.Fatal(err)
	}
	if err := s.PutContainer(ctx, Container{App: "web", Color: "green", ID: "c2", State: "created"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutContainer(ctx, Container{App: "api", Color: "green", ID: "other"}); err != nil {
		t.Fatal(err)
	}
	// Upsert by (app, color).
	if err := s.PutContainer(ctx, Container{App: "web", Color: "green", ID: "c3", State: "running"}); err != nil {
		t.Fatal(err)
	}

	cs, err := s.Containers(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("Containers = %+v, want blue and green", cs)
	}
	got := cs["blue"]
	if !got.UpdatedAt.Equal(t0) {
		t.Errorf("blue UpdatedAt = %v, want %v", got.UpdatedAt, t0)
	}
	got.UpdatedAt = blue.UpdatedAt
	if got != blue {
		t.Errorf("blue = %+v, want %+v", got, blue)
	}
	if g := cs["green"]; g.ID != "c3" || g.State != "running" || g.UpdatedAt.IsZero() {
		t.Errorf("green = %+v, want the upserted c3 with a stamped time", g)
	}

	t.Run("invalid input", func(t *testing.T) {
		for _, c := range []Container{{Color: "blue"}, {App: "web", Color: "red"}, {App: "web"}} {
			if err := s.PutContainer(ctx, c); err == nil {
				t.Errorf("PutContainer(%+v) succeeded", c)
			}
		}
	})
}

func TestStore_DeleteContainer(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, c := range deploy.Colors {
		if err := s.PutContainer(ctx, Container{App: "web", Color: c, ID: string(c)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteContainer(ctx, "web", "blue"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContainer(ctx, "web", "blue"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	cs, err := s.Containers(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cs["blue"]; ok || len(cs) != 1 {
		t.Errorf("Containers = %+v, want only green", cs)
	}
}

func TestStore_Containers(t *testing.T) {
	s := newStore(t)
	cs, err := s.Containers(context.Background(), "none")
	if err != nil || cs == nil || len(cs) != 0 {
		t.Fatalf("Containers(none) = %#v, %v; want an empty map", cs, err)
	}
}
