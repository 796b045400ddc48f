package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
)

// fakeSupervisor is an in-memory api.Backend whose deployments run through
// their phases at once, publishing the events a real supervisor would.
type fakeSupervisor struct {
	mu      sync.Mutex
	apps    map[string]*deploy.AppStatus
	deps    map[int64]*deploy.Deployment
	next    int64
	outcome deploy.Status // final status of the next deployment; "" leaves it running
	lastReq deploy.Request
	subs    map[int]chan deploy.Event
	nextSub int
	eventID int64
	images  []deploy.Image
	windows []deploy.Verification // a verified run's windows, judged in order (ctl_verify_test.go); nil: not verified
	// trafficCalls counts the pauses, maintenances and resumes that reached it.
	trafficCalls int
}

func newFakeSupervisor() *fakeSupervisor {
	started := time.Now().Add(-5 * time.Minute)
	done := started.Add(14200 * time.Millisecond)
	f := &fakeSupervisor{
		apps: map[string]*deploy.AppStatus{
			"web": {Name: "web", Status: deploy.AppStable, ActiveColor: "blue", CurrentImage: "web:v1", DesiredImage: "web:v1",
				Ports: deploy.Ports{Proxy: 8000, Blue: 18000, Green: 18001},
				Containers: deploy.Containers{
					Blue:  &deploy.Container{ID: "0123456789abcdef", Image: "web:v1", State: "running", Health: "healthy"},
					Green: &deploy.Container{ID: "fedcba9876543210", Image: "web:v0", State: "exited", Health: "unknown"}},
				Stats:       deploy.Stats{Deployments: 2, Completed: 2, SuccessRate: 1, AvgDurationMS: 14200, P95DurationMS: 15000},
				Connections: map[deploy.Color]deploy.Connections{"blue": {HTTP: 2, WebSocket: 1}}},
			"worker": {Name: "worker", Status: deploy.AppDegraded, ActiveColor: "green", CurrentImage: "worker:7",
				Ports: deploy.Ports{Proxy: 8100, Blue: 18100, Green: 18101}, Error: "green container unhealthy"},
		},
		deps: map[int64]*deploy.Deployment{
			1: {DeploymentID: 1, App: "web", FromImage: "web:v0", ToImage: "web:v1", Color: "blue", TriggerSource: deploy.TriggerS3dock,
				Status: deploy.StatusCompleted, StartedAt: started, CompletedAt: &done, DurationMS: 14200},
		},
		next:    2,
		outcome: deploy.StatusCompleted,
		subs:    map[int]chan deploy.Event{},
	}
	f.apps["web"].LastDeployment = f.deps[1]
	return f
}

func (f *fakeSupervisor) Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[app]
	if !ok {
		return deploy.Response{}, deploy.Errorf(deploy.ENOTFOUND, "no app named %q", app)
	}
	f.lastReq = req
	if req.DesiredImage == a.CurrentImage {
		return deploy.Response{DeploymentID: 1, Status: deploy.AnswerUnchanged}, nil
	}
	image := req.DesiredImage
	if image == "" {
		image = a.CurrentImage
	}
	id := f.next
	f.next++
	d := &deploy.Deployment{DeploymentID: id, App: app, FromImage: a.CurrentImage, ToImage: image, Color: "green",
		TriggerSource: req.TriggerSource, Status: deploy.StatusQueued, StartedAt: time.Now()}
	f.deps[id] = d
	if f.windows != nil {
		go f.runVerified(id, f.outcome)
	} else {
		go f.run(id, f.outcome)
	}
	return deploy.Response{DeploymentID: id, Status: deploy.AnswerStarted}, nil
}

