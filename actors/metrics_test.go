package actors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/promtool"
	"github.com/bluegreen/bluegreen/internal/testsupport/scrape"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// scrapeOf scrapes GET /metrics of sys through the management API.
func scrapeOf(t *testing.T, sys *System) *scrape.Scrape {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Host = "127.0.0.1:7070"
	rec := httptest.NewRecorder()
	api.NewServer(sys, nil).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return scrape.Parse(t, rec.Body.Bytes())
}

// metricValue returns a counter or gauge of a scrape; 0 when absent.
func metricValue(s *scrape.Scrape, name string, labels ...string) float64 {
	v, _ := s.Value(name, labels...)
	return v
}

// proxyGets sends n GETs to the app's proxy on port over one keep-alive
// connection, each of which must get want.
func proxyGets(t *testing.T, port, n, want int) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range n {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
}

// untilMetric waits until the scrape of u's System has name{labels} = want.
func (u *unit) untilMetric(want float64, name string, labels ...string) *scrape.Scrape {
	u.t.Helper()
	var s *scrape.Scrape
	deadline := time.Now().Add(unitWait)
	for {
		s = scrapeOf(u.t, u.sys)
		if v, _ := s.Value(name, labels...); v == want {
			return s
		}
		if time.Now().After(deadline) {
			v, ok := s.Value(name, labels...)
			u.t.Fatalf("%s%v = %v (present %v), want %v", name, labels, v, ok, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAppActor_Metrics runs requests, deployments of every ending and a
// broken upstream through a System over the fake runtime, and checks what
// GET /metrics says of them.
func TestAppActor_Metrics(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Docker.KeepImages = 1
	cfg.Proxy.OutageHold = 0 // the dead container's request gets its 502 at once (docs/traffic.md, "Outage hold")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.until("the pass after the first start", func() bool { return u.prunePasses(cfg.Name) == 1 })
	app := cfg.Name

	proxyGets(t, cfg.Ports.Proxy, 10, 200) // blue
	d2 := u.wait(u.deploy(app, "web:v2").DeploymentID)
	u.stable(app, "web:v2")
	proxyGets(t, cfg.Ports.Proxy, 4, 200) // green

	id := u.gated(app, "web:sick") // into blue, never healthy
	u.until("a failed check", func() bool {
		st := u.app(app)
		return st.Containers.Blue != nil && st.Containers.Blue.Health == deploy.Starting
	})
	u.clock.fire(gateTimeout)
	if d := u.wait(id); d.Status != deploy.StatusRolledBack {
		t.Fatalf("sick: %+v", d)
	}

	release := u.rt.hold("EnsureImage")
	v3 := u.deploy(app, "web:v3")
	sick := u.deploy(app, "web:sick")
	v1 := u.deploy(app, "web:v1") // supersedes the queued sick one
	if d := u.wait(sick.DeploymentID); d.Status != deploy.StatusSuperseded {
		t.Fatalf("queued: %+v", d)
	}
	release()
	for _, id := range []int64{v3.DeploymentID, v1.DeploymentID} {
		if d := u.wait(id); d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment %+v", d)
		}
	}
	u.stable(app, "web:v1") // in green
	u.until("the retention passes", func() bool { return u.prunePasses(app) == 4 })

	// The active container dies under the proxy: 502, counted as green's.
	u.rt.exit(app+"-green", 1, false)
	proxyGets(t, cfg.Ports.Proxy, 1, http.StatusBadGateway)

	s := u.untilMetric(1, "bluegreen_proxy_requests_total", "app", app, "color", "green", "code", "502")
	promtool.CheckMetrics(t, s.Text)

	if got := metricValue(s, "bluegreen_proxy_requests_total", "app", app, "color", "blue", "code", "200"); got != 10 {
		t.Errorf("blue 200: %v, want 10", got)
	}
	if got := metricValue(s, "bluegreen_proxy_requests_total", "app", app, "color", "green", "code", "200"); got != 4 {
		t.Errorf("green 200: %v, want 4", got)
	}
	if h := s.Histogram("bluegreen_proxy_request_duration_seconds", "app", app, "color", "green"); h.GetSampleCount() != 5 {
		t.Errorf("green request durations: %d, want 5", h.GetSampleCount())
	}
	for st, want := range map[deploy.Status]float64{deploy.StatusCompleted: 4, deploy.StatusRolledBack: 1,
		deploy.StatusSuperseded: 1, deploy.StatusFailed: 0, deploy.StatusInterrupted: 0} {
		if got := metricValue(s, "bluegreen_deployments_total", "app", app, "status", string(st)); got != want {
			t.Errorf("deployments %s: %v, want %v", st, got, want)
		}
		// Every ending carries its duration: the histogram counts as many.
		if h := s.Histogram("bluegreen_deployment_duration_seconds", "app", app, "status", string(st)); uint64(want) != h.GetSampleCount() {
			t.Errorf("deployment durations %s: %d, want %v", st, h.GetSampleCount(), want)
		}
	}
	completed := s.Histogram("bluegreen_deployment_duration_seconds", "app", app, "status", "completed")
	if min := float64(d2.DurationMS) / 1000; completed.GetSampleSum() < min {
		t.Errorf("completed durations sum %v, less than the second deployment's %v s", completed.GetSampleSum(), min)
	}

	// Health checks: blue passed (v1, v3), green passed. The sick
	// candidate in blue never passed: its failed checks are starting, not
	// failures (docs/metrics.md).
	if metricValue(s, "bluegreen_health_checks_total", "app", app, "color", "blue", "result", "failure") != 0 ||
		metricValue(s, "bluegreen_health_checks_total", "app", app, "color", "blue", "result", "success") == 0 ||
		metricValue(s, "bluegreen_health_checks_total", "app", app, "color", "green", "result", "success") == 0 {
		t.Errorf("health checks:\n%s", s.Series("bluegreen_health_checks_total", "app", app))
	}
	for _, color := range deploy.Colors {
		ok := metricValue(s, "bluegreen_health_checks_total", "app", app, "color", string(color), "result", "success")
		bad := metricValue(s, "bluegreen_health_checks_total", "app", app, "color", string(color), "result", "failure")
		if h := s.Histogram("bluegreen_health_check_duration_seconds", "app", app, "color", string(color)); float64(h.GetSampleCount()) != ok+bad {
			t.Errorf("%s: %d check durations for %v checks", color, h.GetSampleCount(), ok+bad)
		}
	}

	// Images removed: as many as the image.removed events.
	evs, err := u.sys.Events(context.Background(), app, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, e := range evs {
		if e.Type == deploy.EventImageRemoved {
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("keep_images 1 removed nothing: the test shows nothing")
	}
	if got := metricValue(s, "bluegreen_images_removed_total", "app", app); got != float64(removed) {
		t.Errorf("images removed %v, want %d (the image.removed events)", got, removed)
	}

	// The status gauge says what the API says.
	st := u.app(app).Status
	u.untilMetric(1, "bluegreen_app_status", "app", app, "status", string(st))
}

// TestAppActor_MetricsReload checks that the counters survive a reload that
// replaces the proxy, and that an app removed from the configs leaves
// /metrics.
func TestAppActor_MetricsReload(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	other := unitApp(t, "web:v2")
	u := newUnit(t, cfg, other)
	u.stable(cfg.Name, "web:v1")
	u.stable(other.Name, "web:v2")
	proxyGets(t, cfg.Ports.Proxy, 3, 200)
	u.untilMetric(3, "bluegreen_proxy_requests_total", "app", cfg.Name, "color", "blue", "code", "200")

	moved := *cfg
	moved.Ports.Proxy = testimage.FreePort(t)
	u.configs(nil, &moved, other)
	if res, err := u.sys.Reload(context.Background()); err != nil || len(res.Changed) != 1 {
		t.Fatalf("reload: %+v %v", res, err)
	}
	u.until("the new proxy port", func() bool { return u.serves(&moved) == "web:v1" })
	proxyGets(t, moved.Ports.Proxy, 2, 200)
	s := u.untilMetric(6, "bluegreen_proxy_requests_total", "app", cfg.Name, "color", "blue", "code", "200") // 3 + serves + 2
	if got := metricValue(s, "bluegreen_deployments_total", "app", cfg.Name, "status", "completed"); got != 1 {
		t.Errorf("the first start's deployment: %v", got)
	}

	u.configs(nil, other)
	if res, err := u.sys.Reload(context.Background()); err != nil || len(res.Removed) != 1 {
		t.Fatalf("reload: %+v %v", res, err)
	}
	s = scrapeOf(t, u.sys)
	promtool.CheckMetrics(t, s.Text)
	for _, name := range s.Names() {
		if got := s.Series(name, "app", cfg.Name); len(got) > 0 {
			t.Errorf("%s still has the removed app: %v", name, got)
		}
	}
	if metricValue(s, "bluegreen_app_status", "app", other.Name, "status", "stable") != 1 {
		t.Errorf("the other app:\n%s", s.Series("bluegreen_app_status", "app", other.Name))
	}
}

// TestAppActor_MetricsInterrupted counts the deployment a restart found
// unfinished, with its duration.
func TestAppActor_MetricsInterrupted(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	u.rt.image("web:v2", fakeImage{health: 500}, true)
	u.gated(cfg.Name, "web:v2")
	u.restart()
	s := u.untilMetric(1, "bluegreen_deployments_total", "app", cfg.Name, "status", "interrupted")
	if h := s.Histogram("bluegreen_deployment_duration_seconds", "app", cfg.Name, "status", "interrupted"); h.GetSampleCount() != 1 {
		t.Errorf("interrupted durations: %v", h)
	}
}
