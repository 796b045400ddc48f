package actors

import (
	"net/http"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestSystem_ZeroDowntimeUnderLoad runs 8 keep-alive clients through the proxy
// for the whole test while 20 consecutive deployments alternate between two
// versions: not one request may fail.
func TestSystem_ZeroDowntimeUnderLoad(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	p := startPoller(app.url("/"), 8)
	const deploys = 20
	start := time.Now()
	var durations []int64
	for i := 0; i < deploys; i++ {
		image := imgV2
		if i%2 == 1 {
			image = imgV1
		}
		d := h.deploy(app.name, image, deploy.TriggerAPI)
		if d.Status != deploy.StatusCompleted {
			p.halt()
			t.Fatalf("deploy %d of %s: %+v", i, image, d)
		}
		durations = append(durations, d.DurationMS)
	}
	// Keep the load on a moment after the last switch.
	time.Sleep(300 * time.Millisecond)
	p.halt()
	t.Logf("%d deployments in %s; %d requests, %d errors; bodies %v; durations ms %v",
		deploys, time.Since(start).Round(time.Millisecond), p.ok.Load()+p.failed.Load(), p.failed.Load(), p.bodies, durations)
	if p.failed.Load() != 0 {
		t.Fatalf("%d failed requests during the deployments: %v", p.failed.Load(), p.errs)
	}
	if p.bodies["v1"] == 0 || p.bodies["v2"] == 0 {
		t.Fatalf("both versions must have answered: %v", p.bodies)
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v1" {
		t.Fatalf("after the last deployment the proxy answered %q, %v; want v1", got, err)
	}
}
