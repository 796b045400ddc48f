package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// syncBuffer is a bytes.Buffer safe to read while StreamLogs writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestClient_Logs(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app := uniqueName(t)
	testimage.Cleanup(t, app)

	t.Run("crashing container", func(t *testing.T) {
		image := buildImage(t, app+":crash", map[string]string{"HEALTH_MODE": "crash"})
		id, err := c.Create(ctx, appSpec(app, "crash", image, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		ct := waitStopped(t, c, id)
		if ct.ExitCode != 1 {
			t.Fatalf("exit code %d, want 1", ct.ExitCode)
		}
		lines, err := c.Logs(ctx, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) == 0 || lines[len(lines)-1] != "crashing as asked" {
			t.Fatalf("logs %q, want the last line %q", lines, "crashing as asked")
		}
	})

	t.Run("tail and order of stdout and stderr", func(t *testing.T) {
		image := buildImage(t, app+":after", map[string]string{"VERSION": "v1", "CRASH_AFTER": "1s"})
		id, err := c.Create(ctx, appSpec(app, "after", image, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		waitStopped(t, c, id)
		all, err := c.Logs(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 || !strings.Contains(all[0], "starting") || !strings.Contains(all[1], "listening") ||
			all[2] != "crashing as asked after 1s" {
			t.Fatalf("all logs %q, want starting, listening (stdout), crashing (stderr)", all)
		}
		last, err := c.Logs(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(last) != 1 || last[0] != all[2] {
			t.Fatalf("tail 1 = %q, want %q", last, all[2])
		}
	})

	t.Run("missing container", func(t *testing.T) {
		name := app + "-none"
		if _, err := c.Logs(ctx, name, 10); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Fatalf("got %v, want ErrNotFound naming %s", err, name)
		}
	})
}

func TestClient_StreamLogs(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app := uniqueName(t)
	image := buildImage(t, app+":v1", map[string]string{"VERSION": "v1"})
	testimage.Cleanup(t, app)

	t.Run("follow until the container stops", func(t *testing.T) {
		s := appSpec(app, "stops", image, 0)
		s.Env = []string{"CRASH_AFTER=2s"}
		id, err := c.Create(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		var buf syncBuffer
		if err := c.StreamLogs(ctx, id, 0, true, &buf); err != nil {
			t.Fatal(err)
		}
		if out := buf.String(); !strings.Contains(out, "listening") || !strings.HasSuffix(out, "crashing as asked after 2s\n") {
			t.Fatalf("streamed %q, want it to end with the crash line", out)
		}
	})

	t.Run("follow until ctx is done", func(t *testing.T) {
		port := testimage.FreePort(t)
		id, err := c.Create(ctx, appSpec(app, "runs", image, port))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var buf syncBuffer
		done := make(chan error, 1)
		go func() { done <- c.StreamLogs(sctx, id, 0, true, &buf) }()

		// A request made after the stream began shows up in it.
		url := fmt.Sprintf("http://127.0.0.1:%d/streamed-path", port)
		waitFor(t, 30*time.Second, "request logged in stream", func() (bool, error) {
			if _, _, err := httpGet(ctx, url); err != nil {
				return false, err
			}
			return strings.Contains(buf.String(), "GET /streamed-path"), nil
		})
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("StreamLogs after cancel: %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("StreamLogs did not return within 10s of cancel")
		}
	})

	t.Run("no follow returns what is there", func(t *testing.T) {
		var buf syncBuffer
		if err := c.StreamLogs(ctx, app+"-runs", 1, false, &buf); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(buf.String(), "\n"); n != 1 {
			t.Fatalf("tail 1 streamed %d lines: %q", n, buf.String())
		}
	})
}
