package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
	"github.com/bluegreen/bluegreen/store"
)

// Images every test of this package shares, built once per test process.
var (
	imagesOnce sync.Once
	imgV1      = "bluegreen-test-actors:v1"
	imgV2      = "bluegreen-test-actors:v2"
	imgSick    = "bluegreen-test-actors:sick"
	imgCrash   = "bluegreen-test-actors:crash"
	imgSlow    = "bluegreen-test-actors:slow"
)

func buildImages(t *testing.T) {
	t.Helper()
	testimage.RequireDocker(t)
	imagesOnce.Do(func() {
		testimage.Build(t, imgV1, map[string]string{"VERSION": "v1"})
		testimage.Build(t, imgV2, map[string]string{"VERSION": "v2"})
		testimage.Build(t, imgSick, map[string]string{"VERSION": "sick", "HEALTH_MODE": "fail"})
		testimage.Build(t, imgCrash, map[string]string{"VERSION": "crash", "HEALTH_MODE": "crash"})
		testimage.Build(t, imgSlow, map[string]string{"VERSION": "slow", "STARTUP_DELAY": "4s"})
	})
}

// testApp describes one app of a test.
type testApp struct {
	name                     string
	image                    string
	proxy, blue, green       int
	pullPolicy               string
	healthTimeout, drain     string
	websocketDrain, interval string
	verify                   string // more keys of the deployment section, e.g. "verify: {window: 30s}"
}

func newTestApp(t *testing.T, image string) testApp {
	t.Helper()
	name := fmt.Sprintf("bgt-%d", time.Now().UnixNano()%1_000_000_000)
	testimage.Cleanup(t, name)
	return testApp{name: name, image: image, proxy: testimage.FreePort(t), blue: testimage.FreePort(t),
		green: testimage.FreePort(t), pullPolicy: "if-not-present", healthTimeout: "8s", drain: "5s",
		websocketDrain: "2s", interval: "200ms"}
}

func (a testApp) yaml() string {
	return fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, timeout: 1s, interval: %s, healthy_threshold: 2, unhealthy_threshold: 2}
docker:
  expose_port: 3000
  pull_policy: %s
  memory_limit: 64m
  environment: {APP_NAME: %s}
