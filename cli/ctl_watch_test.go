package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

func TestWatcher_Draw(t *testing.T) {
	addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
	newWatcher := func(tty bool) (*watcher, *syncBuffer) {
		var out, errb syncBuffer
		c := &ctl{client: api.NewClient(addr), addr: addr, stdout: &out, stderr: &errb,
			fmt: formatter{now: time.Now}, pollInterval: time.Second, refresh: time.Minute}
		return &watcher{c: c, tty: tty}, &out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)

	t.Run("terminal redraws the whole screen with recent events", func(t *testing.T) {
		w, out := newWatcher(true)
		w.remember(deploy.Event{At: time.Now(), App: "web", Type: deploy.EventProxySwitched, Message: "traffic switched"})
		for range 2 {
			if _, ok := w.draw(ctx); !ok {
				t.Fatal("draw ended watch")
			}
		}
		s := out.String()
		if strings.Count(s, ansiClear) != 2 || !strings.HasPrefix(s, ansiClear) {
			t.Fatalf("want two full-screen frames, got %q", s)
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
}