// run moves deployment id through its phases and ends it with outcome.
func (f *fakeSupervisor) run(id int64, outcome deploy.Status) {
	phases := []deploy.Status{deploy.StatusPulling, deploy.StatusStarting, deploy.StatusHealthChecking}
	if outcome == deploy.StatusCompleted {
		phases = append(phases, deploy.StatusSwitching, deploy.StatusDraining)
	}
	f.emit(id, deploy.EventDeploymentStarted, "deployment started", nil)
	for _, p := range phases {
		f.mu.Lock()
		d := f.deps[id]
		d.Status = p
		d.Phases = append(d.Phases, deploy.Phase{Name: string(p), StartedAt: time.Now()})
		f.mu.Unlock()
		f.emit(id, deploy.EventDeploymentPhase, "phase "+string(p), map[string]string{"phase": string(p), "status": string(p)})
		if p == deploy.StatusSwitching {
			f.emit(id, deploy.EventProxySwitched, "traffic switched from blue to green", map[string]string{"from": "blue", "to": "green"})
		}
	}
	if outcome == "" {
		return
	}
	f.mu.Lock()
	d := f.deps[id]
	now := time.Now()
	d.Status, d.CompletedAt, d.DurationMS = outcome, &now, 1500
	if outcome == deploy.StatusRolledBack {
		d.Error = "health check failed 3 times: GET /health: 500"
		d.Logs = []string{"panic: database unreachable", "exit status 2"}
	}
	f.mu.Unlock()
	f.emit(id, outcome.Event(), "deployment "+string(outcome), map[string]string{"status": string(outcome), "error": d.Error})
}

func (f *fakeSupervisor) emit(id int64, typ deploy.EventType, msg string, data any) {
	raw, _ := json.Marshal(data)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eventID++
	ev := deploy.Event{ID: f.eventID, At: time.Now(), App: "web", DeploymentID: &id, Type: typ, Message: msg, Data: raw}
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default: // a stuck subscriber loses events, as with the real supervisor
		}
	}
}

func (f *fakeSupervisor) Rollback(ctx context.Context, app string) (deploy.Response, error) {
	if resp, ok := f.takeBack(app); ok {
		return resp, nil
	}
	return f.Deploy(ctx, app, deploy.Request{DesiredImage: "web:v0", TriggerSource: deploy.TriggerManual})
}

func (f *fakeSupervisor) Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[app]
	if !ok {
		return deploy.AppStatus{}, deploy.Errorf(deploy.ENOTFOUND, "no app named %q", app)
	}
	a.ActiveColor = color
	return *a, nil
}

func (f *fakeSupervisor) Apps(ctx context.Context) ([]deploy.AppStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []deploy.AppStatus{*f.apps["web"], *f.apps["worker"]}, nil
}

func (f *fakeSupervisor) App(ctx context.Context, name string) (deploy.AppStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[name]
	if !ok {
		return deploy.AppStatus{}, deploy.Errorf(deploy.ENOTFOUND, "no app named %q", name)
	}
	return *a, nil
}

func (f *fakeSupervisor) History(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []deploy.Deployment
	for id := f.next - 1; id > 0 && len(out) < limit; id-- {
		if d := f.deps[id]; d != nil && d.App == app {
			out = append(out, *d)
		}
	}
	return out, nil
}

func (f *fakeSupervisor) Deployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deps[id]
	if !ok {
		return deploy.Deployment{}, deploy.Errorf(deploy.ENOTFOUND, "no deployment %d", id)
	}
	return *d, nil
}

func (f *fakeSupervisor) WaitDeployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	return f.Deployment(ctx, id)
}

func (f *fakeSupervisor) Health(ctx context.Context, app string, limit int) (map[deploy.Color]deploy.ColorHealth, error) {
	at := time.Now().Add(-2 * time.Second)
	return map[deploy.Color]deploy.ColorHealth{
		"blue": {Healthy: true, LastCheck: &at, Checks: []deploy.HealthCheck{
			{At: at, Success: true, StatusCode: 200, ResponseTimeMS: 3.2}}},
		"green": {Healthy: false, ConsecutiveFailures: 2, Checks: []deploy.HealthCheck{
			{At: at, Success: false, Error: "connection refused"}}},
	}, nil
}

func (f *fakeSupervisor) Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error) {
	var out []deploy.Event
	for i := afterID + 1; i <= 1500 && len(out) < limit; i++ {
		out = append(out, deploy.Event{ID: i, At: time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC), App: "web",
			Type: deploy.EventConfigLoaded, Message: fmt.Sprintf("event %d", i)})
	}
	return out, nil
}

