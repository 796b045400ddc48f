package actors

import (
	"context"
	"slices"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestAppActor_ActiveHealth(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	blue := cfg.Name + "-blue"

	u.rt.setHealth(blue, 500)
	u.until("degraded after unhealthy_threshold failures", func() bool {
		st := u.app(cfg.Name)
		return st.Status == deploy.AppDegraded && st.Containers.Blue.Health == deploy.Unhealthy
	})
	h, err := u.sys.Health(context.Background(), cfg.Name, 50)
	if err != nil || h[deploy.Blue].Healthy || h[deploy.Blue].ConsecutiveFailures < 2 || h[deploy.Green].Status != deploy.NoContainer {
		t.Fatalf("health %+v, %v", h, err)
	}
	u.rt.setHealth(blue, 200)
	u.stable(cfg.Name, "web:v1")
	evs := u.events(cfg.Name)
	if !slices.Contains(evs, deploy.EventContainerUnhealthy) || countOf(evs, deploy.EventContainerHealthy) < 2 {
		t.Fatalf("events %v", evs)
	}
}
