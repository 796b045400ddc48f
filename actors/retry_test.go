package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// The retry of a deployment that failed while nothing served (retry.go),
// over the fake runtime: the unit starts with no app, the test sets the
// failures, then adds the app (a reload), whose first start meets them.

// addApp adds cfg to the unit's configs and reloads: its first start begins.
func (u *unit) addApp(cfg *config.App) {
	u.t.Helper()
	cfgs, _ := u.load()
	u.configs(nil, append(cfgs, cfg)...)
	if _, err := u.sys.Reload(context.Background()); err != nil {
		u.t.Fatal(err)
	}
}

// retryEvent is the data of a deployment.retry_scheduled event.
type retryEvent struct {
	DeploymentID  int64
	Status        deploy.Status  `json:"status"`
	Image         string         `json:"image"`
	TriggerSource deploy.Trigger `json:"trigger_source"`
	Attempt       int            `json:"attempt"`
	DelayMS       int64          `json:"delay_ms"`
	Error         string         `json:"error"`
}

// retries returns the app's deployment.retry_scheduled events, oldest first.
func (u *unit) retries(app string) []retryEvent {
	u.t.Helper()
	evs, err := u.sys.Events(context.Background(), app, 0, 1000)
	if err != nil {
		u.t.Fatal(err)
	}
	var out []retryEvent
	for _, e := range evs {
		if e.Type != deploy.EventDeploymentRetryScheduled {
			continue
		}
		var r retryEvent
		if err := json.Unmarshal(e.Data, &r); err != nil {
			u.t.Fatal(err)
		}
		if e.DeploymentID != nil {
			r.DeploymentID = *e.DeploymentID
		}
		out = append(out, r)
	}
	return out
}

// history returns the app's deployments, oldest first, once n of them ended.
func (u *unit) history(app string, n int) []deploy.Deployment {
	u.t.Helper()
	var hist []deploy.Deployment
	u.until(fmt.Sprintf("%d deployments of %s ended", n, app), func() bool {
		var err error
		hist, err = u.sys.History(context.Background(), app, 100, 0)
		if err != nil || len(hist) != n {
			return false
		}
		for _, d := range hist {
			if !d.Status.Final() {
				return false
			}
		}
		return true
	})
	slices.Reverse(hist)
	return hist
}

// startTimeout is Docker's answer to a start that ran out of its time.
var startTimeout = fmt.Errorf("start container u-blue: %w", context.DeadlineExceeded)