func (f *fakeSupervisor) Subscribe(ctx context.Context) (<-chan deploy.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan deploy.Event, 64)
	n := f.nextSub
	f.nextSub++
	f.subs[n] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, n)
	}
}

func (f *fakeSupervisor) Reload(ctx context.Context) (deploy.ReloadResult, error) {
	return deploy.ReloadResult{Added: []string{"shop"}, Unchanged: []string{"web", "worker"}}, nil
}

func (f *fakeSupervisor) Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error {
	_, err := io.WriteString(w, "listening on :3000\n")
	return err
}

func (f *fakeSupervisor) Overall(ctx context.Context) (deploy.Overall, error) {
	return deploy.Overall{Status: "healthy"}, nil
}

func (f *fakeSupervisor) Images(ctx context.Context, app string) ([]deploy.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.apps[app]; !ok {
		return nil, deploy.Errorf(deploy.ENOTFOUND, "no app named %q", app)
	}
	return f.images, nil
}

// Metrics serves an empty registry: ctl reads no metrics.
func (f *fakeSupervisor) Metrics() prometheus.Gatherer { return metrics.New() }

var _ api.Backend = (*fakeSupervisor)(nil)

// startAPI serves NewServer over f on a loopback port and returns its address.
func startAPI(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

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

// run runs the CLI with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb syncBuffer
	code = Run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseCtl(t *testing.T) {
	tests := []struct {
		name string
		args []string
		cmd  string
		pos  []string
		api  string
		json bool
		wait bool
	}{
		{name: "globals before", args: []string{"--api", "unix:/run/bg.sock", "--json", "status"}, cmd: "status", api: "unix:/run/bg.sock", json: true},
		{name: "globals after", args: []string{"status", "web", "--json", "--api=127.0.0.1:9"}, cmd: "status", pos: []string{"web"}, api: "127.0.0.1:9", json: true},
		{name: "flags after positionals", args: []string{"deploy", "web", "web:v2", "--wait", "--timeout", "2m"}, cmd: "deploy", pos: []string{"web", "web:v2"}, wait: true},
		{name: "flags between positionals", args: []string{"deploy", "web", "--wait", "web:v2"}, cmd: "deploy", pos: []string{"web", "web:v2"}, wait: true},
		{name: "single dash", args: []string{"-json", "deploy", "-wait", "web"}, cmd: "deploy", pos: []string{"web"}, json: true, wait: true},
		{name: "bool with value", args: []string{"deploy", "web", "--wait=false"}, cmd: "deploy", pos: []string{"web"}},
		{name: "double dash", args: []string{"deploy", "--", "web", "--weird-image"}, cmd: "deploy", pos: []string{"web", "--weird-image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := parseCtl(tt.args)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if in.cmd != tt.cmd {
				t.Fatalf("command %v, want %s", in.cmd, tt.cmd)
			}
			if strings.Join(in.pos, " ") != strings.Join(tt.pos, " ") {
				t.Fatalf("positionals %q, want %q", in.pos, tt.pos)
			}
			if in.get("api") != tt.api || in.has("json") != tt.json || in.has("wait") != tt.wait {
				t.Fatalf("flags %v", in.flags)
			}
		})
	}
	t.Run("subcommand flag before the subcommand is refused", func(t *testing.T) {
		if _, err := parseCtl([]string{"--wait", "deploy", "web"}); err == nil {
			t.Fatal("accepted --wait before deploy")
		}
	})
}

