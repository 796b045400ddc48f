package actors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
	"github.com/bluegreen/bluegreen/proxy"
)

// The unit tests of canary steps (verify.go; the proxy's split is
// proxy/canary.go): clients with a bluegreen_canary cookie each, through
// the app's proxy to the fake runtime's containers.

// cookies are the cookie values of the canary tests' clients.
var cookies = func() []string {
	out := make([]string, 200)
	for i := range out {
		out[i] = fmt.Sprintf("%032x", i*104729)
	}
	return out
}()

// hitAs sends one GET / per cookie value and returns what answered each
// (status and body), once the proxy counted them all.
func (u *unit) hitAs(cfg *config.App, values []string) map[string]string {
	u.t.Helper()
	before := u.answers(cfg.Name)
	got := map[string]string{}
	url := fmt.Sprintf("http://127.0.0.1:%d/", cfg.Ports.Proxy)
	for _, v := range values {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Cookie", proxy.CanaryCookie+"="+v)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			u.t.Fatalf("GET %s: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(resp.Header.Values("Set-Cookie")) != 0 {
			u.t.Fatalf("a client with the cookie got another: %v", resp.Header.Values("Set-Cookie"))
		}
		got[v] = fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	u.until(fmt.Sprintf("%d answers counted", len(values)), func() bool { return u.answers(cfg.Name) >= before+uint64(len(values)) })
	return got
}

// splitAt checks that the clients whose bucket is under percent were
// answered by newImage and the others by oldImage, and returns how many
// went to newImage.
func splitAt(t *testing.T, got map[string]string, percent int, oldImage, newImage string) int {
	t.Helper()
	n := 0
	for v, answer := range got {
		want := oldImage
		if proxy.Bucket(v) < percent {
			want, n = newImage, n+1
		}
		if !strings.HasSuffix(answer, " "+want) {
			t.Fatalf("at %d%% the client of bucket %d got %q, want %s", percent, proxy.Bucket(v), answer, want)
		}
	}
	return n
}

// stepOpen waits until deployment id watches the canary step at percent.
func (u *unit) stepOpen(id int64, percent int) {
	u.t.Helper()
	u.until(fmt.Sprintf("the canary step at %d%%", percent), func() bool {
		d := u.deployment(id)
		return d.Status == deploy.StatusCanary && d.Verification != nil && d.Verification.Step == percent &&
			d.Verification.Result == deploy.VerificationRunning && u.clock.pending(verifyTick) == 1 && u.clock.pending(verifyWindowLen) == 1
	})
}

func TestCanary_PassesEachStep(t *testing.T) {
	cfg := verifiedApp(t, "web:v1", 10, 50)
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:v2").DeploymentID

	onGreen := 0
	for _, pc := range []int{10, 50} {
		u.stepOpen(id, pc)
		if st := u.app(cfg.Name); st.ActiveColor != deploy.Blue || st.Status != deploy.AppDeploying {
			t.Fatalf("in canary %d%%: active %s, %s", pc, st.ActiveColor, st.Status)
		}
		onGreen = splitAt(t, u.hitAs(cfg, cookies), pc, "web:v1", "web:v2")
		u.judge()
		u.until("the step's numbers", func() bool { return u.deployment(id).Verification.Requests == int64(onGreen) })
		u.clock.fire(verifyWindowLen)
	}
	u.windowOpen(id, deploy.StatusVerifying)
	for v, answer := range u.hitAs(cfg, cookies[:20]) {
		if answer != "200 web:v2" {
			t.Fatalf("in verifying the client %s got %q", v, answer)
		}
	}
	u.clock.fire(verifyWindowLen)
	d := u.wait(id)
	want := []string{"pulling", "starting", "health_checking", "canary", "canary", "switching", "verifying", "draining", "stopping"}
	if d.Status != deploy.StatusCompleted || !slices.Equal(phaseNamesOf(d), want) {
		t.Fatalf("deployment %s %q, phases %v, want %v", d.Status, d.Error, phaseNamesOf(d), want)
	}
	ws := u.windowEvents(cfg.Name, id)
	if len(ws) != 3 || ws[0].Step != 10 || ws[1].Step != 50 || ws[2].Step != 100 || ws[1].Requests != int64(onGreen) {
		t.Fatalf("judged windows %+v", ws)
	}
	for _, w := range ws {
		if w.Result != deploy.VerificationPassed || !slices.Equal(w.Steps, []int{10, 50}) {
			t.Fatalf("window %+v", w)
		}
	}
	u.stable(cfg.Name, "web:v2")
}

func TestCanary_FailsAtEachStep(t *testing.T) {
	for _, failAt := range []int{10, 50, 100} {
		t.Run(fmt.Sprintf("at %d%%", failAt), func(t *testing.T) {
			cfg := verifiedApp(t, "web:v1", 10, 50)
			u := newVerifyUnit(t, cfg)
			id := u.deploy(cfg.Name, "web:bad").DeploymentID
			for _, pc := range []int{10, 50, 100} {
				if pc < 100 {
					u.stepOpen(id, pc)
				} else {
					u.windowOpen(id, deploy.StatusVerifying)
				}
				if pc != failAt {
					u.clock.fire(verifyWindowLen) // no traffic: judged on health alone
					continue
				}
				values := cookies
				if pc == 10 { // enough clients on the canary for min_requests
					values = slices.Concat(cookies, cookies, cookies)
				}
				got := u.hitAs(cfg, values)
				if pc < 100 {
					splitAt(t, got, pc, "web:v1", "web:bad")
				}
				u.judge()
				break
			}
			d := u.wait(id)
			if !strings.HasPrefix(d.Error, fmt.Sprintf("verification failed at %d%%: 5xx ", failAt)) {
				t.Fatalf("error %q", d.Error)
			}
			u.rolledBackTo(cfg, d, "web:v1")
			for v, answer := range u.hitAs(cfg, cookies) {
				if answer != "200 web:v1" {
					t.Fatalf("after the rollback the client %s got %q", v, answer)
				}
			}
			if got, want := countOf(phaseNamesOf(d), "canary"), map[int]int{10: 1, 50: 2, 100: 2}[failAt]; got != want {
				t.Fatalf("%d canary steps in %v, want %d", got, phaseNamesOf(d), want)
			}
		})
	}
}

func TestCanary_PromoteAndRollback(t *testing.T) {
	t.Run("promote", func(t *testing.T) {
		cfg := verifiedApp(t, "web:v1", 10, 50)
		u := newVerifyUnit(t, cfg)
		id := u.deploy(cfg.Name, "web:v2").DeploymentID
		u.stepOpen(id, 10)
		st, err := u.sys.Promote(context.Background(), cfg.Name)
		if err != nil || st.ActiveColor != deploy.Green {
			t.Fatalf("promote: %+v %v", st, err)
		}
		d := u.wait(id)
		want := []string{"pulling", "starting", "health_checking", "canary", "switching", "draining", "stopping"}
		if d.Status != deploy.StatusCompleted || !slices.Equal(phaseNamesOf(d), want) || d.Verification.Result != deploy.VerificationPromoted {
			t.Fatalf("deployment %s, phases %v, verification %+v", d.Status, phaseNamesOf(d), d.Verification)
		}
		for v, answer := range u.hitAs(cfg, cookies[:50]) {
			if answer != "200 web:v2" {
				t.Fatalf("after the promote the client %s got %q", v, answer)
			}
		}
	})
	t.Run("rollback", func(t *testing.T) {
		cfg := verifiedApp(t, "web:v1", 10, 50)
		u := newVerifyUnit(t, cfg)
		id := u.deploy(cfg.Name, "web:v2").DeploymentID
		u.stepOpen(id, 10)
		u.clock.fire(verifyWindowLen)
		u.stepOpen(id, 50)
		resp, err := u.sys.Rollback(context.Background(), cfg.Name)
		if err != nil || resp != (deploy.Response{DeploymentID: id, Status: deploy.AnswerRollingBack}) {
			t.Fatalf("rollback: %+v %v", resp, err)
		}
		d := u.wait(id)
		if d.Error != deploy.RolledBackByRequest {
			t.Fatalf("error %q", d.Error)
		}
		u.rolledBackTo(cfg, d, "web:v1")
		for v, answer := range u.hitAs(cfg, cookies) {
			if answer != "200 web:v1" {
				t.Fatalf("after the rollback the client %s got %q", v, answer)
			}
		}
	})
}

// A stop of the supervisor in canary (as kill -9 leaves it): the next one
// routes every client to the old color, removes the candidate and ends the
// deployment interrupted.
func TestCanary_RestartInCanary(t *testing.T) {
	cfg := verifiedApp(t, "web:v1", 10, 50)
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.stepOpen(id, 10)
	candidate, _ := u.rt.container(cfg.Name + "-green")
	u.restart()
	d := u.wait(id)
	if d.Status != deploy.StatusInterrupted {
		t.Fatalf("deployment %s %q", d.Status, d.Error)
	}
	u.until("the candidate removed", func() bool {
		ct, ok := u.rt.container(cfg.Name + "-green")
		return !ok || ct.ID != candidate.ID
	})
	if st := u.app(cfg.Name); st.ActiveColor != deploy.Blue || st.CurrentImage != "web:v1" {
		t.Fatalf("after the restart: %+v", st)
	}
	// The restart deploys the desired image again, as a new deployment
	// (docs/faults.md), which at most reaches its first step (10%): every
	// other client is on v1.
	for v, answer := range u.hitAs(cfg, cookies) {
		if proxy.Bucket(v) >= 10 && answer != "200 web:v1" {
			t.Fatalf("after the restart the client of bucket %d got %q", proxy.Bucket(v), answer)
		}
	}
}

// An upgrade's pause during a window waits for the deployment to end, its
// bound counting the windows left; a promote is refused meanwhile, as any
// request that changes the app.
func TestCanary_UpgradeWaitsForTheWindows(t *testing.T) {
	cfg := verifiedApp(t, "web:v1", 10, 50)
	u := newVerifyUnit(t, cfg)
	ctx := context.Background()
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.stepOpen(id, 10)
	u.clock.fire(verifyWindowLen)
	u.stepOpen(id, 50)

	paused := make(chan error, 1)
	go func() { paused <- u.sys.Pause(ctx) }()
	u.until("paused", u.sys.Paused)
	bound := deploymentBound(cfg) - verifyAllowance(cfg) + 2*verifyWindowLen // this step and verifying
	u.until("the pause's bound", func() bool { return u.clock.pending(bound) == 1 })
	if _, err := u.sys.Promote(ctx, cfg.Name); deploy.ErrorCode(err) != deploy.EUNAVAILABLE {
		t.Fatalf("promote during the pause: %v", err)
	}
	u.clock.fire(verifyWindowLen)
	u.windowOpen(id, deploy.StatusVerifying)
	select {
	case err := <-paused:
		t.Fatalf("the pause returned (%v) while deployment %d watches its window", err, id)
	default:
	}
	u.clock.fire(verifyWindowLen)
	if err := <-paused; err != nil {
		t.Fatalf("pause: %v", err)
	}
	if d := u.wait(id); d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment %s %q", d.Status, d.Error)
	}
	u.sys.Resume()
	u.stable(cfg.Name, "web:v2")
}

// A reload that moves the app's proxy to another port during a canary
// step: the new proxy splits the clients as the old one did.
func TestCanary_ProxyReplacedInAStep(t *testing.T) {
	cfg := verifiedApp(t, "web:v1", 10, 50)
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.stepOpen(id, 10)
	moved := *cfg
	moved.Ports.Proxy = testimage.FreePort(t)
	u.configs(nil, &moved)
	if _, err := u.sys.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	u.until("the proxy routing on its new port", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", moved.Ports.Proxy))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	splitAt(t, u.hitAs(&moved, cookies), 10, "web:v1", "web:v2")
	if d := u.deployment(id); d.Status != deploy.StatusCanary {
		t.Fatalf("after the reload: %s %q", d.Status, d.Error)
	}
}
