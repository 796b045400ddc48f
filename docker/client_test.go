package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// testTimeout bounds each Docker call of these tests.
const testTimeout = 2 * time.Minute

// newClient returns a client for the daemon of the environment, skipping or
// failing like testimage.RequireDocker when it is unreachable.
func newClient(t *testing.T) *Client {
	t.Helper()
	testimage.RequireDocker(t)
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bogusClient returns a client whose DOCKER_HOST is a unix socket that does
// not exist.
func bogusClient(t *testing.T) (*Client, string) {
	t.Helper()
	host := "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")
	t.Setenv("DOCKER_HOST", host)
	c, err := New()
	if err != nil {
		t.Fatalf("New with DOCKER_HOST=%s: %v", host, err)
	}
	return c, host
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// buildImage builds a test app image with testimage.Build and removes it
// when the test ends.
func buildImage(t *testing.T, tag string, env map[string]string) string {
	t.Helper()
	t.Cleanup(func() { testimage.RemoveImage(t, tag) })
	return testimage.Build(t, tag, env)
}

// uniqueName returns "bgtest-<random hex>".
func uniqueName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "bgtest-" + hex.EncodeToString(b)
}

// waitFor polls cond until it reports true or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestNew(t *testing.T) {
	t.Run("from DOCKER_HOST without I/O", func(t *testing.T) {
		c, host := bogusClient(t)
		if got := c.Endpoint(); got != host {
			t.Fatalf("Endpoint() = %q, want %q", got, host)
		}
	})
	t.Run("tcp host", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
		c, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Endpoint(); got != "tcp://127.0.0.1:1" {
			t.Fatalf("Endpoint() = %q", got)
		}
	})
}

func TestClient_Ping(t *testing.T) {
	t.Run("running daemon", func(t *testing.T) {
		c := newClient(t)
		if err := c.Ping(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing unix socket", func(t *testing.T) {
		c, host := bogusClient(t)
		err := c.Ping(ctxT(t))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ping() = %v, want ErrUnavailable", err)
		}
		t.Log(err)
		msg := err.Error()
		for _, want := range []string{"cannot reach Docker at " + host + ": ", "no such file or directory", ": is dockerd running?"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
	})
	t.Run("refused tcp port", func(t *testing.T) {
		port := testimage.FreePort(t)
		t.Setenv("DOCKER_HOST", fmt.Sprintf("tcp://127.0.0.1:%d", port))
		c, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Ping(ctxT(t)); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Ping() = %v, want ErrUnavailable saying refused", err)
		}
	})
	t.Run("canceled context is not unavailability", func(t *testing.T) {
		c, _ := bogusClient(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.Ping(ctx); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ping() = %v, want a cancellation error", err)
		}
	})
}

func TestClient_unavailable(t *testing.T) {
	c, host := bogusClient(t)
	ctx := ctxT(t)
	calls := map[string]func() error{
		"EnsureImage": func() error { _, err := c.EnsureImage(ctx, "web:v1", PullIfNotPresent); return err },
		"Create":      func() error { _, err := c.Create(ctx, Spec{Name: "web-blue", Image: "web:v1"}); return err },
		"Start":       func() error { return c.Start(ctx, "web-blue") },
		"Stop":        func() error { return c.Stop(ctx, "web-blue", time.Second) },
		"Remove":      func() error { return c.Remove(ctx, "web-blue") },
		"Inspect":     func() error { _, err := c.Inspect(ctx, "web-blue"); return err },
		"List":        func() error { _, err := c.List(ctx, map[string]string{"a": "b"}); return err },
		"Summaries":   func() error { _, err := c.Summaries(ctx, map[string]string{"a": "b"}); return err },
		"Logs":        func() error { _, err := c.Logs(ctx, "web-blue", 10); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: %v, want ErrUnavailable", name, err)
			}
			if !strings.Contains(err.Error(), host) {
				t.Fatalf("%s: %q does not name %s", name, err, host)
			}
			if name != "List" && name != "Summaries" && !strings.Contains(err.Error(), "web") {
				t.Fatalf("%s: %q does not name the image or container", name, err)
			}
			t.Log(err)
		})
	}
}
