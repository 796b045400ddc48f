package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// fakeS3dock is an s3dock executable for the poller: it logs its arguments
// to $FAKE_S3DOCK_LOG, prints $FAKE_S3DOCK_OUT (the JSON that `s3dock --json
// pull` prints for the image it loaded) and exits $FAKE_S3DOCK_EXIT.
const fakeS3dock = `#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_S3DOCK_LOG"
cat "$FAKE_S3DOCK_OUT"
exit "${FAKE_S3DOCK_EXIT:-0}"
`

// pullJSON is what s3dock --json pull prints once image is loaded.
func pullJSON(image string) string {
	b, _ := json.Marshal(map[string]any{"success": true, "command": "pull", "data": map[string]any{
		"image_ref": image, "source": "production", "source_type": "environment", "skipped": false}})
	return string(b)
}

// poller runs examples/s3dock/bluegreen-s3dock-poll.sh with the fake
// s3dock first on PATH.
type poller struct {
	script, bin, out, log, api string
	env                        []string // added to the poller's environment
}

func newPoller(t *testing.T, api string) *poller {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "s3dock"), []byte(fakeS3dock), 0o755); err != nil {
		t.Fatal(err)
	}
	return &poller{
		script: filepath.Join(repoRoot(t), "examples", "s3dock", "bluegreen-s3dock-poll.sh"),
		bin:    bin, out: filepath.Join(dir, "out.json"), log: filepath.Join(dir, "args.log"), api: api,
	}
}

// run polls once with s3dock printing out and exiting code; it returns the
// poller's stdout, stderr and exit status.
func (p *poller) run(t *testing.T, out string, code int, args ...string) (string, string, int) {
	t.Helper()
	if err := os.WriteFile(p.out, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + p.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"BLUEGREEN_API=" + p.api, "S3DOCK_FLAGS=--profile prod",
		"FAKE_S3DOCK_OUT=" + p.out, "FAKE_S3DOCK_LOG=" + p.log, fmt.Sprintf("FAKE_S3DOCK_EXIT=%d", code),
	}
	env = append(env, p.env...)
	stdout, stderr, err := runSplit(3*time.Minute, "", env, p.script, args...)
	if err != nil && exitCode(err) < 0 {
		t.Fatalf("poller: %v", err)
	}
	return stdout, stderr, exitCode(err)
}

// silentListener accepts connections on 127.0.0.1 and never answers; it
// returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// serveProcess runs `bluegreen serve` until the test ends.
type serveProcess struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

func (s *serveProcess) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

func (s *serveProcess) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// startServe starts bin serve with apps, a database in a temp folder and the
// API on api; t.Cleanup stops it with SIGTERM.
func startServe(t *testing.T, bin, apps, api string) *serveProcess {
	t.Helper()
	s := &serveProcess{}
	s.cmd = exec.Command(bin, "serve", "--apps", apps, "--db", filepath.Join(t.TempDir(), "bluegreen.db"), "--api", api)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve exited with %v after SIGTERM; logs:\n%s", err, s)
			}
		case <-time.After(60 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
			t.Errorf("serve did not stop within 60s of SIGTERM; logs:\n%s", s)
		}
	})
	return s
}

