package docker

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

func TestClient_Events(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app := uniqueName(t)
	image := buildImage(t, app+":v1", map[string]string{"VERSION": "v1"})
	testimage.Cleanup(t, app)

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := c.Events(sctx, time.Time{}, map[string]string{"bluegreen.app": app})
	if err != nil {
		t.Fatal(err)
	}
	// The stream connects in the background: start the container until its
	// start event comes through.
	id, err := c.Create(ctx, appSpec(app, "blue", image, testimage.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	next := func(action string, within time.Duration) Event {
		t.Helper()
		timer := time.NewTimer(within)
		defer timer.Stop()
		for {
			select {
			case e, ok := <-evs:
				if !ok {
					t.Fatalf("stream closed waiting for %s", action)
				}
				if e.ID == id && e.Action == action {
					return e
				}
			case <-timer.C:
				t.Fatalf("no %s event within %s", action, within)
			}
		}
	}
	e := next(ActionStart, 10*time.Second)
	if e.Name != app+"-blue" || e.Labels["bluegreen.color"] != "blue" || e.Labels["bluegreen.managed"] != "true" || e.Time.IsZero() {
		t.Fatalf("start event %+v", e)
	}
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", id).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	if e := next(ActionKill, 5*time.Second); e.Signal == "" {
		t.Fatalf("kill event %+v", e)
	}
	e = next(ActionDie, 5*time.Second)
	if e.ExitCode != 137 {
		t.Fatalf("die event %+v", e)
	}
	t.Logf("die event %s after docker kill", time.Since(killed).Round(time.Millisecond))

	// A reader that ends leaves the subscription: the next one gets what
	// came meanwhile.
	cancel()
	for range evs {
	}
	if err := c.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	sctx, cancel = context.WithCancel(ctx)
	defer cancel()
	if evs, err = c.Events(sctx, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	next(ActionStart, 10*time.Second)

	// Since replays what happened from then on (a new stream after a break).
	c2 := newClient(t)
	replay, err := c2.Events(sctx, killed.Add(-time.Second), map[string]string{"bluegreen.app": app})
	if err != nil {
		t.Fatal(err)
	}
	evs = replay
	if e := next(ActionDie, 10*time.Second); e.ExitCode != 137 {
		t.Fatalf("replayed die event %+v", e)
	}
	cancel()
	for range evs {
	}
}

func TestClient_EventsDaemonAway(t *testing.T) {
	c, _ := bogusClient(t)
	evs, err := c.Events(context.Background(), time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-evs:
		if ok {
			t.Fatal("an event from a daemon that is not there")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream of an unreachable daemon did not close")
	}
}
