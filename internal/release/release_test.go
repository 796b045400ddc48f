package release

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

func TestRelease_StaticBinary(t *testing.T) {
	bin := releaseBinary(t)
	t.Logf("scripts/release.sh took %s (once per test process)", buildTime.Round(time.Millisecond))

	t.Run("file says statically linked", func(t *testing.T) {
		requireTool(t, "file", "file")
		out, err := run(t, time.Minute, "", nil, "file", "-b", bin)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "statically linked") && !strings.Contains(out, "static-pie linked") {
			t.Fatalf("file %s: %s", binaryName, out)
		}
		t.Logf("file: %s", strings.TrimSpace(out))
	})

	t.Run("no interpreter and no shared libraries", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Machine != elf.EM_X86_64 {
			t.Fatalf("machine %s, want x86-64", f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Fatalf("program header %s: the binary is dynamically linked", p.Type)
			}
		}
		if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
			t.Fatalf("needs shared libraries %v", libs)
		}
		if fi, err := os.Stat(bin); err == nil {
			t.Logf("size %d bytes (%.1f MiB)", fi.Size(), float64(fi.Size())/(1<<20))
		}
	})

	t.Run("version from git", func(t *testing.T) {
		want, err := run(t, time.Minute, repoRoot(t), nil, "git", "describe", "--tags", "--always", "--dirty")
		if err != nil {
			t.Skipf("no git version to compare with: %v", err)
		}
		out, err := run(t, time.Minute, "", nil, bin, "version")
		if err != nil {
			t.Fatal(err)
		}
		if got, w := strings.TrimSpace(out), fmt.Sprintf("bluegreen %s (%s)", strings.TrimSpace(want), runtime.Version()); got != w {
			t.Fatalf("version = %q, want %q", got, w)
		}
	})

	t.Run("checksum file", func(t *testing.T) {
		sum, err := os.ReadFile(bin + ".sha256")
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		if want := hex.EncodeToString(h[:]) + "  " + binaryName + "\n"; string(sum) != want {
			t.Fatalf("%s.sha256 = %q, want %q", binaryName, sum, want)
		}
	})

	t.Run("VERSION overrides git and is checked", func(t *testing.T) {
		dir := t.TempDir()
		_, stderr, err := runSplit(time.Minute, repoRoot(t), []string{"VERSION=1.2.3 bad"}, filepath.Join(repoRoot(t), "scripts", "release.sh"), dir)
		if exitCode(err) != 1 || !strings.Contains(stderr, `version "1.2.3 bad"`) {
			t.Fatalf("release.sh with VERSION='1.2.3 bad': %v, stderr %q; want exit 1 naming the version", err, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, binaryName)); !os.IsNotExist(err) {
			t.Fatalf("a binary was written for a bad version: %v", err)
		}
	})
}