deployment: {drain_timeout: %s, websocket_drain_timeout: %s, startup_timeout: 10s, health_check_timeout: %s, stop_timeout: 2s%s}
`, a.name, a.image, a.proxy, a.blue, a.green, a.interval, a.pullPolicy, a.name, a.drain, a.websocketDrain, a.healthTimeout, a.more())
}

// more is what the deployment section's flow mapping holds after its
// timeouts.
func (a testApp) more() string {
	if a.verify == "" {
		return ""
	}
	return ", " + a.verify
}

func (a testApp) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", a.proxy, path) }

// harness runs a System over a temporary apps folder and database, with the
// management API on an httptest server.
type harness struct {
	t    *testing.T
	dir  string
	db   string
	rt   *docker.Client
	st   *store.Store
	sys  *System
	api  *httptest.Server
	logs io.Writer
}

func newHarness(t *testing.T, apps ...testApp) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir()}
	h.db = filepath.Join(t.TempDir(), "bluegreen.db")
	for _, a := range apps {
		h.writeApp(a)
	}
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	h.rt = rt
	h.start()
	return h
}

func (h *harness) writeApp(a testApp) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, a.name+".yaml"), []byte(a.yaml()), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) start() {
	h.t.Helper()
	st, err := store.Open(h.db)
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	if h.logs == nil {
		h.logs = newTestWriter(h.t)
	}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sys, err := Start(Options{
		Load:              func() ([]*config.App, error) { return config.LoadDir(h.dir) },
		Store:             st,
		Runtime:           h.rt,
		Logger:            logger,
		ReconcileInterval: time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.sys = sys
	h.api = httptest.NewServer(api.NewServer(sys, logger))
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.sys == nil {
		return
	}
	h.api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.sys.Stop(ctx); err != nil {
		h.t.Errorf("stop: %v", err)
	}
	h.st.Close()
	h.sys = nil
}

// testWriter keeps the supervisor's logs and prints them only when the test fails.
type testWriter struct {
	t   *testing.T
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, mu: &sync.Mutex{}, buf: &bytes.Buffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Logf("supervisor logs:\n%s", w.buf.String())
		}
	})
	return w
}

// has reports whether the logs so far have a line with every one of parts.
func (w testWriter) has(parts ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for line := range strings.Lines(w.buf.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// post sends a JSON body to the management API and decodes the answer.
func (h *harness) post(path string, body any, out any) int {
	h.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(h.api.URL+path, "application/json", bytes.NewReader(b))
	return h.decode("POST "+path, resp, err, out)
}

// get reads an API route and decodes the answer.
func (h *harness) get(path string, out any) int {
	h.t.Helper()
	resp, err := http.Get(h.api.URL + path)
	return h.decode("GET "+path, resp, err, out)
}

func (h *harness) decode(what string, resp *http.Response, err error, out any) int {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s: %d %s: %v", what, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) status(app string) deploy.AppStatus {
	h.t.Helper()
	st, err := h.sys.App(context.Background(), app)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// waitStable waits until the app is stable with the image active.
func (h *harness) waitStable(app, image string, timeout time.Duration) deploy.AppStatus {
	h.t.Helper()
	var st deploy.AppStatus
	var err error
	eventually(h.t, timeout, func() bool {
		st, err = h.sys.App(context.Background(), app)
		return err == nil && st.Status == deploy.AppStable && st.CurrentImage == image
	}, func() string { return fmt.Sprintf("status %+v, %v", st, err) })
	return st
}

// deploy asks for a deployment through the HTTP API and waits for its end.
func (h *harness) deploy(app, image string, trigger deploy.Trigger) deploy.Deployment {
	h.t.Helper()
	var r deploy.Response
	code := h.post("/api/apps/"+app+"/deploy", deploy.Request{DesiredImage: image, TriggerSource: trigger}, &r)
	if code != http.StatusAccepted {
		h.t.Fatalf("deploy %s: status %d, %+v", image, code, r)
	}
	return h.wait(r.DeploymentID, 60*time.Second)
}

func (h *harness) wait(id int64, timeout time.Duration) deploy.Deployment {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := h.sys.WaitDeployment(ctx, id)
	if err != nil {
		h.t.Fatalf("wait for deployment %d: %v (last seen %+v)", id, err, d)
	}
	return d
}

func eventually(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// body GETs a URL and returns its trimmed body, or an error.
func body(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b)), nil
}

// poller sends requests through the proxy until stopped, counting answers.
type poller struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	bodies     map[string]int64
	stop       chan struct{}
	done       sync.WaitGroup
}

func startPoller(url string, clients int) *poller {
	p := &poller{stop: make(chan struct{}), bodies: map[string]int64{}}
	for i := 0; i < clients; i++ {
		p.done.Add(1)
		go func() {
			defer p.done.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				b, err := body(client, url)
				p.mu.Lock()
				if err != nil {
					p.failed.Add(1)
					if len(p.errs) < 10 {
						p.errs = append(p.errs, err.Error())
					}
				} else {
					p.ok.Add(1)
					p.bodies[b]++
				}
				p.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return p
}

func (p *poller) halt() {
	close(p.stop)
	p.done.Wait()
}

// dockerInspect reads one field of a container with the docker CLI.
func dockerInspect(t *testing.T, name, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, name).CombinedOutput()
	if err != nil {
		return "error: " + strings.TrimSpace(string(out))
	}
	return strings.TrimSpace(string(out))
}

func TestSystem_FirstStartDeploysIntoBlue(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	st := h.waitStable(app.name, imgV1, 60*time.Second)
	if st.ActiveColor != deploy.Blue {
		t.Fatalf("active color = %q, want blue", st.ActiveColor)
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v1" {
		t.Fatalf("proxy answered %q, %v; want v1", got, err)
	}
	name := app.name + "-blue"
	labels := dockerInspect(t, name, "{{json .Config.Labels}}")
	var l map[string]string
	if err := json.Unmarshal([]byte(labels), &l); err != nil {
		t.Fatalf("labels of %s: %s", name, labels)
	}
	if l[LabelApp] != app.name || l[LabelColor] != string(deploy.Blue) || l[LabelManaged] != "true" || l[LabelDeployment] == "" {
		t.Fatalf("labels = %v", l)
	}
	binding := dockerInspect(t, name, `{{json .HostConfig.PortBindings}}`)
	want := fmt.Sprintf(`{"3000/tcp":[{"HostIp":"127.0.0.1","HostPort":"%d"}]}`, app.blue)
	if binding != want {
		t.Fatalf("port bindings = %s, want %s", binding, want)
	}
	hist, err := h.sys.History(context.Background(), app.name, 10, 0)
	if err != nil || len(hist) != 1 || hist[0].TriggerSource != deploy.TriggerConfig || hist[0].Status != deploy.StatusCompleted {
		t.Fatalf("history = %+v, %v", hist, err)
	}
}

func TestSystem_DeployV2ThroughAPI(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	d := h.deploy(app.name, imgV2, deploy.TriggerS3dock)
	if d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment = %+v", d)
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v2" {
		t.Fatalf("proxy answered %q, %v; want v2", got, err)
	}
	st := h.status(app.name)
	if st.ActiveColor != deploy.Green || st.CurrentImage != imgV2 {
		t.Fatalf("status = %+v", st)
	}
	if state := dockerInspect(t, app.name+"-blue", "{{.State.Status}}"); state != "exited" {
		t.Fatalf("blue container state = %q, want exited (stopped, not removed)", state)
	}
	var hist []deploy.Deployment
	if code := h.get("/api/apps/"+app.name+"/history?limit=10", &hist); code != 200 || len(hist) != 2 {
		t.Fatalf("history: %d %+v", code, hist)
	}
	got := hist[0]
	if got.FromImage != imgV1 || got.ToImage != imgV2 || got.TriggerSource != deploy.TriggerS3dock ||
		got.Color != deploy.Green || got.DurationMS <= 0 || got.CompletedAt == nil {
		t.Fatalf("history[0] = %+v", got)
	}
	phases := map[string]bool{}
	for _, p := range got.Phases {
		phases[p.Name] = true
		if p.StartedAt.IsZero() {
			t.Errorf("phase %s has no start", p.Name)
		}
	}
	for _, want := range []string{"pulling", "starting", "health_checking", "switching", "draining"} {
		if !phases[want] {
			t.Errorf("phase %s missing from %+v", want, got.Phases)
		}
	}
	t.Logf("deploy v1→v2 took %d ms: %+v", got.DurationMS, got.Phases)

	// The same image again changes nothing.
	var r deploy.Response
	if code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgV2}, &r); code != 200 || r.Status != deploy.AnswerUnchanged {
		t.Fatalf("redeploy of the active image: %d %+v", code, r)
	}
}

func TestSystem_RollsBackBadImages(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	app.healthTimeout = "4s"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	for _, tc := range []struct {
		image   string
		wantErr string // why: the crash is seen as a crash, not waited out as a timeout
		wantLog string
	}{
		{imgSick, "health_check_timeout", ""},
		{imgCrash, "exited", "crashing as asked"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			p := startPoller(app.url("/"), 2)
			start := time.Now()
			d := h.deploy(app.name, tc.image, deploy.TriggerAPI)
			took := time.Since(start)
			p.halt()
			if d.Status != deploy.StatusRolledBack {
				t.Fatalf("status = %s, want rolled_back (%+v)", d.Status, d)
			}
			if !strings.Contains(d.Error, tc.wantErr) {
				t.Errorf("error = %q, want it to mention %q", d.Error, tc.wantErr)
			}
			if tc.wantLog != "" && !strings.Contains(strings.Join(d.Logs, "\n"), tc.wantLog) {
				t.Errorf("logs = %q, want %q", d.Logs, tc.wantLog)
			}
			if p.failed.Load() != 0 || p.bodies["v1"] != p.ok.Load() || p.ok.Load() == 0 {
				t.Fatalf("poller during the attempt: %d ok, %d failed %v, bodies %v", p.ok.Load(), p.failed.Load(), p.errs, p.bodies)
			}
			if state := dockerInspect(t, app.name+"-green", "{{.State.Status}}"); !strings.Contains(state, "No such") {
				t.Fatalf("failed container still there: %s", state)
			}
			st := h.status(app.name)
			if st.Status != deploy.AppStable || st.CurrentImage != imgV1 || st.ActiveColor != deploy.Blue {
				t.Fatalf("status after rollback = %+v", st)
			}
			t.Logf("%s rolled back in %s with %d requests served by v1: %s; phases %+v", tc.image, took, p.ok.Load(), d.Error, d.Phases)
		})
	}
}

func TestSystem_PullPolicies(t *testing.T) {
	buildImages(t)
	reg := testimage.Registry(t)
	remote := reg + "/bluegreen-test/pulled:v3"
	testimage.Push(t, imgV2, remote)
	testimage.RemoveImage(t, remote)
	t.Cleanup(func() { testimage.RemoveImage(t, remote) })

	// A tag under a registry address where nothing listens: present locally, so never pulled.
	local := fmt.Sprintf("127.0.0.1:%d/bluegreen-test/local-only:v1", testimage.FreePort(t))
	if out, err := exec.Command("docker", "tag", imgV1, local).CombinedOutput(); err != nil {
		t.Fatalf("docker tag: %v %s", err, out)
	}
	t.Cleanup(func() { testimage.RemoveImage(t, local) })

	app := newTestApp(t, local)
	h := newHarness(t, app)
	h.waitStable(app.name, local, 60*time.Second)

	d := h.deploy(app.name, remote, deploy.TriggerS3dock)
	if d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy of a registry-only image: %+v", d)
	}
	if got, _ := body(http.DefaultClient, app.url("/")); got != "v2" {
		t.Fatalf("proxy answered %q after the pulled deploy", got)
	}

	never := newTestApp(t, imgV1)
	never.pullPolicy = "never"
	h.writeApp(never)
	if _, err := h.sys.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitStable(never.name, imgV1, 60*time.Second)
	missing := "bluegreen-test/never-built:nope"
	d = h.deploy(never.name, missing, deploy.TriggerAPI)
	if d.Status != deploy.StatusFailed || !strings.Contains(d.Error, missing) {
		t.Fatalf("deploy of a missing image with pull_policy never: %+v", d)
	}
	if got, _ := body(http.DefaultClient, never.url("/")); got != "v1" {
		t.Fatalf("v1 must keep serving, got %q", got)
	}
}

func TestSystem_ConcurrentApps(t *testing.T) {
	buildImages(t)
	apps := []testApp{newTestApp(t, imgV1), newTestApp(t, imgV1), newTestApp(t, imgV1)}
	apps[1].name += "b"
	apps[2].name += "c"
	for _, a := range apps[1:] {
		testimage.Cleanup(t, a.name)
	}
	h := newHarness(t, apps...)
	for _, a := range apps {
		h.waitStable(a.name, imgV1, 90*time.Second)
	}
	var wg sync.WaitGroup
	results := make([]deploy.Deployment, len(apps))
	start := time.Now()
	for i, a := range apps {
		var r deploy.Response
		if code := h.post("/api/apps/"+a.name+"/deploy", deploy.Request{DesiredImage: imgV2}, &r); code != 202 {
			t.Fatalf("deploy %s: %d", a.name, code)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			results[i], _ = h.sys.WaitDeployment(ctx, r.DeploymentID)
		}()
	}
	wg.Wait()
	t.Logf("three concurrent deployments took %s", time.Since(start))
	for i, a := range apps {
		if results[i].Status != deploy.StatusCompleted {
			t.Fatalf("%s: %+v", a.name, results[i])
		}
		if got, err := body(http.DefaultClient, a.url("/")); err != nil || got != "v2" {
			t.Fatalf("%s answered %q, %v", a.name, got, err)
		}
	}
}

func TestSystem_StateSurvivesRestart(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)
	h.deploy(app.name, imgV2, deploy.TriggerAPI)
	before := h.status(app.name)
	histBefore, _ := h.sys.History(context.Background(), app.name, 10, 0)

	h.stop()
	// Containers outlive the supervisor.
	if state := dockerInspect(t, app.name+"-green", "{{.State.Status}}"); state != "running" {
		t.Fatalf("green after stop = %s, want running", state)
	}
	h.start()
	after := h.waitStable(app.name, imgV2, 30*time.Second)
	if after.ActiveColor != before.ActiveColor || after.CurrentImage != before.CurrentImage || after.DesiredImage != before.DesiredImage {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	histAfter, _ := h.sys.History(context.Background(), app.name, 10, 0)
	if len(histAfter) != len(histBefore) || histAfter[0].DeploymentID != histBefore[0].DeploymentID {
		t.Fatalf("history changed: before %d, after %d", len(histBefore), len(histAfter))
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v2" {
		t.Fatalf("proxy after restart answered %q, %v", got, err)
	}
}

func TestSystem_QueueAndSupersede(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	app.healthTimeout = "3s"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	var first, second, third, again deploy.Response
	h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgSick}, &first)
	h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgSick}, &again)
	h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgCrash}, &second)
	h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgV2}, &third)
	if first.Status != deploy.AnswerStarted || again.DeploymentID != first.DeploymentID {
		t.Fatalf("first %+v, same image again %+v", first, again)
	}
	if second.Status != deploy.AnswerQueued || third.Status != deploy.AnswerQueued {
		t.Fatalf("second %+v third %+v, want queued", second, third)
	}
	if d := h.wait(second.DeploymentID, 30*time.Second); d.Status != deploy.StatusSuperseded {
		t.Fatalf("older queued = %+v, want superseded", d)
	}
	if d := h.wait(first.DeploymentID, 30*time.Second); d.Status != deploy.StatusRolledBack {
		t.Fatalf("first = %+v, want rolled_back", d)
	}
	if d := h.wait(third.DeploymentID, 60*time.Second); d.Status != deploy.StatusCompleted {
		t.Fatalf("newest queued = %+v, want completed", d)
	}
	h.waitStable(app.name, imgV2, 10*time.Second)
}

func TestSystem_SwitchAndRollback(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)
	h.deploy(app.name, imgV2, deploy.TriggerAPI)

	var st deploy.AppStatus
	if code := h.post("/api/apps/"+app.name+"/switch", api.SwitchRequest{Color: string(deploy.Blue)}, &st); code != 200 {
		t.Fatalf("switch: %d %+v", code, st)
	}
	if st.ActiveColor != deploy.Blue || st.CurrentImage != imgV1 {
		t.Fatalf("after switch %+v", st)
	}
	if got, _ := body(http.DefaultClient, app.url("/")); got != "v1" {
		t.Fatalf("after switch to blue the proxy answered %q", got)
	}
	// To the active color: nothing done, the status (docs/api.md, "Switch").
	if code := h.post("/api/apps/"+app.name+"/switch", api.SwitchRequest{Color: string(deploy.Blue)}, &st); code != 200 ||
		st.ActiveColor != deploy.Blue || st.Deployment != nil {
		t.Fatalf("switch to the active color: %d %+v", code, st)
	}

	var r deploy.Response
	if code := h.post("/api/apps/"+app.name+"/rollback", nil, &r); code != 202 {
		t.Fatalf("rollback: %d %+v", code, r)
	}
	if d := h.wait(r.DeploymentID, 60*time.Second); d.Status != deploy.StatusCompleted || d.ToImage != imgV2 {
		t.Fatalf("rollback deployment = %+v", d)
	}
}

func TestSystem_PanickingAppIsRespawned(t *testing.T) {
	buildImages(t)
	a, b := newTestApp(t, imgV1), newTestApp(t, imgV1)
	b.name += "b"
	testimage.Cleanup(t, b.name)
	h := newHarness(t, a, b)
	h.waitStable(a.name, imgV1, 60*time.Second)
	h.waitStable(b.name, imgV1, 60*time.Second)

	pid := h.sys.eng.Registry.GetPID("supervisor/root/app", a.name)
	if pid == nil {
		t.Fatal("no app actor")
	}
	// What the recover middleware sends when the app actor panics.
	h.sys.eng.Send(h.sys.root, childFailed{PID: pid, Name: a.name, Reason: "test panic"})
	p := startPoller(b.url("/"), 1)
	eventually(t, 20*time.Second, func() bool {
		np := h.sys.eng.Registry.GetPID("supervisor/root/app", a.name)
		return np != nil && np != pid
	}, func() string { return "app actor not respawned" })
	h.waitStable(a.name, imgV1, 30*time.Second)
	p.halt()
	if p.failed.Load() != 0 || p.ok.Load() == 0 {
		t.Fatalf("the other app: %d ok, %d failed %v", p.ok.Load(), p.failed.Load(), p.errs)
	}
	if got, err := body(http.DefaultClient, a.url("/")); err != nil || got != "v1" {
		t.Fatalf("respawned app answered %q, %v", got, err)
	}
}

func TestSystem_ResumesInterruptedDeployment(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	var r deploy.Response
	if code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgSlow, TriggerSource: deploy.TriggerS3dock}, &r); code != 202 {
		t.Fatalf("deploy: %d", code)
	}
	eventually(t, 20*time.Second, func() bool {
		d, err := h.sys.Deployment(context.Background(), r.DeploymentID)
		return err == nil && d.Status == deploy.StatusHealthChecking
	}, func() string { return "never reached health_checking" })
	h.stop() // the supervisor stops in the middle of the health gate

	h.start()
	d, err := h.sys.Deployment(context.Background(), r.DeploymentID)
	if err != nil || d.Status != deploy.StatusInterrupted {
		t.Fatalf("deployment after restart = %+v, %v; want interrupted", d, err)
	}
	st := h.waitStable(app.name, imgSlow, 60*time.Second)
	hist, _ := h.sys.History(context.Background(), app.name, 1, 0)
	if len(hist) != 1 || hist[0].Status != deploy.StatusCompleted || hist[0].TriggerSource != deploy.TriggerS3dock {
		t.Fatalf("resumed deployment = %+v", hist)
	}
	if st.ActiveColor != deploy.Green {
		t.Fatalf("active = %s, want green", st.ActiveColor)
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "slow" {
		t.Fatalf("proxy answered %q, %v", got, err)
	}
}