// TestDeployRetry_firstStartRecovers: a first start that Docker fails (a
// start that timed out, Docker unreachable, a start it refused) is deployed
// again after 2 s, 4 s, 8 s until it serves; each retry is a new deployment
// of the config's image with trigger config, said by an event; then the
// backoff starts over.
func TestDeployRetry_firstStartRecovers(t *testing.T) {
	u := newUnit(t)
	cfg := unitApp(t, "web:v1")
	u.rt.failNext("Start", startTimeout)
	u.addApp(cfg)

	hist := u.history(cfg.Name, 1)
	if hist[0].Status != deploy.StatusFailed || !strings.Contains(hist[0].Error, "deadline exceeded") {
		t.Fatalf("first start %+v", hist[0])
	}
	u.until("the first retry scheduled", func() bool { return u.clock.pending(2*time.Second) == 1 })
	st := u.app(cfg.Name)
	if st.Status != deploy.AppFailed || !strings.Contains(st.Error, fmt.Sprintf("deployment %d failed", hist[0].DeploymentID)) ||
		!strings.Contains(st.Error, "retry 1 at") || st.DesiredImage != "web:v1" {
		t.Fatalf("status while the retry waits: %+v", st)
	}

	// Docker unreachable at the second try, a refused start at the third.
	u.rt.failNext("EnsureImage", &dockerDown{})
	u.clock.fire(2 * time.Second)
	u.history(cfg.Name, 2)
	u.until("the second retry scheduled", func() bool { return u.clock.pending(4*time.Second) == 1 })
	u.rt.failNext("Start", fmt.Errorf("start container u-blue: driver failed programming external connectivity"))
	u.clock.fire(4 * time.Second)
	u.history(cfg.Name, 3)
	u.until("the third retry scheduled", func() bool { return u.clock.pending(8*time.Second) == 1 })
	u.clock.fire(8 * time.Second)
	hist = u.history(cfg.Name, 4)
	u.stable(cfg.Name, "web:v1")
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("the proxy answered %q", got)
	}

	for i, d := range hist {
		want := deploy.StatusFailed
		if i == 3 {
			want = deploy.StatusCompleted
		}
		if d.Status != want || d.ToImage != "web:v1" || d.TriggerSource != deploy.TriggerConfig {
			t.Errorf("deployment %d: %+v", i, d)
		}
	}
	rs := u.retries(cfg.Name)
	if len(rs) != 3 {
		t.Fatalf("retry events %+v", rs)
	}
	for i, r := range rs {
		if r.DeploymentID != hist[i].DeploymentID || r.Attempt != i+1 || r.DelayMS != (2000<<i) || r.Image != "web:v1" ||
			r.Status != deploy.StatusFailed || r.TriggerSource != deploy.TriggerConfig || r.Error != hist[i].Error {
			t.Errorf("retry event %d: %+v (deployment %+v)", i, r, hist[i])
		}
	}
	if u.clock.pending(2*time.Second)+u.clock.pending(16*time.Second) != 0 {
		t.Fatal("a retry waits after the app serves")
	}

	t.Run("the backoff starts over", func(t *testing.T) { backoffStartsOver(t, u, cfg) })
}

// backoffStartsOver: once the app served, a failure while it serves is not
// retried; one while nothing serves is, from 2 s again.
func backoffStartsOver(t *testing.T, u *unit, cfg *config.App) {
	u.rt.failNext("Start", startTimeout)
	d := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
	if d.Status != deploy.StatusFailed {
		t.Fatalf("deployment %+v", d)
	}
	if n := len(u.retries(cfg.Name)); n != 3 {
		t.Fatalf("a failure while the app serves was retried (%d retry events)", n)
	}
	u.rt.setQuiet(true) // the active container removed unseen: the reconcile finds it gone (no revival)
	if err := u.rt.Remove(context.Background(), cfg.Name+"-blue"); err != nil {
		t.Fatal(err)
	}
	u.rt.setQuiet(false)
	u.tick(cfg.Name)
	u.until("the active container gone", func() bool {
		return strings.Contains(u.app(cfg.Name).Error, "is gone")
	})
	u.rt.failNext("Start", startTimeout)
	d = u.wait(u.deploy(cfg.Name, "").DeploymentID) // ctl deploy APP: the current image again
	if d.Status != deploy.StatusFailed {
		t.Fatalf("redeploy %+v", d)
	}
	u.until("a retry from 2 s again", func() bool { return u.clock.pending(2*time.Second) == 1 })
	if rs := u.retries(cfg.Name); rs[len(rs)-1].Attempt != 1 || rs[len(rs)-1].TriggerSource != deploy.TriggerS3dock {
		t.Fatalf("retry events %+v", rs)
	}
	u.clock.fire(2 * time.Second)
	if st := u.stable(cfg.Name, "web:v1"); st.ActiveColor != deploy.Green {
		t.Fatalf("after the retry %+v", st)
	}
}

// TestDeployRetry_backoffCapped: the wait doubles up to a minute, and stays
// there.
func TestDeployRetry_backoffCapped(t *testing.T) {
	u := newUnit(t)
	cfg := unitApp(t, "web:v1")
	u.rt.failNext("Start", startTimeout)
	u.addApp(cfg)
	for i, wait := range []time.Duration{2, 4, 8, 16, 32, 60, 60} {
		wait *= time.Second
		u.until(fmt.Sprintf("retry %d in %s", i+1, wait), func() bool { return u.clock.pending(wait) == 1 })
		u.rt.failNext("Start", startTimeout)
		u.clock.fire(wait)
		u.history(cfg.Name, i+2)
	}
	u.until("retry 8 in 1m", func() bool { return u.clock.pending(time.Minute) == 1 })
	if rs := u.retries(cfg.Name); len(rs) != 8 || rs[7].Attempt != 8 || rs[7].DelayMS != 60_000 {
		t.Fatalf("retry events %+v", rs)
	}
}

