package actors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/proxy"
)

// setTraffic asks the System for change and returns the app's status.
func (u *unit) setTraffic(app string, change deploy.TrafficChange) (deploy.AppStatus, error) {
	u.t.Helper()
	return u.sys.SetTraffic(context.Background(), app, change)
}

// trafficData returns the data of the app's newest event of type typ.
func (u *unit) trafficData(app string, typ deploy.EventType) map[string]any {
	u.t.Helper()
	evs, err := u.sys.Events(context.Background(), app, 0, 1000)
	if err != nil {
		u.t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			var data map[string]any
			if err := json.Unmarshal(evs[i].Data, &data); err != nil {
				u.t.Fatal(err)
			}
			return data
		}
	}
	u.t.Fatalf("no %s event of %s in %v", typ, app, u.events(app))
	return nil
}

func TestAppActor_Traffic(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	pause := func(d time.Duration) deploy.TrafficChange {
		return deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: d}
	}

	st, err := u.setTraffic(cfg.Name, pause(45*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if tr := st.Traffic; tr.Mode != deploy.TrafficPaused || tr.MaxWaitMS != 45000 || tr.Since == nil || tr.Held != 0 || st.Stats.Deployments != 1 {
		t.Fatalf("after a pause: traffic %+v, stats %+v", tr, st.Stats)
	}
	if data := u.trafficData(cfg.Name, deploy.EventTrafficPaused); data["from"] != "serving" || data["max_wait_ms"] != 45000.0 {
		t.Fatalf("traffic.paused data %v", data)
	}
	stored, err := u.st.Traffic(context.Background(), cfg.Name)
	if err != nil || stored.Mode != deploy.TrafficPaused || stored.MaxWait != 45*time.Second {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if v := metricValue(scrapeOf(t, u.sys), "bluegreen_app_traffic", "app", cfg.Name, "mode", "paused"); v != 1 {
		t.Fatalf("bluegreen_app_traffic{mode=paused} = %v", v)
	}

	t.Run("a pause again sets max_wait", func(t *testing.T) {
		st, err := u.setTraffic(cfg.Name, pause(10*time.Second))
		if err != nil || st.Traffic.MaxWaitMS != 10000 {
			t.Fatalf("%+v, %v", st.Traffic, err)
		}
		if data := u.trafficData(cfg.Name, deploy.EventTrafficPaused); data["from"] != "paused" || data["max_wait_ms"] != 10000.0 {
			t.Fatalf("traffic.paused data %v", data)
		}
	})
	t.Run("deployments go on while paused", func(t *testing.T) {
		d := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
		if d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment while paused: %+v", d)
		}
		if st := u.stable(cfg.Name, "web:v2"); st.Traffic.Mode != deploy.TrafficPaused || st.ActiveColor != deploy.Green {
			t.Fatalf("after the deployment: %+v", st)
		}
	})
	t.Run("maintenance, then resume", func(t *testing.T) {
		st, err := u.setTraffic(cfg.Name, deploy.TrafficChange{Mode: deploy.TrafficMaintenance, Message: "back at 10", RetryAfter: 2 * time.Minute})
		if err != nil || st.Traffic.Mode != deploy.TrafficMaintenance || st.Traffic.Message != "back at 10" || st.Traffic.RetryAfterMS != 120000 || st.Traffic.MaxWaitMS != 0 {
			t.Fatalf("%+v, %v", st.Traffic, err)
		}
		data := u.trafficData(cfg.Name, deploy.EventTrafficMaintenance)
		if data["from"] != "paused" || data["message"] != "back at 10" || data["retry_after_ms"] != 120000.0 || data["held"] != 0.0 {
			t.Fatalf("traffic.maintenance data %v", data)
		}
		st, err = u.setTraffic(cfg.Name, deploy.Resume())
		if err != nil || st.Traffic.Mode != deploy.TrafficServing || st.Traffic.Message != "" {
			t.Fatalf("%+v, %v", st.Traffic, err)
		}
		if data := u.trafficData(cfg.Name, deploy.EventTrafficResumed); data["from"] != "maintenance" || data["held"] != 0.0 {
			t.Fatalf("traffic.resumed data %v", data)
		}
		n := len(u.events(cfg.Name))
		if st, err := u.setTraffic(cfg.Name, deploy.Resume()); err != nil || st.Traffic.Mode != deploy.TrafficServing {
			t.Fatalf("a resume of a serving app: %+v, %v", st.Traffic, err)
		}
		if got := len(u.events(cfg.Name)); got != n {
			t.Fatalf("a resume of a serving app recorded %d events", got-n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		if _, err := u.setTraffic("nope", pause(time.Minute)); deploy.ErrorCode(err) != deploy.ENOTFOUND {
			t.Fatalf("an unknown app: %v", err)
		}
		for _, c := range []deploy.TrafficChange{{Mode: "closed"}, pause(0), pause(time.Hour), pause(-time.Second)} {
			if _, err := u.setTraffic(cfg.Name, c); deploy.ErrorCode(err) != deploy.EINVALID {
				t.Fatalf("%+v: %v", c, err)
			}
		}
		if st := u.app(cfg.Name); st.Traffic.Mode != deploy.TrafficServing {
			t.Fatalf("a refused change changed the mode: %+v", st.Traffic)
		}
	})
}

// The mode is stored: a restarted supervisor starts paused, its proxy
// holding from its first request.
func TestAppActor_TrafficSurvivesRestart(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	if _, err := u.setTraffic(cfg.Name, deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	u.restart()
	st := u.stable(cfg.Name, "web:v1")
	if st.Traffic.Mode != deploy.TrafficPaused || st.Traffic.MaxWaitMS != 120000 || st.Traffic.Since == nil {
		t.Fatalf("after the restart: %+v", st.Traffic)
	}
	if v := metricValue(scrapeOf(t, u.sys), "bluegreen_app_traffic", "app", cfg.Name, "mode", "paused"); v != 1 {
		t.Fatalf("bluegreen_app_traffic{mode=paused} after the restart = %v", v)
	}
	if _, err := u.setTraffic(cfg.Name, deploy.Resume()); err != nil {
		t.Fatal(err)
	}
	u.restart()
	if st := u.stable(cfg.Name, "web:v1"); st.Traffic.Mode != deploy.TrafficServing || st.Traffic.Since == nil {
		t.Fatalf("after a resume and a restart: %+v", st.Traffic)
	}
}

// While an upgrade hands over, a traffic change is refused: the new process
// reads the mode when it starts.
func TestAppActor_TrafficRefusedDuringUpgrade(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := u.sys.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := u.setTraffic(cfg.Name, deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: time.Minute})
	if !errors.Is(err, errBusy) {
		t.Fatalf("during an upgrade: %v", err)
	}
	u.sys.Resume() // the app actors hear it a moment later
	u.until("a pause taken after the upgrade's pause", func() bool {
		_, err := u.setTraffic(cfg.Name, deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: time.Minute})
		return err == nil
	})
}

// The listener tells each proxy it starts the traffic mode before it
// listens, and the colors that are down.
func TestListener_Traffic(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	cfg.Proxy.MaintenanceHTML = []byte("<p>{{message}}</p>")
	p := newPartEnv(t, cfg)
	l := &proxyListener{env: p.env}
	if n := l.setTraffic(deploy.TrafficChange{Mode: deploy.TrafficPaused, MaxWait: 20 * time.Second}.State(time.Now())); n != 0 {
		t.Fatalf("a pause before the proxy listened answered %d", n)
	}
	if !l.start() {
		t.Fatal(l.failure())
	}
	defer l.close(false)
	if tr := l.proxy.Traffic(); tr.Mode != proxy.ModePaused || tr.MaxWait != 20*time.Second {
		t.Fatalf("the new proxy: %+v", tr)
	}
	l.containerDown(deploy.Blue)
	l.containerDown(deploy.Blue) // once is enough

	// A config change that moves the proxy: the new one is told too.
	moved := *cfg
	moved.Ports.Proxy = unitApp(t, "web:v1").Ports.Proxy
	p.env.cfg = &moved
	if !l.start() {
		t.Fatal(l.failure())
	}
	if tr := l.proxy.Traffic(); tr.Mode != proxy.ModePaused {
		t.Fatalf("the moved proxy: %+v", tr)
	}
	downAt, down := l.down[deploy.Blue]
	if !down {
		t.Fatal("blue is no longer known to be down")
	}
	l.containerHealthy(deploy.Blue, downAt.Add(-time.Millisecond)) // a check from before: it passed before the container died
	if _, down := l.down[deploy.Blue]; !down {
		t.Fatal("a check that began before the container was down ended the hold")
	}
	l.containerHealthy(deploy.Blue, time.Now())
	if _, down := l.down[deploy.Blue]; down {
		t.Fatal("blue is still down after it passed a check")
	}

	l.setTraffic(deploy.TrafficChange{Mode: deploy.TrafficMaintenance, Message: "soon", RetryAfter: time.Minute}.State(time.Now()))
	if tr := l.proxy.Traffic(); tr.Mode != proxy.ModeMaintenance || tr.Message != "soon" || tr.RetryAfter != time.Minute {
		t.Fatalf("maintenance: %+v", tr)
	}
	// A reload with other settings: the proxy takes them, the
	// maintenance the new page.
	reloaded := moved
	reloaded.Proxy.OutageHold, reloaded.Proxy.MaintenanceHTML = 0, []byte("<h1>{{message}}</h1>")
	p.env.cfg = &reloaded
	l.configure(&moved)
	if tr := l.proxy.Traffic(); tr.Mode != proxy.ModeMaintenance || tr.Message != "soon" {
		t.Fatalf("maintenance after a reload: %+v", tr)
	}
	l.setTraffic(deploy.Resume().State(time.Now()))
	if tr := l.proxy.Traffic(); tr.Mode != proxy.ModeServing {
		t.Fatalf("resumed: %+v", tr)
	}
	if settingsOf(&reloaded).OutageHold != 0 || settingsOf(cfg).OutageHold != 10*time.Second || !settingsOf(cfg).AccessLog {
		t.Fatalf("settings %+v", settingsOf(cfg))
	}
}

// The proxy is told the active container is down when Docker says it does
// not run or sends it a signal that ends it, and not when nothing is known
// of it yet.
func TestAppActor_FollowOutage(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	a := &appActor{env: p.env, containers: newAppContainers(p.env), record: appRecord{env: p.env}, listener: proxyListener{env: p.env}}
	p.do(func(*actor.Context) {
		a.record.load(context.Background())
		if _, err := a.record.switchTo(deploy.Blue, "web:v1"); err != nil {
			t.Fatal(err)
		}
		a.containers.assume(deploy.Blue, "web:v1") // unknown until Docker answers
		a.followOutage()
	})
	if _, down := a.listener.down[deploy.Blue]; down {
		t.Fatal("down before Docker said anything")
	}
	id := p.runContainer(&a.containers, deploy.Blue, "web:v1", 1, true)
	p.adopted(&a.containers)
	p.do(func(*actor.Context) { a.followOutage() })
	if _, down := a.listener.down[deploy.Blue]; down {
		t.Fatal("down while it runs")
	}
	// docker kill: its kill event (the die event follows) puts the hold on.
	p.do(func(*actor.Context) { a.onKill(deploy.Blue, "1") }) // SIGHUP: it lives on
	if _, down := a.listener.down[deploy.Blue]; down {
		t.Fatal("down after a SIGHUP")
	}
	p.do(func(*actor.Context) { a.onKill(deploy.Blue, "9") })
	if _, down := a.listener.down[deploy.Blue]; !down {
		t.Fatal("not down after a SIGKILL")
	}
	p.do(func(*actor.Context) { a.listener.containerHealthy(deploy.Blue, time.Now()) })
	p.rt.kill(cfg.Name + "-blue")
	p.do(func(*actor.Context) {
		a.containers.died(deploy.Blue)
		a.followOutage()
	})
	if _, down := a.listener.down[deploy.Blue]; !down {
		t.Fatalf("container %s exited, the proxy was not told", id)
	}
	if strings.Contains(string(a.containers.slots[deploy.Blue].state), "running") || slices.Contains([]string{"", stateUnknown}, a.containers.slots[deploy.Blue].state) {
		t.Fatalf("state %q", a.containers.slots[deploy.Blue].state)
	}
}

// While the app's proxy holds requests (eager), a health actor sends every
// passed check: the outage hold releases at the next one, not at a
// heartbeat.
func TestHealthActor_EagerWhileHolding(t *testing.T) {
	port := healthServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	hc := config.HealthCheck{Path: "/health", Method: "GET", Timeout: time.Second, Interval: 2 * time.Millisecond, HealthyThreshold: 2}
	tally := new(atomic.Int64)
	var holding atomic.Bool
	results := spawnHealthActor(t, deploy.Blue, healthTarget{id: "c1", port: port}, hc, healthRecorder{app: "test"}, tally, holding.Load)

	// count drains the results sent while the tally grew by n passes.
	count := func(n int64) (sent int, passes int64) {
		start := tally.Load()
		deadline := time.Now().Add(10 * time.Second)
		for tally.Load() < start+n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		for len(results) > 0 {
			<-results
			sent++
		}
		return sent, tally.Load() - start
	}
	count(3 * heartbeatChecks) // past healthy_threshold
	if sent, passes := count(3 * heartbeatChecks); sent > int(passes)/heartbeatChecks+2 {
		t.Fatalf("not holding: %d results for %d passes", sent, passes)
	}
	holding.Store(true)
	count(1) // a check that began before the switch may still be sent alone
	if sent, passes := count(2 * heartbeatChecks); int64(sent) < passes-2 {
		t.Fatalf("holding: %d results for %d passes, want each", sent, passes)
	}
}

func TestEndsContainer(t *testing.T) {
	for sig, want := range map[string]bool{"9": true, "15": true, "SIGKILL": true, "KILL": true, "sigterm": true, "TERM": true,
		"1": false, "HUP": false, "SIGUSR1": false, "": false, "10": false} {
		if got := endsContainer(sig); got != want {
			t.Errorf("endsContainer(%q) = %v, want %v", sig, got, want)
		}
	}
}
