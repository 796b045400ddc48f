package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_AddEvent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("sets id and time, keeps fields", func(t *testing.T) {
		dep := int64(42)
		e := deploy.Event{App: "web", DeploymentID: &dep, Type: deploy.EventDeploymentPhase, Message: "pulling",
			Data: json.RawMessage(`{ "phase": "pulling",  "status": "pulling" }`)}
		if err := s.AddEvent(ctx, &e); err != nil {
			t.Fatal(err)
		}
		if e.ID <= 0 || e.At.IsZero() {
			t.Fatalf("after AddEvent: %+v", e)
		}
		got, err := s.Events(ctx, "web", 0, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("Events = %+v, %v", got, err)
		}
		g := got[0]
		if g.ID != e.ID || !g.At.Equal(e.At) || g.App != "web" || g.Type != e.Type || g.Message != "pulling" ||
			g.DeploymentID == nil || *g.DeploymentID != 42 || string(g.Data) != `{"phase":"pulling","status":"pulling"}` {
			t.Errorf("got %+v (data %s)", g, g.Data)
		}
	})

	t.Run("nil data is null, no deployment is nil", func(t *testing.T) {
		e := deploy.Event{Type: deploy.EventSupervisorStarted, At: t0}
		if err := s.AddEvent(ctx, &e); err != nil {
			t.Fatal(err)
		}
		got, err := s.Events(ctx, "", e.ID-1, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("Events = %+v, %v", got, err)
		}
		if string(got[0].Data) != "null" || got[0].DeploymentID != nil || !got[0].At.Equal(t0) {
			t.Errorf("got %+v (data %s)", got[0], got[0].Data)
		}
		b, _ := json.Marshal(got[0])
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil || back["data"] != nil || back["deployment_id"] != nil {
			t.Errorf("JSON %s", b)
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		if err := s.AddEvent(ctx, &deploy.Event{Type: "x", Data: json.RawMessage(`{bad`)}); err == nil {
			t.Error("invalid JSON data accepted")
		}
		if err := s.AddEvent(ctx, &deploy.Event{App: "web"}); err == nil {
			t.Error("empty type accepted")
		}
	})
}

func TestStore_Events(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// 8 events alternating web and api; message is the index.
	var ids []int64
	for i := range 8 {
		app := "web"
		if i%2 == 1 {
			app = "api"
		}
		e := deploy.Event{App: app, Type: deploy.EventAppState, Message: fmt.Sprint(i)}
		if err := s.AddEvent(ctx, &e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}

	tests := []struct {
		name    string
		app     string
		afterID int64
		limit   int
		want    string // messages in order
	}{
		{"newest, oldest first", "", 0, 3, "[5 6 7]"},
		{"newest of one app", "web", 0, 2, "[4 6]"},
		{"after id", "", ids[2], 3, "[3 4 5]"},
		{"after id of one app", "api", ids[2], 10, "[3 5 7]"},
		{"after the last", "", ids[7], 10, "[]"},
		{"default limit", "", 0, 0, "[0 1 2 3 4 5 6 7]"},
		{"negative after is newest", "", -5, 2, "[6 7]"},
		{"unknown app", "nope", 0, 10, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Events(ctx, tt.app, tt.afterID, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("nil slice, want empty")
			}
			msgs := []string{}
			for _, e := range got {
				msgs = append(msgs, e.Message)
			}
			if fmt.Sprint(msgs) != tt.want {
				t.Errorf("messages = %v, want %s", msgs, tt.want)
			}
		})
	}

	t.Run("default limit is 100", func(t *testing.T) {
		for range 120 {
			if err := s.AddEvent(ctx, &deploy.Event{Type: "x", At: t0.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Events(ctx, "", 0, -1)
		if err != nil || len(got) != DefaultEventLimit {
			t.Fatalf("got %d, %v; want %d", len(got), err, DefaultEventLimit)
		}
	})
}

func BenchmarkStore_AddEvent(b *testing.B) {
	ctx := context.Background()
	data := json.RawMessage(`{"phase":"pulling","status":"pulling"}`)
	dep := int64(1)
	b.Run("serial", func(b *testing.B) {
		s := benchStore(b, options{})
		for b.Loop() {
			if err := s.AddEvent(ctx, &deploy.Event{App: "web", DeploymentID: &dep, Type: deploy.EventDeploymentPhase, Data: data}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, l := range poolLayouts {
		b.Run("parallel/"+l.name, func(b *testing.B) {
			s := benchStore(b, l.o)
			runParallel(b, func() error {
				return s.AddEvent(ctx, &deploy.Event{App: "web", DeploymentID: &dep, Type: deploy.EventDeploymentPhase, Data: data})
			})
		})
	}
}
