package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/promtool"
	"github.com/bluegreen/bluegreen/internal/testsupport/scrape"
	"github.com/bluegreen/bluegreen/proxy"
)

// Families are the families of docs/metrics.md with their types.
var Families = map[string]string{
	"bluegreen_proxy_requests_total":           "counter",
	"bluegreen_proxy_request_duration_seconds": "histogram",
	"bluegreen_proxy_connections":              "gauge",
	"bluegreen_deployments_total":              "counter",
	"bluegreen_deployment_duration_seconds":    "histogram",
	"bluegreen_health_checks_total":            "counter",
	"bluegreen_health_check_duration_seconds":  "histogram",
	"bluegreen_app_status":                     "gauge",
	"bluegreen_images_removed_total":           "counter",
	// docs/traffic.md, "Metrics"
	"bluegreen_proxy_held_requests":      "gauge",
	"bluegreen_app_traffic":              "gauge",
	"bluegreen_access_log_dropped_total": "counter",
}

// gather encodes what r gathers in the text format, as GET /metrics does.
func gather(t *testing.T, r *Registry) *scrape.Scrape {
	t.Helper()
	fams, err := r.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return scrape.Parse(t, buf.Bytes())
}

func value(t *testing.T, s *scrape.Scrape, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.Value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in:\n%s", name, labels, s.Text)
	}
	return v
}

func event(app string, typ deploy.EventType, data map[string]any) deploy.Event {
	b, _ := json.Marshal(data)
	return deploy.Event{App: app, Type: typ, Data: b}
}