// TestDeployRetry_badImageNotRetried: a first start that rolled back (an
// image that fails its health checks, or exits at once) or whose image is
// missing stays failed: no retry.
func TestDeployRetry_badImageNotRetried(t *testing.T) {
	u := newUnit(t)
	u.rt.image("web:crash", fakeImage{exits: true}, true)
	for _, c := range []struct {
		image  string
		status deploy.Status
	}{
		{"web:sick", deploy.StatusRolledBack},
		{"web:crash", deploy.StatusRolledBack},
		{"web:nope", deploy.StatusFailed},
	} {
		t.Run(c.image, func(t *testing.T) {
			cfg := unitApp(t, c.image)
			u.addApp(cfg)
			if c.image == "web:sick" {
				u.until("the gate", func() bool { return u.clock.pending(gateTimeout) == 1 })
				u.clock.fire(gateTimeout)
			}
			d := u.history(cfg.Name, 1)[0]
			if d.Status != c.status {
				t.Fatalf("first start %+v", d)
			}
			u.until("failed", func() bool {
				st := u.app(cfg.Name)
				return st.Status == deploy.AppFailed && strings.Contains(st.Error, "deploy an image")
			})
			if rs := u.retries(cfg.Name); len(rs) != 0 {
				t.Fatalf("retried: %+v", rs)
			}
			if st := u.app(cfg.Name); st.DesiredImage != "" {
				t.Fatalf("a failed image stays desired: %+v", st)
			}
		})
	}
	if n := u.clock.pending(retryFirst); n != 0 {
		t.Fatalf("%d retries wait", n)
	}
}

// TestDeployRetry_cancelled: a newer request, a removal of the app's config
// or a restart of serve leaves no retry waiting; a pause holds it and its
// end makes it due at once.
func TestDeployRetry_cancelled(t *testing.T) {
	t.Run("a deploy request", func(t *testing.T) {
		u := newUnit(t)
		cfg := failedFirstStart(t, u)
		d := u.wait(u.deploy(cfg.Name, "web:v2").DeploymentID)
		if d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment %+v", d)
		}
		if n := u.clock.pending(retryFirst); n != 0 {
			t.Fatalf("%d retries wait after a new request", n)
		}
		u.stable(cfg.Name, "web:v2")
		if n := u.clock.fire(retryFirst); n != 0 || len(u.history(cfg.Name, 2)) != 2 {
			t.Fatalf("the retry ran (%d timers)", n)
		}
	})
	t.Run("a request refused", func(t *testing.T) {
		u := newUnit(t)
		cfg := failedFirstStart(t, u)
		if _, err := u.sys.Switch(context.Background(), cfg.Name, deploy.Green); deploy.ErrorCode(err) != deploy.ECONFLICT {
			t.Fatalf("switch with no container: %v", err)
		}
		if n := u.clock.pending(retryFirst); n != 1 {
			t.Fatal("a refused request dropped the retry")
		}
	})
	t.Run("the config removed", func(t *testing.T) {
		u := newUnit(t)
		failedFirstStart(t, u)
		u.configs(nil)
		if _, err := u.sys.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		u.until("no retry waits", func() bool { return u.clock.pending(retryFirst) == 0 })
	})
	t.Run("a restart of serve", func(t *testing.T) {
		u := newUnit(t)
		cfg := failedFirstStart(t, u)
		u.configs(nil, cfg)
		u.restart() // the new process's first start begins anew
		hist := u.history(cfg.Name, 2)
		if hist[1].Status != deploy.StatusCompleted || hist[1].TriggerSource != deploy.TriggerConfig {
			t.Fatalf("after the restart %+v", hist[1])
		}
		u.stable(cfg.Name, "web:v1")
	})
	t.Run("a pause", func(t *testing.T) {
		u := newUnit(t)
		cfg := failedFirstStart(t, u)
		if err := u.sys.Pause(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := u.clock.pending(retryFirst); n != 0 {
			t.Fatal("a retry waits to deploy while the app is paused")
		}
		u.sys.Resume()
		u.until("due at once", func() bool { return u.clock.pending(0) == 1 })
		u.clock.fire(0)
		u.stable(cfg.Name, "web:v1")
		if hist := u.history(cfg.Name, 2); hist[1].Status != deploy.StatusCompleted {
			t.Fatalf("the retry after the pause %+v", hist[1])
		}
	})
}

