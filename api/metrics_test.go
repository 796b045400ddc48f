package api

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/promtool"
	"github.com/bluegreen/bluegreen/internal/testsupport/scrape"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/proxy"
)

// fakeMetrics is the registry of the fake backend: web stable and serving,
// api degraded.
func fakeMetrics() *metrics.Registry {
	r := metrics.New()
	web := r.App("web")
	web.SetStatus(deploy.AppStable)
	for range 3 {
		web.Requests().Color(proxy.ColorBlue).Observe(200, 2*time.Millisecond)
	}
	web.Requests().Color(proxy.ColorBlue).Observe(502, time.Millisecond)
	web.HealthChecked(deploy.Blue, deploy.HealthCheck{Success: true, ResponseTimeMS: 1})
	r.App("api").SetStatus(deploy.AppDegraded)
	return r
}

func (b *fakeBackend) Metrics() prometheus.Gatherer { return b.metrics }

func TestServer_Metrics(t *testing.T) {
	srv := httptest.NewServer(NewServer(newFakeBackend(), nil))
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	s := scrape.Get(t, client, srv.URL+"/metrics")
	promtool.CheckMetrics(t, s.Text)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bluegreen_proxy_requests_total", []string{"app", "web", "color", "blue", "code", "200"}, 3},
		{"bluegreen_proxy_requests_total", []string{"app", "web", "color", "blue", "code", "502"}, 1},
		{"bluegreen_app_status", []string{"app", "web", "status", "stable"}, 1},
		{"bluegreen_app_status", []string{"app", "api", "status", "degraded"}, 1},
		{"bluegreen_app_status", []string{"app", "api", "status", "stable"}, 0},
		{"bluegreen_health_checks_total", []string{"app", "web", "color", "blue", "result", "success"}, 1},
	} {
		if got, ok := s.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if s.Families["process_cpu_seconds_total"] == nil || s.Families["go_goroutines"] == nil {
		t.Error("no process_* or go_* metrics")
	}
	for _, gone := range []string{"bluegreen_apps", "bluegreen_deployment_duration_avg_ms", "bluegreen_deployment_duration_p95_ms", "bluegreen_deployment_success_ratio"} {
		if s.Families[gone] != nil {
			t.Errorf("the old %s is still exported", gone)
		}
	}

	t.Run("gzip when asked", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil || !strings.Contains(string(b), "bluegreen_app_status") {
			t.Fatalf("gzipped scrape: %v\n%.300s", err, b)
		}
	})
	t.Run("loopback Host only", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		req.Host = "metrics.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d for a foreign Host", resp.StatusCode)
		}
	})
}
