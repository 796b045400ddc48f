package actors

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
)

// healthChecksCounted is the sum of bluegreen_health_checks_total.
func healthChecksCounted(t *testing.T, reg *metrics.Registry) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range fams {
		if f.GetName() == "bluegreen_health_checks_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func TestHealthActor(t *testing.T) {
	var status atomic.Int64
	status.Store(200)
	port := healthServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Header.Get("User-Agent") != "bluegreen-health" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		code := int(status.Load())
		if code == 0 { // hang: longer than the check's timeout
			time.Sleep(200 * time.Millisecond)
			code = http.StatusOK
		}
		w.WriteHeader(code)
	})

	hc := config.HealthCheck{Path: "/health", Method: "GET", Timeout: 50 * time.Millisecond, Interval: 5 * time.Millisecond,
		ExpectedStatus: []int{200, 204}, HealthyThreshold: 2}
	reg := metrics.New()
	rec := healthRecorder{app: "test", metrics: reg.App("test")}
	tally := new(atomic.Int64)
	results := spawnHealthActor(t, deploy.Green, healthTarget{id: "c1", port: port}, hc, rec, tally, nil)

	next := func(what string, ok func(deploy.HealthCheck) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case r := <-results:
				if r.color != deploy.Green || r.containerID != "c1" {
					t.Fatalf("result of %s %s", r.color, r.containerID)
				}
				if ok(r.check) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s", what)
			}
		}
	}
	next("pass", func(c deploy.HealthCheck) bool { return c.Success && c.StatusCode == 200 && c.Error == "" })

	// Past healthy_threshold passes in a row, a pass is sent only as every
	// heartbeatChecks-th check; every check is counted all the same.
	deadline := time.Now().Add(5 * time.Second)
	for tally.Load() < 4*heartbeatChecks && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := tally.Load(); n < 4*heartbeatChecks {
		t.Fatalf("%d passes in a row after 5 s", n)
	}
	sent := 1 // the one read above
	for len(results) > 0 {
		if r := <-results; !r.check.Success || r.failures != 0 {
			t.Fatalf("while passing: %+v", r)
		}
		sent++
	}
	passes := tally.Load() // no fewer than made when those were sent
	if maxSent := hc.HealthyThreshold + int(passes)/heartbeatChecks + 2; sent > maxSent {
		t.Fatalf("%d results sent for %d passes in a row, want at most %d", sent, passes, maxSent)
	}
	if n := healthChecksCounted(t, reg); n < float64(passes) {
		t.Fatalf("%v checks counted, %d passes in a row made", n, passes)
	}

	status.Store(204)
	next("pass of an expected 204", func(c deploy.HealthCheck) bool { return c.Success && c.StatusCode == 204 })
	status.Store(500)
	next("failure", func(c deploy.HealthCheck) bool { return !c.Success && c.Error == "status 500" })
	status.Store(0)
	next("timeout", func(c deploy.HealthCheck) bool { return !c.Success && c.Error == "no answer within 50ms" })
}

// healthServer serves handler on 127.0.0.1 until the test ends and
// returns its port.
func healthServer(t *testing.T, handler http.HandlerFunc) int {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	_, portText, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// spawnHealthActor runs a health actor of color checking target, under a
// parent that passes its results on to the channel it returns; both stop
// when the test ends.
func spawnHealthActor(t *testing.T, color deploy.Color, target healthTarget, hc config.HealthCheck, rec healthRecorder,
	tally *atomic.Int64, eager func() bool) <-chan healthResult {
	t.Helper()
	eng, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan healthResult, 1000)
	parent := eng.SpawnFunc(func(c *actor.Context) {
		switch msg := c.Message().(type) {
		case actor.Started:
			c.SpawnChild(newHealthActor(color, target, hc, rec, tally, eager), "health", actor.WithID(string(color)+"-1"))
		case healthResult:
			results <- msg
		}
	}, "app", actor.WithID("test"))
	t.Cleanup(func() { <-eng.Poison(parent).Done() })
	return results
}
