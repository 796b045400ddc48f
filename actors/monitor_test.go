package actors

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

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

func TestMonitors_Ensure(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	id := p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	m := newAppMonitors(p.env)
	want := map[deploy.Color]healthTarget{deploy.Blue: {id: id, port: cfg.Ports.Blue}}
	ensure := func(want map[deploy.Color]healthTarget) { p.do(func(*actor.Context) { m.ensure(want) }) }

	ensure(want)
	if !m.watching(deploy.Blue) || m.watching(deploy.Green) {
		t.Fatal("ensure: blue must be checked, green not")
	}
	if res := sent[healthResult](p); res.color != deploy.Blue || res.containerID != id || !res.check.Success {
		t.Fatalf("the health actor reported %+v", res)
	}
	first := m.watches[deploy.Blue].pid
	ensure(want)
	if !m.watches[deploy.Blue].pid.Equals(first) {
		t.Fatal("ensure replaced a health actor that checks what it should")
	}
	changed := *cfg
	changed.HealthCheck.Path = "/"
	p.env.cfg = &changed
	ensure(want)
	if m.watches[deploy.Blue].pid.Equals(first) {
		t.Fatal("a changed health_check keeps the old health actor")
	}
	if _, ok := m.tally(deploy.Blue); !ok {
		t.Fatal("no tally of a checked color")
	}

	p.do(func(*actor.Context) { m.failed(m.watches[deploy.Blue].pid) })
	if m.watching(deploy.Blue) {
		t.Fatal("a failed health actor is kept")
	}
	ensure(want)
	ensure(nil)
	if m.watching(deploy.Blue) {
		t.Fatal("ensure(nil) keeps a health actor")
	}
	var dying []context.Context
	p.do(func(*actor.Context) { dying = append(dying, m.dying...) })
	for _, ctx := range dying {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a stopped health actor is not gone")
		}
	}
	p.do(func(*actor.Context) { m.waitGone() }) // all gone: it returns at once
	if len(m.dying) != 0 {
		t.Fatal("waitGone keeps health actors that are gone")
	}
}
