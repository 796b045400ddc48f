package actors

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestSystem_ActiveContainerTurnsUnhealthy makes the serving container fail
// its health checks: the app turns degraded with a container.unhealthy event,
// and stable again once the checks pass.
func TestSystem_ActiveContainerTurnsUnhealthy(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)

	setHealth := func(mode string) {
		t.Helper()
		resp, err := http.Post(app.url("/admin/health?mode="+mode), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("set health %s: %d", mode, resp.StatusCode)
		}
	}
	setHealth("fail")
	var st deploy.AppStatus
	eventually(t, 10*time.Second, func() bool {
		st = h.status(app.name)
		return st.Status == deploy.AppDegraded && st.Containers.Blue != nil && st.Containers.Blue.Health == "unhealthy"
	}, func() string { return "status " + string(st.Status) })
	events, err := h.sys.Events(context.Background(), app.name, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e.Type == deploy.EventContainerUnhealthy
	}
	if !found {
		t.Fatalf("no %s event in %+v", deploy.EventContainerUnhealthy, events)
	}
	health, err := h.sys.Health(context.Background(), app.name, 5)
	if err != nil || health[deploy.Blue].Healthy || health[deploy.Blue].ConsecutiveFailures < 2 || len(health[deploy.Blue].Checks) == 0 {
		t.Fatalf("health = %+v, %v", health, err)
	}

	setHealth("ok")
	h.waitStable(app.name, imgV1, 10*time.Second)
	if st := h.status(app.name); st.Containers.Blue.Health != "healthy" {
		t.Fatalf("blue health after recovery = %s", st.Containers.Blue.Health)
	}
}