// apiJSON GETs path from the API at addr and decodes the 200 answer into v.
func apiJSON(addr, path string, v any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

type deployment struct {
	ID            int64  `json:"deployment_id"`
	ToImage       string `json:"to_image"`
	TriggerSource string `json:"trigger_source"`
	Status        string `json:"status"`
	Error         string `json:"error"`
}

// deployedID reads the deployment id from the poller's line
// "APP: IMAGE: deployment N STATUS".
func deployedID(t *testing.T, stdout, status string) int64 {
	t.Helper()
	var id int64
	fields := strings.Fields(stdout)
	if len(fields) != 5 || fields[2] != "deployment" || fields[4] != status {
		t.Fatalf("poller printed %q, want \"APP: IMAGE: deployment N %s\"", stdout, status)
	}
	if _, err := fmt.Sscan(fields[3], &id); err != nil {
		t.Fatalf("poller printed %q: %v", stdout, err)
	}
	return id
}

// TestS3dock_Poller runs the s3dock poller of examples/s3dock against a
// running serve (the release binary) that manages a real test app.
func TestS3dock_Poller(t *testing.T) {
	testimage.RequireDocker(t)
	requireTool(t, "curl", "curl")
	requireTool(t, "jq", "jq")
	bin := releaseBinary(t)

	app := uniqueName(t, "s3dock")
	testimage.Cleanup(t, app)
	images := map[string]string{}
	for _, v := range []string{"v1", "v2", "v3", "broken"} {
		env := map[string]string{"VERSION": v}
		if v == "broken" {
			env["HEALTH_MODE"] = "fail"
		}
		images[v] = testimage.Build(t, app+":"+v, env)
		t.Cleanup(func() { testimage.RemoveImage(t, images[v]) })
	}

	apps := t.TempDir()
	proxyPort := testimage.FreePort(t)
	cfg := fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, interval: 200ms, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2}
docker: {expose_port: %d, pull_policy: never}
deployment: {drain_timeout: 2s, stop_timeout: 2s, health_check_timeout: 8s}
`, app, images["v1"], proxyPort, testimage.FreePort(t), testimage.FreePort(t), testimage.ExposedPort)
	if err := os.WriteFile(filepath.Join(apps, app+".yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	api := fmt.Sprintf("127.0.0.1:%d", testimage.FreePort(t))
	serve := startServe(t, bin, apps, api)

	waitStatus := func(t *testing.T, image string) {
		t.Helper()
		waitFor(t, 90*time.Second, app+" stable on "+image, func() error {
			var st struct {
				Status       string `json:"status"`
				CurrentImage string `json:"current_image"`
			}
			if err := apiJSON(api, "/api/apps/"+app+"/status", &st); err != nil {
				return err
			}
			if st.Status != "stable" || st.CurrentImage != image {
				return fmt.Errorf("status %s on %s", st.Status, st.CurrentImage)
			}
			return nil
		})
	}
	waitStatus(t, images["v1"]) // the first start deploys the config's image
	p := newPoller(t, api)

	t.Run("a new image deploys", func(t *testing.T) {
		stdout, stderr, code := p.run(t, pullJSON(images["v2"]), 0, app, "production")
		if code != 0 {
			t.Fatalf("poller exit %d: %s%s\nserve:\n%s", code, stdout, stderr, serve)
		}
		id := deployedID(t, stdout, "started")
		var d deployment
		waitFor(t, 90*time.Second, "deployment completed", func() error {
			if err := apiJSON(api, fmt.Sprintf("/api/deployments/%d", id), &d); err != nil {
				return err
			}
			if d.Status != "completed" {
				return fmt.Errorf("status %s %s", d.Status, d.Error)
			}
			return nil
		})
		if d.ToImage != images["v2"] || d.TriggerSource != "s3dock" {
			t.Fatalf("deployment %+v: want to %s by s3dock", d, images["v2"])
		}
		args, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		if want := "--profile prod --json pull " + app + " production\n"; string(args) != want {
			t.Fatalf("s3dock called with %q, want %q", args, want)
		}
		waitStatus(t, images["v2"])
	})

	t.Run("the same image again is unchanged", func(t *testing.T) {
		stdout, stderr, code := p.run(t, pullJSON(images["v2"]), 0, app, "production")
		if code != 0 {
			t.Fatalf("poller exit %d: %s%s", code, stdout, stderr)
		}
		deployedID(t, stdout, "unchanged")
	})

	t.Run("--wait waits for completed", func(t *testing.T) {
		stdout, stderr, code := p.run(t, pullJSON(images["v3"]), 0, "--wait", app, "production")
		if code != 0 {
			t.Fatalf("poller exit %d: %s%s", code, stdout, stderr)
		}
		deployedID(t, stdout, "completed")
		waitStatus(t, images["v3"])
	})

	t.Run("--wait fails on a rollback", func(t *testing.T) {
		stdout, stderr, code := p.run(t, pullJSON(images["broken"]), 0, "--wait", app, "production")
		if code != 1 || !strings.Contains(stderr, "rolled_back") {
			t.Fatalf("poller exit %d, stdout %q, stderr %q; want 1 and rolled_back", code, stdout, stderr)
		}
		waitStatus(t, images["v3"])
	})

	for _, tc := range []struct {
		name, out  string
		s3dockExit int
		args       []string
		api        string
		env        []string
		code       int
		want       string
	}{
		{name: "unknown app", out: pullJSON(images["v2"]), args: []string{"nosuch-" + app, "production"},
			code: 1, want: `bluegreen answered 404 to the deployment of ` + images["v2"] + ` to nosuch-` + app + `: no app named`},
		{name: "s3dock fails", s3dockExit: 1, out: `{"success":false,"command":"pull","error":"environment pointer not found: x/production"}`,
			args: []string{app, "production"}, code: 1, want: "s3dock pull " + app + " production failed: environment pointer not found: x/production"},
		{name: "s3dock prints no image", out: "Pulling...\n", args: []string{app, "production"}, code: 1, want: "gave no image"},
		{name: "s3dock names a bad image", out: pullJSON(`web:v2"; rm -rf /`), args: []string{app, "production"}, code: 1, want: "not an image reference"},
		{name: "API unreachable", out: pullJSON(images["v2"]), args: []string{app, "production"},
			api: fmt.Sprintf("127.0.0.1:%d", testimage.FreePort(t)), code: 1, want: `cannot reach bluegreen at 127.0.0.1:`},
		{name: "API does not answer in time", out: pullJSON(images["v2"]), args: []string{app, "production"},
			api: silentListener(t), env: []string{"BLUEGREEN_TIMEOUT=1"}, code: 1, want: "did not answer within 1s"},
		{name: "no arguments", code: 2, want: "usage: bluegreen-s3dock-poll"},
		{name: "bad app name", args: []string{"Web API", "production"}, code: 2, want: `app name "Web API"`},
		{name: "unknown flag", args: []string{"--force", app, "production"}, code: 2, want: "unknown flag --force"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := *p
			if tc.api != "" {
				q.api = tc.api
			}
			q.env = tc.env
			stdout, stderr, code := q.run(t, tc.out, tc.s3dockExit, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("poller exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.code, tc.want)
			}
		})
	}

	t.Run("API on a unix socket", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "api.sock")
		startServe(t, bin, t.TempDir(), "unix:"+sock)
		q := *p
		q.api = "unix:" + sock
		waitFor(t, 30*time.Second, "serve on "+sock, func() error {
			_, err := os.Stat(sock)
			return err
		})
		_, stderr, code := q.run(t, pullJSON(images["v2"]), 0, app, "production")
		// This serve has no apps: its answer proves the request reached it.
		if code != 1 || !strings.Contains(stderr, "bluegreen answered 404") || !strings.Contains(stderr, "no app named") {
			t.Fatalf("poller exit %d, stderr %q; want the 404 of the serve on %s", code, stderr, sock)
		}
	})
}