func TestRegistry(t *testing.T) {
	r := New()
	web, api := r.App("web"), r.App("api")
	if r.App("web") != web {
		t.Fatal("App made a second web")
	}

	// Requests, as the proxy counts them.
	for range 12 {
		web.Requests().Color(proxy.ColorBlue).Observe(200, 3*time.Millisecond)
	}
	web.Requests().Color(proxy.ColorBlue).Observe(502, 40*time.Millisecond)
	web.Requests().Color(proxy.ColorNone).Observe(503, 0)
	web.Requests().Color(proxy.ColorGreen).Observe(101, time.Millisecond)

	// Health checks and statuses, as the app actor counts them.
	web.HealthChecked(deploy.Blue, deploy.HealthCheck{Success: true, ResponseTimeMS: 1.5})
	web.HealthChecked(deploy.Blue, deploy.HealthCheck{Success: true, ResponseTimeMS: 0.5})
	web.HealthChecked(deploy.Green, deploy.HealthCheck{Success: false, ResponseTimeMS: 1000})
	web.SetStatus(deploy.AppStable)
	api.SetStatus(deploy.AppDegraded)

	// Deployments and images, from the audit trail.
	r.Record(event("web", deploy.EventDeploymentCompleted, map[string]any{"status": "completed", "duration_ms": 1500}))
	r.Record(event("web", deploy.EventDeploymentCompleted, map[string]any{"status": "completed", "duration_ms": 4000}))
	r.Record(event("web", deploy.EventDeploymentRolledBack, map[string]any{"status": "rolled_back", "duration_ms": 9000}))
	r.Record(event("web", deploy.EventDeploymentSuperseded, map[string]any{"status": "superseded"})) // no duration: counted only
	r.Record(event("web", deploy.EventDeploymentPhase, map[string]any{"phase": "pulling", "status": "pulling"}))
	r.Record(event("web", deploy.EventDeploymentStarted, map[string]any{"status": "pulling"}))
	r.Record(event("web", deploy.EventImageRemoved, map[string]any{"image": "web:v0"}))
	r.Record(event("web", deploy.EventImageRemoved, map[string]any{"image": "web:v1"}))
	r.Record(event("web", deploy.EventImageRemoveFailed, map[string]any{"image": "web:v2"}))
	r.Record(event("gone", deploy.EventImageRemoved, map[string]any{"image": "gone:v1"})) // not registered

	s := gather(t, r)
	promtool.CheckMetrics(t, s.Text)

	t.Run("families", func(t *testing.T) {
		for _, name := range s.Names() {
			if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
				continue
			}
			if Families[name] == "" {
				t.Errorf("family %s is not in docs/metrics.md", name)
			}
		}
		for name, typ := range Families {
			if got := s.Type(name); got != typ {
				t.Errorf("%s: type %q, want %q", name, got, typ)
			}
		}
		for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total"} {
			if s.Families[name] == nil {
				t.Errorf("no %s: the standard collectors are missing", name)
			}
		}
	})
	t.Run("requests", func(t *testing.T) {
		for _, c := range []struct {
			color, code string
			want        float64
		}{{"blue", "200", 12}, {"blue", "502", 1}, {"none", "503", 1}, {"green", "101", 1}} {
			if got := value(t, s, "bluegreen_proxy_requests_total", "app", "web", "color", c.color, "code", c.code); got != c.want {
				t.Errorf("%s %s: %v, want %v", c.color, c.code, got, c.want)
			}
		}
		if got := s.Series("bluegreen_proxy_requests_total", "app", "api"); len(got) != 0 {
			t.Errorf("api sent nothing, but has %v", got)
		}
		h := s.Histogram("bluegreen_proxy_request_duration_seconds", "app", "web", "color", "blue")
		if h.GetSampleCount() != 13 || h.GetSampleSum() < 0.075 || h.GetSampleSum() > 0.077 {
			t.Errorf("blue durations: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
		}
		for _, b := range h.GetBucket() {
			want := uint64(0)
			switch {
			case b.GetUpperBound() >= 0.05:
				want = 13
			case b.GetUpperBound() >= 0.005:
				want = 12
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("le %v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
		if s.Histogram("bluegreen_proxy_request_duration_seconds", "app", "api", "color", "green") == nil {
			t.Error("api has no green request histogram at 0")
		}
		if s.Histogram("bluegreen_proxy_request_duration_seconds", "app", "api", "color", "none") != nil {
			t.Error("api has a histogram of color none before any such request")
		}
	})
	t.Run("health checks", func(t *testing.T) {
		if got := value(t, s, "bluegreen_health_checks_total", "app", "web", "color", "blue", "result", "success"); got != 2 {
			t.Errorf("blue successes %v", got)
		}
		if got := value(t, s, "bluegreen_health_checks_total", "app", "web", "color", "green", "result", "failure"); got != 1 {
			t.Errorf("green failures %v", got)
		}
		if got := value(t, s, "bluegreen_health_checks_total", "app", "api", "color", "green", "result", "failure"); got != 0 {
			t.Errorf("api green failures %v", got)
		}
		h := s.Histogram("bluegreen_health_check_duration_seconds", "app", "web", "color", "blue")
		if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.002 {
			t.Errorf("blue check durations: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
		}
	})
	t.Run("deployments", func(t *testing.T) {
		for st, want := range map[string]float64{"completed": 2, "rolled_back": 1, "superseded": 1, "failed": 0, "interrupted": 0} {
			if got := value(t, s, "bluegreen_deployments_total", "app", "web", "status", st); got != want {
				t.Errorf("%s: %v, want %v", st, got, want)
			}
		}
		if h := s.Histogram("bluegreen_deployment_duration_seconds", "app", "web", "status", "completed"); h.GetSampleCount() != 2 || h.GetSampleSum() != 5.5 {
			t.Errorf("completed durations: %v", h)
		}
		if h := s.Histogram("bluegreen_deployment_duration_seconds", "app", "web", "status", "failed"); h != nil {
			t.Errorf("a histogram of failed deployments before any: %v", h)
		}
		if got := s.Series("bluegreen_deployments_total", "status", "pulling"); len(got) != 0 {
			t.Errorf("a running status counted: %v", got)
		}
	})
	t.Run("status", func(t *testing.T) {
		for _, app := range []string{"web", "api"} {
			sum := 0.0
			for _, st := range deploy.States {
				sum += value(t, s, "bluegreen_app_status", "app", app, "status", string(st))
			}
			if sum != 1 {
				t.Errorf("%s: %v statuses at 1", app, sum)
			}
		}
		if value(t, s, "bluegreen_app_status", "app", "web", "status", "stable") != 1 ||
			value(t, s, "bluegreen_app_status", "app", "api", "status", "degraded") != 1 {
			t.Errorf("statuses:\n%s", s.Series("bluegreen_app_status", "app", "web"))
		}
	})
	t.Run("images removed", func(t *testing.T) {
		if got := value(t, s, "bluegreen_images_removed_total", "app", "web"); got != 2 {
			t.Errorf("web: %v, want 2 (image.remove_failed is no removal)", got)
		}
		if got := value(t, s, "bluegreen_images_removed_total", "app", "api"); got != 0 {
			t.Errorf("api: %v", got)
		}
		if got := s.Series("bluegreen_images_removed_total", "app", "gone"); len(got) != 0 {
			t.Errorf("an app never registered: %v", got)
		}
	})
	t.Run("an app removed disappears", func(t *testing.T) {
		r.Remove("api")
		s := gather(t, r)
		for name := range Families {
			if got := s.Series(name, "app", "api"); len(got) != 0 {
				t.Errorf("%s still has api: %v", name, got)
			}
		}
		if _, ok := s.Value("bluegreen_app_status", "app", "web", "status", "stable"); !ok {
			t.Error("web went too")
		}
		if r.App("api") == api {
			t.Error("a removed app came back with its old counters")
		}
	})
}

func TestApp_status(t *testing.T) {
	r := New()
	a := r.App("web")
	if got := value(t, gather(t, r), "bluegreen_app_status", "app", "web", "status", "stopped"); got != 1 {
		t.Fatalf("before any status: stopped %v", got)
	}
	for _, st := range deploy.States {
		a.SetStatus(st)
		s := gather(t, r)
		for _, other := range deploy.States {
			want := 0.0
			if other == st {
				want = 1
			}
			if got := value(t, s, "bluegreen_app_status", "app", "web", "status", string(other)); got != want {
				t.Errorf("status %s: %s is %v", st, other, got)
			}
		}
	}
}

func TestApp_traffic(t *testing.T) {
	r := New()
	a := r.App("web")
	s := gather(t, r)
	if got := value(t, s, "bluegreen_app_traffic", "app", "web", "mode", "serving"); got != 1 {
		t.Fatalf("before any mode: serving %v", got)
	}
	if got := value(t, s, "bluegreen_proxy_held_requests", "app", "web"); got != 0 {
		t.Fatalf("held without a proxy: %v", got)
	}
	for _, m := range append(deploy.TrafficModes, "closed") {
		a.SetTraffic(m)
		s := gather(t, r)
		promtool.CheckMetrics(t, s.Text)
		for _, other := range deploy.TrafficModes {
			want := 0.0
			if other == m || (m == "closed" && other == deploy.TrafficServing) {
				want = 1
			}
			if got := value(t, s, "bluegreen_app_traffic", "app", "web", "mode", string(other)); got != want {
				t.Errorf("mode %s: %s is %v, want %v", m, other, got, want)
			}
		}
	}
}

// countingOutput is an access log output that dropped n records.
type countingOutput struct{ n uint64 }

func (c *countingOutput) Dropped() uint64 { return c.n }

func TestRegistry_SetAccessLog(t *testing.T) {
	r := New()
	if got := value(t, gather(t, r), "bluegreen_access_log_dropped_total"); got != 0 {
		t.Fatalf("without an access log: %v", got)
	}
	out := &countingOutput{n: 7}
	r.SetAccessLog(out)
	if got := value(t, gather(t, r), "bluegreen_access_log_dropped_total"); got != 7 {
		t.Fatalf("dropped = %v, want 7", got)
	}
	out.n = 9 // read at scrape time
	s := gather(t, r)
	if got := value(t, s, "bluegreen_access_log_dropped_total"); got != 9 {
		t.Fatalf("dropped = %v, want 9", got)
	}
	promtool.CheckMetrics(t, s.Text)
}

// TestApp_connections reads a real proxy's connections at scrape time: a
// request held by the upstream is open on blue.
func TestApp_connections(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	defer close(release)

	r := New()
	a := r.App("web")
	p := proxy.New(proxy.Options{App: "web", ListenAddress: "127.0.0.1", Stats: a.Requests(), Logger: slog.New(slog.DiscardHandler)})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	p.SetTarget(proxy.ColorBlue, strings.TrimPrefix(up.URL, "http://"))

	s := gather(t, r)
	if _, ok := s.Value("bluegreen_proxy_connections", "app", "web", "color", "blue", "kind", "http"); !ok {
		t.Fatal("no connections gauge before the app has a proxy")
	}
	a.SetProxy(p)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + p.Addr().String() + "/hold")
		if err == nil {
			io.Copy(io.Discard, resp.Body) // so that the connection stays open, idle
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := gather(t, r)
		if v, _ := s.Value("bluegreen_proxy_connections", "app", "web", "color", "blue", "kind", "http"); v == 1 {
			if v, _ := s.Value("bluegreen_proxy_connections", "app", "web", "color", "green", "kind", "http"); v != 0 {
				t.Fatalf("green http %v", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the held request is not an open blue connection:\n%s", s.Series("bluegreen_proxy_connections", "app", "web"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The answer is counted as the app's, through the proxy's Stats.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if v, _ := gather(t, r).Value("bluegreen_proxy_requests_total", "app", "web", "color", "blue", "code", "200"); v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the proxied answer was not counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The client's idle keep-alive connection is still an open one.
	if v, _ := gather(t, r).Value("bluegreen_proxy_connections", "app", "web", "color", "blue", "kind", "http"); v != 1 {
		t.Errorf("blue http connections with one idle keep-alive connection = %v, want 1", v)
	}
	tr.CloseIdleConnections()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if v, _ := gather(t, r).Value("bluegreen_proxy_connections", "app", "web", "color", "blue", "kind", "http"); v == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRegistry_labels checks the label names of each family.
func TestRegistry_labels(t *testing.T) {
	r := New()
	r.App("web").Requests().Color(proxy.ColorBlue).Observe(200, time.Millisecond)
	s := gather(t, r)
	want := map[string][]string{
		"bluegreen_proxy_requests_total":           {"app", "color", "code"},
		"bluegreen_proxy_request_duration_seconds": {"app", "color"},
		"bluegreen_proxy_connections":              {"app", "color", "kind"},
		"bluegreen_deployments_total":              {"app", "status"},
		"bluegreen_health_checks_total":            {"app", "color", "result"},
		"bluegreen_health_check_duration_seconds":  {"app", "color"},
		"bluegreen_app_status":                     {"app", "status"},
		"bluegreen_images_removed_total":           {"app"},
		"bluegreen_proxy_held_requests":            {"app"},
		"bluegreen_app_traffic":                    {"app", "mode"},
		"bluegreen_access_log_dropped_total":       nil,
	}
	for name, labels := range want {
		f := s.Families[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Errorf("no series of %s", name)
			continue
		}
		var got []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName())
		}
		slices.Sort(got)
		slices.Sort(labels)
		if !slices.Equal(got, labels) {
			t.Errorf("%s: labels %v, want %v", name, got, labels)
		}
	}
}

// TestApp_held reads a real paused proxy's held requests at scrape time.
func TestApp_held(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	r := New()
	a := r.App("web")
	p := proxy.New(proxy.Options{App: "web", ListenAddress: "127.0.0.1", Stats: a.Requests(), Logger: slog.New(slog.DiscardHandler)})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	p.SetTarget(proxy.ColorBlue, strings.TrimPrefix(up.URL, "http://"))
	a.SetProxy(p)
	p.Pause(time.Minute)
	a.SetTraffic(deploy.TrafficPaused)

	done := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{}}).Get("http://" + p.Addr().String() + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	held := func(want float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s := gather(t, r)
			if v, _ := s.Value("bluegreen_proxy_held_requests", "app", "web"); v == want {
				promtool.CheckMetrics(t, s.Text)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("held %s, want %v", s.Series("bluegreen_proxy_held_requests", "app", "web"), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	held(1)
	if v := value(t, gather(t, r), "bluegreen_app_traffic", "app", "web", "mode", "paused"); v != 1 {
		t.Fatalf("paused %v", v)
	}
	p.Resume()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	held(0)
}
