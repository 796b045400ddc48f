package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/handover"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve runs Run in the background with o (its Stderr a buffer the test
// reads) and returns the buffer and stop, which ends serve's context and
// returns Run's result. The test's end stops it too.
func serve(t *testing.T, o Options) (logs *syncBuffer, stop func() Result) {
	t.Helper()
	logs = &syncBuffer{}
	o.Stderr = logs
	if o.LogFormat == "" {
		o.LogFormat, o.LogLevel = "json", "info"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, o) }()
	var once sync.Once
	res := Result(-1)
	stop = func() Result {
		once.Do(func() {
			cancel()
			select {
			case res = <-done:
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop")
			}
		})
		return res
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("serve logs:\n%s", logs.String())
		}
	})
	return logs, stop
}

// waitServing waits until the API at addr answers GET /health from this process.
func waitServing(t *testing.T, c *api.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := c.Overall(t.Context())
		if err == nil && h.PID == os.Getpid() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve does not answer: %+v %v", h, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRun_EndToEnd runs serve against the real Docker daemon and drives it
// through the management API, as `bluegreen ctl` does.
func TestRun_EndToEnd(t *testing.T) {
	testimage.RequireDocker(t)
	v1 := testimage.Build(t, "bluegreen-test-cli:v1", map[string]string{"VERSION": "v1"})
	v2 := testimage.Build(t, "bluegreen-test-cli:v2", map[string]string{"VERSION": "v2"})
	broken := testimage.Build(t, "bluegreen-test-cli:broken", map[string]string{"VERSION": "broken", "HEALTH_MODE": "fail"})
	for _, img := range []string{v1, v2, broken} {
		t.Cleanup(func() { testimage.RemoveImage(t, img) })
	}
	app := fmt.Sprintf("clie2e-%d", time.Now().UnixNano()%1_000_000)
	testimage.Cleanup(t, app)
	proxyPort, apiPort := testimage.FreePort(t), testimage.FreePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
health_check: {path: /health, interval: 200ms, timeout: 1s}
docker: {expose_port: 3000}
deployment: {health_check_timeout: 3s, drain_timeout: 2s, stop_timeout: 1s}
`, app, v1, proxyPort, testimage.FreePort(t), testimage.FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, app+".yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", apiPort)
	ctx := t.Context()
	_, stop := serve(t, Options{AppsDir: dir, DB: filepath.Join(t.TempDir(), "bg.db"), API: apiAddr, Version: "test"})
	c := api.NewClient(apiAddr)

	// Wait until the first start deployed v1.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := c.App(ctx, app)
		if err == nil && st.Status == deploy.AppStable && st.CurrentImage == v1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app not stable: %+v %v", st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	get := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", proxyPort))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	if got := get(); got != "v1" {
		t.Fatalf("proxy answered %q, want v1", got)
	}

	d, err := c.DeployWait(ctx, app, deploy.Request{DesiredImage: v2, TriggerSource: deploy.TriggerManual})
	if err != nil || d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy v2: %+v %v", d, err)
	}
	if got := get(); got != "v2" {
		t.Fatalf("proxy answered %q after deploy, want v2", got)
	}

	d, err = c.DeployWait(ctx, app, deploy.Request{DesiredImage: broken, TriggerSource: deploy.TriggerManual})
	if err != nil || d.Status != deploy.StatusRolledBack || !strings.Contains(d.Error, "health_check_timeout") {
		t.Fatalf("deploy of a broken image: %+v %v", d, err)
	}
	if got := get(); got != "v2" {
		t.Fatalf("proxy answered %q after the rollback, want v2", got)
	}

	hist, err := c.History(ctx, app, 0, 0)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if hist[0].Status != deploy.StatusRolledBack || hist[1].TriggerSource != deploy.TriggerManual || hist[2].TriggerSource != deploy.TriggerConfig {
		t.Fatalf("history = %+v", hist)
	}
	// The three images the deployments used, newest first.
	images, err := c.Images(ctx, app)
	if err != nil || len(images) != 3 || images[0].Image != broken || images[1].Image != v2 || !images[1].InUse || images[2].Image != v1 {
		t.Fatalf("images: %+v %v", images, err)
	}
	if _, err := c.App(ctx, "no-such-app"); deploy.ErrorCode(err) != deploy.ENOTFOUND || !strings.Contains(err.Error(), "no-such-app") {
		t.Fatalf("status of an unknown app: %v", err)
	}

	if res := stop(); res != Stopped {
		t.Fatalf("serve ended with %d", res)
	}
	// The containers outlive the supervisor.
	if got := get(); !strings.Contains(got, "refused") {
		t.Fatalf("proxy still answering after serve stopped: %q", got)
	}
	var ce *api.ConnError
	if _, err := c.Apps(context.Background()); !errors.As(err, &ce) {
		t.Fatalf("API with serve stopped: %v", err)
	}
}

// TestRun_StartsAndStops runs serve without apps on a unix socket: it
// answers as this process, says so in its log, and at its context's end
// stops, removes its socket and returns Stopped.
func TestRun_StartsAndStops(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(t.TempDir(), "api.sock")
	logs, stop := serve(t, Options{AppsDir: dir, DB: filepath.Join(t.TempDir(), "bg.db"), API: "unix:" + sock, Version: "v9.9.9"})
	waitServing(t, api.NewClient("unix:"+sock))
	if res := stop(); res != Stopped {
		t.Fatalf("serve ended with %d", res)
	}
	for _, want := range []string{`"msg":"bluegreen serving"`, `"version":"v9.9.9"`, `"sockets_taken_over":false`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("log lacks the stop:\n%s", logs.String())
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after the stop: %v", err)
	}
}

func TestRun_DoesNotStart(t *testing.T) {
	badConfig := t.TempDir()
	if err := os.WriteFile(filepath.Join(badConfig, "web.yaml"), []byte("name: web\nimage: web:v1\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		o        Options
		handover string // BLUEGREEN_HANDOVER
		res      Result
		stderr   []string
	}{
		{name: "invalid configs start nothing", o: Options{AppsDir: badConfig}, res: Failed,
			stderr: []string{"bluegreen: the app configs in " + badConfig + " are invalid, nothing started:\n", filepath.Join(badConfig, "web.yaml") + ":3:1: bogus"}},
		{name: "log format", o: Options{LogFormat: "xml", LogLevel: "info"}, res: BadOption, stderr: []string{"--log-format \"xml\": use text or json\n"}},
		{name: "log level", o: Options{LogFormat: "text", LogLevel: "loud"}, res: BadOption, stderr: []string{"--log-level \"loud\": use debug, info, warn or error\n"}},
		{name: "API address not on loopback", o: Options{API: "192.0.2.1:7070"}, res: Failed, stderr: []string{"bluegreen: ", "192.0.2.1:7070"}},
		{name: "a handover that is not one", handover: "{", res: Failed, stderr: []string{"bluegreen: " + handover.Env + ": "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.handover != "" {
				t.Setenv(handover.Env, tt.handover)
			}
			o := tt.o
			if o.AppsDir == "" {
				o.AppsDir = t.TempDir()
			}
			o.DB = filepath.Join(t.TempDir(), "bg.db")
			if o.API == "" {
				o.API = "unix:" + filepath.Join(t.TempDir(), "api.sock")
			}
			if o.LogFormat == "" {
				o.LogFormat, o.LogLevel = "text", "info"
			}
			var stderr syncBuffer
			o.Stderr = &stderr
			if res := Run(context.Background(), o); res != tt.res {
				t.Fatalf("result %d, want %d; stderr %q", res, tt.res, stderr.String())
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Fatalf("stderr %q lacks %q", stderr.String(), want)
				}
			}
			if _, err := os.Stat(o.DB); tt.res == BadOption && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the store was opened: %v", err)
			}
		})
	}
}
