package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

func TestWatcher_Draw(t *testing.T) {
	addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
	newWatcher := func(tty bool) (*watcher, *syncBuffer) {
		var out, errb syncBuffer
		c := &ctl{client: api.NewClient(addr), addr: addr, stdout: &out, stderr: &errb,
			fmt: formatter{now: time.Now}, pollInterval: time.Second, refresh: time.Minute}
		return &watcher{c: c, tty: tty, width: 100, height: 30}, &out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)

	t.Run("terminal redraws from the top left with recent events", func(t *testing.T) {
		w, out := newWatcher(true)
		w.remember(deploy.Event{At: time.Now(), App: "web", Type: deploy.EventProxySwitched, Message: "traffic switched"})
		for range 2 {
			if _, ok := w.draw(ctx); !ok {
				t.Fatal("draw ended watch")
			}
		}
		s := out.String()
		if strings.Count(s, ansiHome) != 2 || !strings.HasPrefix(s, ansiHome) || !strings.HasSuffix(s, ansiClearDown) {
			t.Fatalf("want two frames drawn from the top left, got %q", s)
		}
		if !strings.Contains(s, "Ctrl-C to quit") || !strings.Contains(s, "recent events:") || !strings.Contains(s, "proxy.switched  traffic switched") {
			t.Fatalf("frame:\n%s", s)
		}
	})
	t.Run("pipe prints a table only when it changed", func(t *testing.T) {
		w, out := newWatcher(false)
		for range 3 {
			w.draw(ctx)
		}
		if n := strings.Count(out.String(), "APP "); n != 1 {
			t.Fatalf("%d tables for one state:\n%s", n, out.String())
		}
	})
	t.Run("Ctrl-C gives the screen back and exits 0", func(t *testing.T) {
		w, out := newWatcher(true)
		wctx, wcancel := context.WithCancel(ctx)
		done := make(chan int, 1)
		go func() { done <- w.run(wctx) }()
		waitFor(t, "a frame", func() bool { return strings.Contains(out.String(), "web") })
		wcancel()
		if code := <-done; code != ExitOK {
			t.Fatalf("exit %d", code)
		}
		s := out.String()
		if !strings.HasPrefix(s, ansiEnter) || !strings.HasSuffix(s, ansiLeave) {
			t.Fatalf("the alternate screen is not entered and left: %q", s)
		}
	})
}

// TestWatcher_Screen draws the same apps at several terminal sizes: every
// line fits the width, the least useful columns go first, the frame never
// has more lines than the terminal.
func TestWatcher_Screen(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	apps := []deploy.AppStatus{
		{Name: "web-api", Status: deploy.AppDeploying, ActiveColor: "blue", CurrentImage: "registry.example.com/team/web-api:20250630-1010-a333666",
			Ports:       deploy.Ports{Proxy: 8000},
			Containers:  deploy.Containers{Blue: &deploy.Container{Health: deploy.Healthy}},
			Deployment:  &deploy.Deployment{Status: deploy.StatusHealthChecking, StartedAt: now.Add(-12 * time.Second)},
			Connections: map[deploy.Color]deploy.Connections{"blue": {HTTP: 12, WebSocket: 3}}},
		{Name: "demo", Status: deploy.AppStable, ActiveColor: "green", CurrentImage: "bluegreen-demo:v2", Ports: deploy.Ports{Proxy: 8080},
			LastDeployment: &deploy.Deployment{Status: deploy.StatusCompleted, StartedAt: now.Add(-5 * time.Minute)}},
	}
	c := &ctl{addr: "127.0.0.1:7070", fmt: formatter{now: func() time.Time { return now }}}
	for _, tc := range []struct {
		width, height int
		has, hasNot   []string
	}{
		{width: 200, height: 40, has: []string{"PROXY", "HEALTH", "ACTIVE", "LAST DEPLOY", "registry.example.com/team/web-api:20250630-1010-a333666", ":8000 (12 http, 3 ws)"}},
		{width: 120, height: 40, has: []string{"PROXY", "HEALTH", "ACTIVE", "LAST DEPLOY", "health_checking (running 12s)", "…eb-api:20250630-1010-a333666"}},
		{width: 100, height: 40, has: []string{"HEALTH", "ACTIVE", "LAST DEPLOY", "20250630-1010-a333666"}, hasNot: []string{"PROXY"}},
		{width: 80, height: 24, has: []string{"LAST DEPLOY", "IMAGE", "…", "20250630-1010-a333666", "bluegreen-demo:v2"}, hasNot: []string{"PROXY", "HEALTH", "ACTIVE"}},
		{width: 40, height: 24, has: []string{"APP", "STATUS", "IMAGE", "web-api", "1010-a333666"}, hasNot: []string{"LAST DEPLOY"}},
		{width: 80, height: 5, has: []string{"more lines: a taller terminal shows them"}},
	} {
		t.Run(fmt.Sprintf("%dx%d", tc.width, tc.height), func(t *testing.T) {
			w := &watcher{c: c, tty: true, width: tc.width, height: tc.height}
			w.remember(deploy.Event{At: now, App: "web-api", Type: deploy.EventDeploymentPhase,
				Message: "phase health_checking: " + strings.Repeat("waiting for the health checks to pass ", 5)})
			frame := strings.TrimSuffix(strings.TrimPrefix(string(w.screen(apps)), ansiHome), ansiClearDown)
			lines := strings.Split(frame, ansiClearLine+"\n")
			if len(lines) > tc.height {
				t.Fatalf("%d lines on a terminal of %d:\n%s", len(lines), tc.height, frame)
			}
			for _, l := range lines {
				if n := utf8.RuneCountInString(strings.TrimSuffix(l, ansiClearLine)); n > tc.width {
					t.Fatalf("a line of %d runes on a terminal of %d: %q", n, tc.width, l)
				}
			}
			for _, want := range tc.has {
				if !strings.Contains(frame, want) {
					t.Errorf("no %q in\n%s", want, frame)
				}
			}
			for _, not := range tc.hasNot {
				if strings.Contains(frame, not) {
					t.Errorf("%q in\n%s", not, frame)
				}
			}
		})
	}
}