// TestRelease_Scratch runs the release binary in a FROM scratch image: no
// libc, no /etc, no /tmp, a read-only root, no network, no capabilities, not
// root. serve opens its SQLite database there, answers on its API socket,
// stops cleanly on SIGTERM, and a second run finds the first run's events.
func TestRelease_Scratch(t *testing.T) {
	testimage.RequireDocker(t)
	bin := releaseBinary(t)
	image := buildScratchImage(t, bin)

	app := uniqueName(t, "rel")
	apps := t.TempDir()
	cfg := fmt.Sprintf(`name: %s
image: %s-app:v1
ports: {proxy: 8080, blue: 18080, green: 18081}
health_check: {path: /health}
docker: {expose_port: 3000}
`, app, app)
	if err := os.WriteFile(filepath.Join(apps, app+".yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	user := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	base := []string{"run", "--network", "none", "--read-only", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "--user", user,
		"-v", apps + ":/etc/bluegreen/apps.d:ro"}

	t.Run("version", func(t *testing.T) {
		out, err := run(t, 2*time.Minute, "", nil, "docker", append(once(base), image, "version")...)
		if err != nil {
			t.Fatal(err)
		}
		host, err := run(t, time.Minute, "", nil, bin, "version")
		if err != nil {
			t.Fatal(err)
		}
		if out != host || !strings.HasPrefix(out, "bluegreen ") {
			t.Fatalf("version in the container printed %q, on the host %q", out, host)
		}
	})

	t.Run("validate", func(t *testing.T) {
		out, err := run(t, 2*time.Minute, "", nil, "docker", append(once(base), image, "validate", "/etc/bluegreen/apps.d")...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, app) || !strings.Contains(out, "ok") {
			t.Fatalf("validate printed %q", out)
		}
	})

	t.Run("validate finds a problem", func(t *testing.T) {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, "bad.yaml"), []byte(strings.Replace(cfg, "path: /health", "path: /health, interval: \"2\"", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append(once(base), "-v", bad+":/bad:ro", image, "validate", "/bad")
		_, stderr, err := runSplit(2*time.Minute, "", nil, "docker", args...)
		if exitCode(err) != 1 || !strings.Contains(stderr, "health_check.interval") {
			t.Fatalf("validate of a bad config: %v, stderr %q; want exit 1 naming health_check.interval", err, stderr)
		}
	})

	t.Run("serve keeps its SQLite state across runs", func(t *testing.T) {
		data := t.TempDir()
		sock := filepath.Join(data, "api.sock")
		client := unixClient(sock)

		serve := func(t *testing.T) string {
			t.Helper()
			name := uniqueName(t, "bluegreen-release-serve")
			t.Cleanup(func() { run(t, time.Minute, "", nil, "docker", "rm", "-f", name) })
			args := append(append([]string{}, base...), "-d", "--name", name,
				"-v", data+":/var/lib/bluegreen", image,
				"serve", "--apps", "/etc/bluegreen/apps.d", "--db", "/var/lib/bluegreen/bluegreen.db",
				"--api", "unix:/var/lib/bluegreen/api.sock")
			if _, err := run(t, 2*time.Minute, "", nil, "docker", args...); err != nil {
				t.Fatal(err)
			}
			// /health answers once serve has opened the store and started:
			// 503 unhealthy here, as the container has no Docker, so the app
			// cannot serve.
			waitFor(t, 30*time.Second, "GET /health on the API socket", func() error {
				var h struct {
					Status string            `json:"status"`
					Apps   map[string]string `json:"apps"`
					PID    int               `json:"pid"`
				}
				if err := getJSON(client, "/health", &h); err != nil {
					var ae *httpStatusError
					if !errors.As(err, &ae) || ae.status != http.StatusServiceUnavailable {
						return err
					}
					if err := json.Unmarshal(ae.body, &h); err != nil || h.Status != "unhealthy" {
						return fmt.Errorf("503 without an unhealthy summary: %w (%s)", err, ae.body)
					}
				}
				if _, ok := h.Apps[app]; !ok || h.PID == 0 {
					return fmt.Errorf("health lists %v (pid %d), not %s", h.Apps, h.PID, app)
				}
				return nil
			})
			return name
		}
		stop := func(t *testing.T, name string) {
			t.Helper()
			if _, err := run(t, time.Minute, "", nil, "docker", "stop", "-t", "30", name); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, time.Minute, "", nil, "docker", "inspect", "-f", "{{.State.ExitCode}}", name)
			if err != nil {
				t.Fatal(err)
			}
			if code := strings.TrimSpace(out); code != "0" {
				logs, _ := run(t, time.Minute, "", nil, "docker", "logs", name)
				t.Fatalf("serve exited %s after SIGTERM; logs:\n%s", code, logs)
			}
		}

		first := serve(t)
		stop(t, first)
		if _, err := os.Stat(filepath.Join(data, "bluegreen.db")); err != nil {
			t.Fatalf("no database file: %v", err)
		}
		second := serve(t)
		var events []struct {
			Type string `json:"type"`
		}
		if err := getJSON(client, "/api/events?limit=100", &events); err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
		}
		joined := strings.Join(types, " ")
		if strings.Count(joined, "supervisor.started") < 2 || !strings.Contains(joined, "supervisor.stopped") {
			t.Fatalf("events after the second start: %v; want two supervisor.started and the first run's supervisor.stopped", types)
		}
		stop(t, second)
	})
}

// once is a copy of docker run arguments for a container removed when it exits.
func once(base []string) []string {
	return append(append([]string{}, base...), "--rm")
}

// buildScratchImage builds a FROM scratch image holding only bin as
// /bluegreen, under a tag of its own that t.Cleanup removes.
func buildScratchImage(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bluegreen"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY bluegreen /bluegreen\nENTRYPOINT [\"/bluegreen\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := uniqueName(t, "bluegreen-release-test") + ":scratch"
	t.Cleanup(func() { testimage.RemoveImage(t, tag) })
	if _, err := run(t, 5*time.Minute, "", nil, "docker", "build", "-q", "-t", tag, dir); err != nil {
		t.Fatal(err)
	}
	return tag
}

// unixClient is an HTTP client of the management API on a unix socket.
func unixClient(sock string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		},
	}
}

// getJSON GETs path from the API (host "localhost") and decodes a 200 answer.
func getJSON(c *http.Client, path string, v any) error {
	resp, err := c.Get("http://localhost" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &httpStatusError{path: path, status: resp.StatusCode, body: body}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w: %s", path, err, body)
	}
	return nil
}

// httpStatusError is an answer other than 200 to getJSON.
type httpStatusError struct {
	path   string
	status int
	body   []byte
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.path, e.status, e.body)
}