func TestCtl_API(t *testing.T) {
	t.Run("BLUEGREEN_API sets the address", func(t *testing.T) {
		t.Setenv(EnvAPI, startAPI(t, api.NewServer(newFakeSupervisor(), nil)))
		code, stdout, stderr := run(t, "ctl", "status")
		if code != 0 || !strings.Contains(stdout, "web") {
			t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
		}
	})
	t.Run("--api wins over BLUEGREEN_API", func(t *testing.T) {
		t.Setenv(EnvAPI, "127.0.0.1:1")
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		if code, _, stderr := run(t, "ctl", "status", "--api", addr); code != 0 {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
	t.Run("unreachable API", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		code, _, stderr := run(t, "ctl", "--api", addr, "status")
		want := `cannot reach bluegreen at ` + addr + `: is "bluegreen serve" running?`
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("exit %d stderr %q, want %q", code, stderr, want)
		}
	})
	t.Run("api error message is shown", func(t *testing.T) {
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		code, _, stderr := run(t, "ctl", "--api", addr, "status", "nope")
		if code != 1 || !strings.Contains(stderr, `no app named "nope"`) {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
}

func TestCtl_Reads(t *testing.T) {
	addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
	ctl := func(args ...string) (int, string, string) {
		return run(t, append([]string{"ctl", "--api", addr}, args...)...)
	}
	t.Run("status table", func(t *testing.T) {
		code, out, _ := ctl("status")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
		for _, col := range []string{"APP", "STATUS", "ACTIVE", "IMAGE", "HEALTH", "LAST DEPLOY", "PROXY"} {
			if !strings.Contains(lines[0], col) {
				t.Errorf("header lacks %s: %q", col, lines[0])
			}
		}
		for _, cell := range []string{"web", "stable", "blue", "web:v1", "healthy", "completed 5m ago", ":8000 (2 http, 1 ws)"} {
			if !strings.Contains(lines[1], cell) {
				t.Errorf("web row lacks %q: %q", cell, lines[1])
			}
		}
		if !strings.Contains(lines[2], "worker") || !strings.Contains(lines[2], "degraded") {
			t.Errorf("worker row %q", lines[2])
		}
	})
	t.Run("status detail", func(t *testing.T) {
		code, out, _ := ctl("status", "web")
		for _, want := range []string{"web  STABLE", "blue *", "running", "0123456789ab", "green", "exited",
			"2 http, 1 ws", "last deployment:  #1 completed  web:v0 → web:v1", "100% success"} {
			if !strings.Contains(out, want) {
				t.Errorf("detail lacks %q", want)
			}
		}
		if code != 0 || t.Failed() {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
	})
	t.Run("history table", func(t *testing.T) {
		code, out, _ := ctl("history", "web", "--limit", "5")
		if code != 0 || !strings.Contains(out, "ID") || !strings.Contains(out, "FROM → TO") ||
			!strings.Contains(out, "web:v0 → web:v1") || !strings.Contains(out, "s3dock") || !strings.Contains(out, "14.2s") {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
	})
	t.Run("health per color", func(t *testing.T) {
		code, out, _ := ctl("health", "web")
		if code != 0 || !strings.Contains(out, "blue: healthy") || !strings.Contains(out, "green: unhealthy") ||
			!strings.Contains(out, "3.2ms") || !strings.Contains(out, "connection refused") {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
	})
	t.Run("events shows the latest", func(t *testing.T) {
		code, out, _ := ctl("events", "--limit", "3")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 || !strings.HasSuffix(lines[2], "event 1500") || !strings.HasSuffix(lines[0], "event 1498") {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
	})
	t.Run("events json is the API's array", func(t *testing.T) {
		code, out, _ := ctl("events", "--json", "--limit", "2")
		var evs []deploy.Event
		if err := json.Unmarshal([]byte(out), &evs); err != nil || code != 0 || len(evs) != 2 || evs[1].ID != 1500 {
			t.Fatalf("exit %d %v output:\n%s", code, err, out)
		}
		code, out, _ = ctl("events", "--json", "--limit", "0")
		if code != 0 || strings.TrimSpace(out) != "[]" {
			t.Fatalf("no events: exit %d output %q", code, out)
		}
	})
	t.Run("json status is the API answer", func(t *testing.T) {
		code, out, _ := ctl("status", "--json")
		var apps []deploy.AppStatus
		if err := json.Unmarshal([]byte(out), &apps); err != nil || code != 0 || len(apps) != 2 || apps[0].Name != "web" {
			t.Fatalf("exit %d %v output:\n%s", code, err, out)
		}
		code, out, _ = ctl("history", "web", "--json")
		var ds []deploy.Deployment
		if err := json.Unmarshal([]byte(out), &ds); err != nil || code != 0 || len(ds) != 1 {
			t.Fatalf("exit %d %v output:\n%s", code, err, out)
		}
	})
	t.Run("reload", func(t *testing.T) {
		code, out, _ := ctl("reload")
		if code != 0 || !strings.Contains(out, "added shop") {
			t.Fatalf("exit %d output %q", code, out)
		}
	})
	t.Run("switch", func(t *testing.T) {
		code, out, _ := ctl("switch", "web", "green")
		if code != 0 || !strings.Contains(out, "traffic now on green") {
			t.Fatalf("exit %d output %q", code, out)
		}
	})
	t.Run("logs", func(t *testing.T) {
		code, out, _ := ctl("logs", "web", "--tail", "10")
		if code != 0 || out != "listening on :3000\n" {
			t.Fatalf("exit %d output %q", code, out)
		}
	})
}

func TestCtl_Deploy(t *testing.T) {
	t.Run("without wait", func(t *testing.T) {
		f := newFakeSupervisor()
		addr := startAPI(t, api.NewServer(f, nil))
		code, out, _ := run(t, "ctl", "deploy", "web", "web:v2", "--api", addr)
		if code != 0 || !strings.Contains(out, "deployment #2 started") {
			t.Fatalf("exit %d output %q", code, out)
		}
		if f.lastReq.TriggerSource != deploy.TriggerManual || f.lastReq.DesiredImage != "web:v2" {
			t.Fatalf("request %+v", f.lastReq)
		}
	})
	t.Run("wait completed", func(t *testing.T) {
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		code, out, stderr := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
		}
		order := []string{"deployment #2 started", "pulling", "starting", "(pulling took", "health_checking",
			"proxy.switched", "draining", "deployment #2 completed in 1.5s: web:v2 now serves on green"}
		rest := out
		for _, w := range order {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("output lacks %q after the previous step:\n%s", w, out)
			}
			rest = rest[i+len(w):]
		}
		if strings.Contains(stderr, "polling") {
			t.Fatalf("fell back to polling: %s", stderr)
		}
	})
	t.Run("wait rolled back", func(t *testing.T) {
		f := newFakeSupervisor()
		f.outcome = deploy.StatusRolledBack
		addr := startAPI(t, api.NewServer(f, nil))
		code, out, _ := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		for _, w := range []string{"deployment #2 rolled back", "reason: health check failed 3 times", "container logs (last 2 lines)", "panic: database unreachable"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		if t.Failed() {
			t.Log(out)
		}
	})
	t.Run("rollback wait", func(t *testing.T) {
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		code, out, _ := run(t, "ctl", "--api", addr, "rollback", "web", "--wait")
		if code != 0 || !strings.Contains(out, "web:v0 now serves") {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
	})
	t.Run("wait unchanged", func(t *testing.T) {
		addr := startAPI(t, api.NewServer(newFakeSupervisor(), nil))
		code, out, _ := run(t, "ctl", "--api", addr, "deploy", "web", "web:v1", "--wait")
		if code != 0 || !strings.Contains(out, "unchanged") {
			t.Fatalf("exit %d output:\n%s", code, out)
		}
	})
	t.Run("wait json prints the final deployment", func(t *testing.T) {
		f := newFakeSupervisor()
		f.outcome = deploy.StatusRolledBack
		addr := startAPI(t, api.NewServer(f, nil))
		code, out, _ := run(t, "ctl", "--api", addr, "--json", "deploy", "web", "web:v2", "--wait")
		var d deploy.Deployment
		if err := json.Unmarshal([]byte(out), &d); err != nil || code != 1 || d.Status != deploy.StatusRolledBack {
			t.Fatalf("exit %d %v output:\n%s", code, err, out)
		}
	})
	t.Run("wait polls when the stream is unavailable", func(t *testing.T) {
		h := api.NewServer(newFakeSupervisor(), nil)
		mux := http.NewServeMux()
		mux.HandleFunc("/api/events/stream", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no streams here", http.StatusNotFound)
		})
		mux.Handle("/", h)
		addr := startAPI(t, mux)
		code, out, stderr := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		if code != 0 || !strings.Contains(stderr, "polling instead") || !strings.Contains(out, "pulling") || !strings.Contains(out, "completed in") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
		}
	})
	t.Run("wait timeout", func(t *testing.T) {
		f := newFakeSupervisor()
		f.outcome = "" // never ends
		addr := startAPI(t, api.NewServer(f, nil))
		code, _, stderr := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait", "--timeout", "300ms")
		if code != 1 || !strings.Contains(stderr, "deployment #2 is still running (health_checking) after 300ms") ||
			!strings.Contains(stderr, "bluegreen ctl events --app web --follow") {
			t.Fatalf("exit %d stderr %q", code, stderr)
		}
	})
}

func TestCtl_Watch(t *testing.T) {
	f := newFakeSupervisor()
	addr := startAPI(t, api.NewServer(f, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"ctl", "--api", addr, "watch"}, &out, &errb) }()

	waitFor(t, "the first table", func() bool { return strings.Contains(out.String(), "web") })
	waitFor(t, "the watch subscription", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.subs) == 1
	})
	f.mu.Lock()
	f.apps["web"].Status = deploy.AppDegraded
	f.mu.Unlock()
	f.emit(1, deploy.EventContainerUnhealthy, "blue unhealthy", nil)
	waitFor(t, "a redraw after the event", func() bool { return strings.Count(out.String(), "APP") == 2 })
	if s := out.String(); strings.Contains(s, "\x1b[") {
		t.Fatalf("ANSI codes on a non-terminal:\n%q", s)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d stderr %q", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end on cancel")
	}
	if tables := strings.Split(out.String(), "\n\n"); len(tables) != 2 || !strings.Contains(tables[1], "degraded") {
		t.Fatalf("tables:\n%s", out.String())
	}
}

func TestCtl_EventsFollow(t *testing.T) {
	f := newFakeSupervisor()
	addr := startAPI(t, api.NewServer(f, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"ctl", "--api", addr, "events", "--app", "web", "--follow", "--limit", "1"}, &out, &errb)
	}()
	waitFor(t, "the history", func() bool { return strings.Contains(out.String(), "event 1500") })
	f.mu.Lock()
	f.eventID = 2000
	f.mu.Unlock()
	f.emit(9, deploy.EventDeploymentStarted, "live one", nil)
	waitFor(t, "the live event", func() bool { return strings.Contains(out.String(), "#9  deployment.started  live one") })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d stderr %q", code, errb.String())
	}
}

func TestPrintFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"the server's error with its details",
			&api.ResponseError{Status: http.StatusBadRequest, Err: &deploy.Error{Code: deploy.EINVALIDCONFIG, Message: "the app configs are invalid: 2 problems",
				Details: []string{"web.yaml:3:1: bogus: unknown key", "api.yaml:1:1: name: required"}}},
			"error: the app configs are invalid: 2 problems\n  web.yaml:3:1: bogus: unknown key\n  api.yaml:1:1: name: required\n"},
		{"wrapped", fmt.Errorf("open event stream: %w", &api.ResponseError{Status: http.StatusConflict, Err: deploy.Errorf(deploy.ECONFLICT, "busy")}),
			"error: open event stream: busy\n"},
		{"not reached", &api.ConnError{Addr: "127.0.0.1:7070", Err: fmt.Errorf("connection refused")},
			"error: cannot reach bluegreen at 127.0.0.1:7070: is \"bluegreen serve\" running?\n"},
		{"any other", fmt.Errorf("decode answer: unexpected EOF"), "error: decode answer: unexpected EOF\n"},
		{"Ctrl-C", fmt.Errorf("read: %w", context.Canceled), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if code := printFailure(&b, tt.err); code != ExitFailed || b.String() != tt.want {
				t.Fatalf("exit %d printed %q, want %q", code, b.String(), tt.want)
			}
		})
	}
}
