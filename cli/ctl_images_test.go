package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

func TestCtl_Images(t *testing.T) {
	f := newFakeSupervisor()
	f.images = []deploy.Image{
		{Image: "web:v2", ID: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 9_030_000, CreatedAt: time.Now().Add(-2 * time.Hour), InUse: true, LastDeploymentID: 7},
		{Image: "web:v1", ID: "sha256:" + strings.Repeat("cd", 32), SizeBytes: 812, CreatedAt: time.Now().Add(-50 * time.Hour), LastDeploymentID: 3},
	}
	addr := startAPI(t, api.NewServer(f, nil))
	t.Run("table", func(t *testing.T) {
		code, out, _ := run(t, "ctl", "images", "web", "--api", addr)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
		for _, col := range []string{"IMAGE", "ID", "SIZE", "CREATED", "IN USE", "LAST DEPLOYMENT"} {
			if !strings.Contains(lines[0], col) {
				t.Errorf("header lacks %s: %q", col, lines[0])
			}
		}
		for i, cells := range [][]string{{"web:v2", "abababababab", "9.0MB", "2h", "yes", "#7"}, {"web:v1", "cdcdcdcdcdcd", "812B", "no", "#3"}} {
			for _, cell := range cells {
				if !strings.Contains(lines[i+1], cell) {
					t.Errorf("row %d lacks %q: %q", i+1, cell, lines[i+1])
				}
			}
		}
	})
	t.Run("json is the API's array", func(t *testing.T) {
		code, out, _ := run(t, "ctl", "--json", "--api", addr, "images", "web")
		var got []deploy.Image
		if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || len(got) != 2 || got[1].Image != "web:v1" || !got[0].InUse {
			t.Fatalf("exit %d %v output:\n%s", code, err, out)
		}
	})
	t.Run("none", func(t *testing.T) {
		f.mu.Lock()
		saved := f.images
		f.images = nil
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.images = saved; f.mu.Unlock() }()
		if code, out, _ := run(t, "ctl", "--api", addr, "images", "web", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
			t.Fatalf("exit %d output %q", code, out)
		}
		if code, out, _ := run(t, "ctl", "--api", addr, "images", "web"); code != 0 || !strings.Contains(out, "no images") {
			t.Fatalf("exit %d output %q", code, out)
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		code, _, stderr := run(t, "ctl", "--api", addr, "images", "nope")
		if code != 1 || !strings.Contains(stderr, `no app named "nope"`) {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		code, _, stderr := run(t, "ctl", "--api", addr, "images")
		if code != 2 || !strings.Contains(stderr, "usage: bluegreen ctl [--api ADDR] [--json] images APP") {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
}

func TestCtl_EventsFollowJSON(t *testing.T) {
	f := newFakeSupervisor()
	addr := startAPI(t, api.NewServer(f, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"ctl", "--api", addr, "events", "--follow", "--json", "--limit", "2"}, &out, &errb)
	}()
	waitFor(t, "the history", func() bool { return strings.Contains(out.String(), "event 1500") })
	waitFor(t, "the subscription", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.subs) == 1
	})
	f.mu.Lock()
	f.eventID = 2000
	f.mu.Unlock()
	f.emit(9, deploy.EventDeploymentStarted, "live one", nil)
	waitFor(t, "the live event", func() bool { return strings.Contains(out.String(), "live one") })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines (2 of history, 1 live):\n%s", out.String())
	}
	for _, l := range lines {
		var ev deploy.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.ID == 0 {
			t.Fatalf("line %q: %v", l, err)
		}
	}
}