// TestDeployRetry_dockerBack: a retry that waits out its backoff is due at
// once when Docker answers again after it was unreachable (the app's
// resync), not at the end of its wait.
func TestDeployRetry_dockerBack(t *testing.T) {
	u := newUnit(t)
	cfg := unitApp(t, "web:v1")
	u.rt.failNext("Start", startTimeout)
	u.addApp(cfg)
	for i, wait := range []time.Duration{2 * time.Second, 4 * time.Second} { // a later retry waits longer
		u.until(fmt.Sprintf("retry %d in %s", i+1, wait), func() bool { return u.clock.pending(wait) == 1 })
		if i == 0 {
			u.rt.failNext("EnsureImage", &dockerDown{})
			u.clock.fire(wait)
			u.history(cfg.Name, 2)
		}
	}
	streams := u.rt.streamCount()
	u.rt.setDown(true) // the event stream breaks
	u.until("the event stream lost", func() bool { return u.rt.streamCount() < streams })
	u.rt.setDown(false)
	u.until("due at once", func() bool { return u.clock.pending(0) == 1 })
	if n := u.clock.pending(4 * time.Second); n != 0 {
		t.Fatalf("the retry's own timer still waits (%d)", n)
	}
	u.clock.fire(0)
	u.stable(cfg.Name, "web:v1")
	hist := u.history(cfg.Name, 3)
	if hist[2].Status != deploy.StatusCompleted || hist[2].TriggerSource != deploy.TriggerConfig {
		t.Fatalf("the retry once Docker answered %+v", hist[2])
	}
	if rs := u.retries(cfg.Name); len(rs) != 2 {
		t.Fatalf("retry events %+v", rs)
	}
}

// failedFirstStart adds an app whose first start fails, and waits for its
// retry.
func failedFirstStart(t *testing.T, u *unit) *config.App {
	t.Helper()
	cfg := unitApp(t, "web:v1")
	u.rt.failNext("Start", startTimeout)
	u.addApp(cfg)
	u.history(cfg.Name, 1)
	u.until("a retry waits", func() bool { return u.clock.pending(retryFirst) == 1 })
	return cfg
}

// TestDeployRetry_unhealthyRetryStops: a retry whose container is unhealthy
// (the image turned bad) rolls back and ends the retries.
func TestDeployRetry_unhealthyRetryStops(t *testing.T) {
	u := newUnit(t)
	cfg := unitApp(t, "web:v1")
	u.rt.failNext("Start", startTimeout)
	u.addApp(cfg)
	u.until("a retry waits", func() bool { return u.clock.pending(retryFirst) == 1 })
	u.rt.image("web:v1", fakeImage{health: http.StatusServiceUnavailable}, true)
	u.clock.fire(retryFirst)
	u.until("the gate", func() bool { return u.clock.pending(gateTimeout) == 1 })
	u.clock.fire(gateTimeout)
	if d := u.history(cfg.Name, 2)[1]; d.Status != deploy.StatusRolledBack {
		t.Fatalf("retry %+v", d)
	}
	if n := u.clock.pending(retryFirst) + u.clock.pending(2*retryFirst); n != 0 {
		t.Fatal("a rolled back retry is retried")
	}
}
