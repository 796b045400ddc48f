package testimage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of acting on
// the real test; like the real ones they end the calling goroutine.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	fatal   string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// runRecorded runs f with a recorder in its own goroutine and returns it.
func runRecorded(t *testing.T, f func(testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// uniqueName returns "bgtest-<random hex>".
func uniqueName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "bgtest-" + hex.EncodeToString(b)
}

func TestRequireDocker(t *testing.T) {
	bogus := "unix://" + filepath.Join(t.TempDir(), "no-such-docker.sock")
	t.Run("unreachable under CI fails", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", bogus)
		t.Setenv("CI", "true")
		r := runRecorded(t, RequireDocker)
		if r.fatal == "" || r.skipped != "" {
			t.Fatalf("fatal %q skipped %q, want a failure", r.fatal, r.skipped)
		}
		if !strings.Contains(r.fatal, "no-such-docker.sock") {
			t.Fatalf("message %q does not name the endpoint", r.fatal)
		}
	})
	t.Run("unreachable elsewhere skips", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", bogus)
		t.Setenv("CI", "")
		r := runRecorded(t, RequireDocker)
		if r.skipped == "" || r.fatal != "" {
			t.Fatalf("fatal %q skipped %q, want a skip", r.fatal, r.skipped)
		}
		if !strings.Contains(r.skipped, "Docker needed") {
			t.Fatalf("skip message %q is not clear", r.skipped)
		}
	})
	t.Run("reachable passes", func(t *testing.T) {
		RequireDocker(t)
		r := runRecorded(t, RequireDocker)
		if r.skipped != "" || r.fatal != "" {
			t.Fatalf("fatal %q skipped %q, want neither", r.fatal, r.skipped)
		}
	})
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("port %d", port)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	ln.Close()
}

func TestCleanup(t *testing.T) {
	RequireDocker(t)
	app := uniqueName(t)
	t.Run("registers removal", func(t *testing.T) {
		Cleanup(t, app)
		tag := Build(t, app+":v1", nil)
		t.Cleanup(func() { RemoveImage(t, tag) })
		if _, err := docker("create", "--label", LabelApp+"="+app, "--name", app, tag); err != nil {
			t.Fatal(err)
		}
		if got := containersOf(t, app); len(got) != 1 {
			t.Fatalf("containers of %s: %q, want one", app, got)
		}
	})
	if got := containersOf(t, app); len(got) != 0 {
		t.Fatalf("containers of %s left after cleanup: %q", app, got)
	}
}

func TestRemoveImage(t *testing.T) {
	RequireDocker(t)
	t.Run("missing is fine", func(t *testing.T) {
		RemoveImage(t, uniqueName(t)+":nope")
	})
}

func containersOf(t testing.TB, app string) []string {
	t.Helper()
	out, err := docker("ps", "-aq", "--filter", "label="+LabelApp+"="+app)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}
