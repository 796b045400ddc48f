package actors

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/promtool"
	"github.com/bluegreen/bluegreen/internal/testsupport/scrape"
)

// TestSystem_Metrics scrapes GET /metrics of a System on the real Docker
// daemon after proxied requests, a completed deployment and a rolled back
// one, checks it with promtool, and checks the numbers.
func TestSystem_Metrics(t *testing.T) {
	buildImages(t)
	promtool.Require(t)
	a := newTestApp(t, imgV1)
	h := newHarness(t, a)
	h.waitStable(a.name, imgV1, 60*time.Second)

	proxyGets(t, a.proxy, 20, http.StatusOK) // blue
	resp, err := http.Post(a.url("/"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: %d, want the app's 405", resp.StatusCode)
	}
	if d := h.deploy(a.name, imgV2, deploy.TriggerAPI); d.Status != deploy.StatusCompleted {
		t.Fatalf("v2: %+v", d)
	}
	h.waitStable(a.name, imgV2, 30*time.Second)
	proxyGets(t, a.proxy, 5, http.StatusOK) // green
	if d := h.deploy(a.name, imgCrash, deploy.TriggerAPI); d.Status != deploy.StatusRolledBack {
		t.Fatalf("crash: %+v", d)
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var s *scrape.Scrape
	eventually(t, 10*time.Second, func() bool {
		s = scrape.Get(t, client, h.api.URL+"/metrics")
		v, _ := s.Value("bluegreen_proxy_requests_total", "app", a.name, "color", "green", "code", "200")
		return v == 5
	}, func() string { return string(s.Text) })
	out := promtool.CheckMetrics(t, s.Text)
	t.Logf("promtool check metrics: %q (%d families, %d bytes)", out, len(s.Families), len(s.Text))

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bluegreen_proxy_requests_total", []string{"color", "blue", "code", "200"}, 20},
		{"bluegreen_proxy_requests_total", []string{"color", "blue", "code", "405"}, 1},
		{"bluegreen_proxy_requests_total", []string{"color", "green", "code", "200"}, 5},
		{"bluegreen_deployments_total", []string{"status", "completed"}, 2}, // the first start and v2
		{"bluegreen_deployments_total", []string{"status", "rolled_back"}, 1},
		{"bluegreen_deployments_total", []string{"status", "failed"}, 0},
		{"bluegreen_app_status", []string{"status", "stable"}, 1},
		{"bluegreen_app_status", []string{"status", "deploying"}, 0},
		{"bluegreen_images_removed_total", nil, 0},
		{"bluegreen_proxy_connections", []string{"color", "blue", "kind", "websocket"}, 0},
	} {
		labels := append([]string{"app", a.name}, c.labels...)
		if got, ok := s.Value(c.name, labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, labels, got, ok, c.want)
		}
	}
	if h := s.Histogram("bluegreen_proxy_request_duration_seconds", "app", a.name, "color", "blue"); h.GetSampleCount() != 21 {
		t.Errorf("blue request durations: %d, want 21", h.GetSampleCount())
	}
	if h := s.Histogram("bluegreen_deployment_duration_seconds", "app", a.name, "status", "completed"); h.GetSampleCount() != 2 || h.GetSampleSum() <= 0 {
		t.Errorf("completed deployment durations: %v", h)
	}
	for _, color := range []string{"blue", "green"} {
		if v, _ := s.Value("bluegreen_health_checks_total", "app", a.name, "color", color, "result", "success"); v == 0 {
			t.Errorf("no passed health check of %s", color)
		}
		if h := s.Histogram("bluegreen_health_check_duration_seconds", "app", a.name, "color", color); h.GetSampleCount() == 0 || h.GetSampleSum() <= 0 {
			t.Errorf("%s health check durations: %v", color, h)
		}
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		if s.Families[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}
