package actors

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
)

// The failed checks of a container before its first pass are starting:
// not failures, not counted in the metrics; once it passed, a failure is
// one. A container that passed before (no starting window) fails at once.
func TestHealthActor_Starting(t *testing.T) {
	for _, tt := range []struct {
		name     string
		starting time.Duration
	}{{"a new container", time.Hour}, {"an adopted container", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			var status atomic.Int64
			status.Store(http.StatusServiceUnavailable)
			port := healthServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(int(status.Load()))
			})

			hc := config.HealthCheck{Path: "/health", Method: "GET", Timeout: time.Second, Interval: 5 * time.Millisecond,
				HealthyThreshold: 2, UnhealthyThreshold: 2}
			reg := metrics.New()
			rec := healthRecorder{app: "test", metrics: reg.App("test")}
			target := healthTarget{id: "c1", port: port, starting: tt.starting}
			results := spawnHealthActor(t, deploy.Blue, target, hc, rec, new(atomic.Int64), nil)
			next := func() healthResult {
				t.Helper()
				select {
				case r := <-results:
					return r
				case <-time.After(5 * time.Second):
					t.Fatal("no result")
				}
				return healthResult{}
			}

			for i := range 3 {
				r := next()
				if r.check.Success {
					t.Fatalf("check %d passed", i)
				}
				if starting := tt.starting > 0; r.check.Starting != starting || (r.failures == 0) != starting {
					t.Fatalf("check %d before the first pass: starting %v, failures %d; want starting %v", i, r.check.Starting, r.failures, starting)
				}
			}
			if counted := healthChecksCounted(t, reg); tt.starting > 0 && counted != 0 {
				t.Fatalf("%v starting checks counted in the metrics", counted)
			}
			status.Store(http.StatusOK)
			for r := next(); !r.check.Success; r = next() {
			}
			status.Store(http.StatusInternalServerError)
			r := next()
			for r.check.Success {
				r = next()
			}
			if r.check.Starting || r.failures != 1 {
				t.Fatalf("a failure after a pass: starting %v, failures %d", r.check.Starting, r.failures)
			}
		})
	}
}
