package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/proxy"
)

// The unit tests of verification on live traffic (verify.go): real
// requests through the app's proxy to the fake runtime's containers, the
// window's tick and end fired by the test.

const (
	verifyTick      = 7 * time.Second  // the unit tests' tick of a window: the test fires it
	verifyWindowLen = 30 * time.Minute // their window: the test fires its end
)

// What a run asks of its host for verification, as the fake host answers.

func (h *fakeHost) running(color deploy.Color) bool { return color == deploy.Blue && h.old != "" }
func (h *fakeHost) tally(color deploy.Color) proxy.Tally {
	if h.stats == nil {
		return proxy.Tally{}
	}
	return h.stats.Color(string(color)).Tally()
}
func (h *fakeHost) routeBack(color deploy.Color, image string) error {
	h.call("routeBack " + string(color))
	return nil
}

// verifiedApp is a unit app whose deployments are verified, with canary
// steps.
func verifiedApp(t *testing.T, image string, steps ...int) *config.App {
	t.Helper()
	cfg := unitApp(t, image)
	cfg.Deployment.Verify = &config.Verify{Window: verifyWindowLen, MaxErrorRate: 0.01, MinRequests: 20, MaxP99: 2 * time.Second}
	cfg.Deployment.Canary = steps
	return cfg
}

// newVerifyUnit starts a unit with cfg stable on web:v1 and the images of
// the verification tests: web:bad answers 30% of GET / with 500, web:down
// all of them, web:slow takes 150ms.
func newVerifyUnit(t *testing.T, cfg *config.App) *unit {
	t.Helper()
	u := newUnit(t, cfg)
	u.rt.image("web:bad", fakeImage{failRate: 30}, true)
	u.rt.image("web:down", fakeImage{failRate: 100}, true)
	u.rt.image("web:slow", fakeImage{delay: 150 * time.Millisecond}, true)
	u.stable(cfg.Name, "web:v1")
	return u
}

// answers counts what the app's proxy answered so far, every color.
func (u *unit) answers(app string) uint64 {
	s := u.sys.metrics.App(app).Requests()
	var n uint64
	for _, c := range []string{proxy.ColorBlue, proxy.ColorGreen, proxy.ColorNone} {
		t := s.Color(c).Tally()
		n += t.Answers
	}
	return n
}

// hit sends n requests to the app's proxy, one after the other, and
// returns how many of each answer (status and body) came back, once the
// proxy counted them all (an answer is counted after its last byte).
func (u *unit) hit(cfg *config.App, n int) map[string]int {
	u.t.Helper()
	before := u.answers(cfg.Name)
	got := map[string]int{}
	url := fmt.Sprintf("http://127.0.0.1:%d/", cfg.Ports.Proxy)
	for range n {
		resp, err := http.Get(url)
		if err != nil {
			u.t.Fatalf("GET %s: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got[fmt.Sprintf("%d %s", resp.StatusCode, b)]++
	}
	u.until(fmt.Sprintf("%d answers counted", n), func() bool { return u.answers(cfg.Name) >= before+uint64(n) })
	return got
}

// windowOpen waits until deployment id watches a window in status st.
func (u *unit) windowOpen(id int64, st deploy.Status) {
	u.t.Helper()
	u.reaches(id, st)
	u.until("the window's timers", func() bool { return u.clock.pending(verifyTick) == 1 && u.clock.pending(verifyWindowLen) == 1 })
}

// judge fires the window's tick: it is judged on what was counted so far.
func (u *unit) judge() { u.clock.fire(verifyTick) }

// deployment reads deployment id as recorded.
func (u *unit) deployment(id int64) deploy.Deployment {
	u.t.Helper()
	d, err := u.sys.Deployment(context.Background(), id)
	if err != nil {
		u.t.Fatal(err)
	}
	return d
}

// windowEvents returns the data of deployment id's judged windows, in order.
func (u *unit) windowEvents(app string, id int64) []deploy.Verification {
	u.t.Helper()
	evs, err := u.sys.Events(context.Background(), app, 0, 1000)
	if err != nil {
		u.t.Fatal(err)
	}
	var out []deploy.Verification
	for _, e := range evs {
		var v deploy.Verification
		if e.Type != deploy.EventDeploymentPhase || !e.Of(id) || json.Unmarshal(e.Data, &v) != nil {
			continue
		}
		if v.Result != "" && v.Result != deploy.VerificationRunning {
			out = append(out, v)
		}
	}
	return out
}

// rolledBackTo checks that deployment d was rolled back by its window and
// the app serves image in blue, its green container gone.
func (u *unit) rolledBackTo(cfg *config.App, d deploy.Deployment, image string) {
	u.t.Helper()
	if d.Status != deploy.StatusRolledBack || d.Verification == nil || d.Verification.Result != deploy.VerificationFailed {
		u.t.Fatalf("deployment %+v (verification %+v)", d, d.Verification)
	}
	if n := len(d.Phases); n < 2 || d.Phases[n-2].Name != "reverting" || d.Phases[n-1].Name != "rollback" {
		u.t.Fatalf("phases %v end without reverting, rollback", phaseNamesOf(d))
	}
	u.keptServing(cfg.Name, image)
	if got := u.serves(cfg); got != image {
		u.t.Fatalf("after the rollback the proxy answered %q", got)
	}
}

func TestVerify_Passes(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)

	// The first start has no old color to go back to: not verified.
	first := u.firstDeployment(cfg.Name)
	if got := phaseNamesOf(first); !slices.Equal(got, []string{"pulling", "starting", "health_checking", "switching"}) || first.Verification != nil {
		t.Fatalf("first start: phases %v, verification %+v", got, first.Verification)
	}

	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	if st := u.app(cfg.Name); st.Status != deploy.AppDeploying || st.ActiveColor != deploy.Green || st.Deployment.Verification.Step != 100 {
		t.Fatalf("in verifying: %+v", st)
	}
	if got := u.hit(cfg, 30); got["200 web:v2"] != 30 {
		t.Fatalf("answers in verifying: %v", got)
	}
	u.judge()
	u.until("the window's numbers recorded", func() bool {
		v := u.deployment(id).Verification
		return v != nil && v.Requests == 30
	})
	v := u.deployment(id).Verification
	if v.Result != deploy.VerificationRunning || v.Errors != 0 || v.Step != 100 || v.WindowMS != verifyWindowLen.Milliseconds() || v.P99MS <= 0 {
		t.Fatalf("verification so far %+v", v)
	}
	if ct, _ := u.rt.container(cfg.Name + "-blue"); !ct.Running {
		t.Fatal("the old container does not run during the window")
	}
	u.until("the next tick", func() bool { return u.clock.pending(verifyTick) == 1 })

	u.clock.fire(verifyWindowLen)
	d := u.wait(id)
	if want := []string{"pulling", "starting", "health_checking", "switching", "verifying", "draining", "stopping"}; d.Status != deploy.StatusCompleted || !slices.Equal(phaseNamesOf(d), want) {
		t.Fatalf("deployment %s, phases %v, want completed after %v", d.Status, phaseNamesOf(d), want)
	}
	if d.Verification.Result != deploy.VerificationPassed || d.Verification.Requests != 30 {
		t.Fatalf("verification %+v", d.Verification)
	}
	if ws := u.windowEvents(cfg.Name, id); len(ws) != 1 || ws[0].Result != deploy.VerificationPassed || ws[0].Requests != 30 {
		t.Fatalf("judged windows %+v", ws)
	}
	u.stable(cfg.Name, "web:v2")
	if ct, _ := u.rt.container(cfg.Name + "-blue"); ct.Running {
		t.Fatal("the old container still runs after the deployment")
	}
	if u.clock.pending(verifyTick) != 0 {
		t.Fatal("the window's tick outlives it")
	}
}

func TestVerify_FailsOnErrorRate(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:bad").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	if got := u.hit(cfg, 50); got["500 web:bad"] != 15 || got["200 web:bad"] != 35 {
		t.Fatalf("answers %v", got)
	}
	u.judge()
	d := u.wait(id)
	if want := "verification failed at 100%: 5xx 30.0% of 50 requests (max 1%)"; d.Error != want {
		t.Fatalf("error %q, want %q", d.Error, want)
	}
	u.rolledBackTo(cfg, d, "web:v1")
	if v := d.Verification; v.Requests != 50 || v.Errors != 15 || v.ErrorRate != 0.3 {
		t.Fatalf("verification %+v", v)
	}
	ws := u.windowEvents(cfg.Name, id)
	if len(ws) != 1 || ws[0].Result != deploy.VerificationFailed || ws[0].Requests != 50 || ws[0].Errors != 15 {
		t.Fatalf("judged windows %+v", ws)
	}
	if evs := u.events(cfg.Name); countOf(evs, deploy.EventProxySwitched) < 3 || !slices.Contains(evs, deploy.EventContainerRemoved) {
		t.Fatalf("events %v: no switch back or removal", evs)
	}
}

func TestVerify_FailsOnP99(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	cfg.Deployment.Verify.MaxP99 = 100 * time.Millisecond
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:slow").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	u.hit(cfg, 20)
	u.judge()
	d := u.wait(id)
	if !strings.HasPrefix(d.Error, "verification failed at 100%: p99 ") || !strings.HasSuffix(d.Error, " of 20 requests (max 100ms)") ||
		d.Verification.P99MS < 145 { // 150ms and more, read from a bucket about 3% wide
		t.Fatalf("error %q, verification %+v", d.Error, d.Verification)
	}
	u.rolledBackTo(cfg, d, "web:v1")
}

func TestVerify_FailsOnCrashAndUnhealthy(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)

	t.Run("crash", func(t *testing.T) {
		id := u.deploy(cfg.Name, "web:v2").DeploymentID
		u.windowOpen(id, deploy.StatusVerifying)
		u.rt.exit(cfg.Name+"-green", 3, false)
		d := u.wait(id)
		if want := "verification failed at 100%: the new container exited with code 3"; d.Error != want {
			t.Fatalf("error %q, want %q", d.Error, want)
		}
		u.rolledBackTo(cfg, d, "web:v1")
	})
	t.Run("unhealthy", func(t *testing.T) {
		id := u.deploy(cfg.Name, "web:v2").DeploymentID
		u.windowOpen(id, deploy.StatusVerifying)
		u.rt.setHealth(cfg.Name+"-green", http.StatusServiceUnavailable)
		d := u.wait(id)
		if !strings.HasPrefix(d.Error, "verification failed at 100%: the new container is unhealthy: 2 health checks failed in a row: ") {
			t.Fatalf("error %q", d.Error)
		}
		u.rolledBackTo(cfg, d, "web:v1")
	})
}

func TestVerify_TooFewRequests(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:down").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	if got := u.hit(cfg, 19); got["500 web:down"] != 19 {
		t.Fatalf("answers %v", got)
	}
	u.judge() // 19 of 19 failed, but fewer than min_requests: judged on health alone
	u.until("the next tick", func() bool { return u.clock.pending(verifyTick) == 1 })
	if d := u.deployment(id); d.Status != deploy.StatusVerifying || d.Verification.Errors != 19 {
		t.Fatalf("after the tick: %s %+v", d.Status, d.Verification)
	}
	u.clock.fire(verifyWindowLen)
	d := u.wait(id)
	if d.Status != deploy.StatusCompleted || d.Verification.Result != deploy.VerificationPassed || d.Verification.Requests != 19 {
		t.Fatalf("deployment %s %+v", d.Status, d.Verification)
	}
	u.stable(cfg.Name, "web:down")
}

func TestVerify_Promote(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)
	if _, err := u.sys.Promote(context.Background(), cfg.Name); deploy.ErrorCode(err) != deploy.ECONFLICT {
		t.Fatalf("promote with nothing to promote: %v", err)
	}
	if _, err := u.sys.Promote(context.Background(), "nope"); deploy.ErrorCode(err) != deploy.ENOTFOUND {
		t.Fatalf("promote of an unknown app: %v", err)
	}
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	u.hit(cfg, 5)
	st, err := u.sys.Promote(context.Background(), cfg.Name)
	if err != nil || st.ActiveColor != deploy.Green || st.Deployment == nil || st.Deployment.Verification.Result != deploy.VerificationPromoted {
		t.Fatalf("promote: %+v %v", st, err)
	}
	d := u.wait(id)
	if d.Status != deploy.StatusCompleted || d.Verification.Result != deploy.VerificationPromoted || d.Verification.Requests != 5 {
		t.Fatalf("deployment %s %+v", d.Status, d.Verification)
	}
	if u.clock.pending(verifyTick)+u.clock.pending(verifyWindowLen) != 0 {
		t.Fatal("the window's timers outlive the promote")
	}
	u.stable(cfg.Name, "web:v2")
}

func TestVerify_RollbackDuringWindow(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	resp, err := u.sys.Rollback(context.Background(), cfg.Name)
	if err != nil || resp != (deploy.Response{DeploymentID: id, Status: deploy.AnswerRollingBack}) {
		t.Fatalf("rollback: %+v %v", resp, err)
	}
	d := u.wait(id)
	if d.Error != deploy.RolledBackByRequest {
		t.Fatalf("error %q", d.Error)
	}
	u.rolledBackTo(cfg, d, "web:v1")
}

func TestVerify_QueuedDeploymentWaits(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	q := u.deploy(cfg.Name, "web:v3")
	if q.Status != deploy.AnswerQueued {
		t.Fatalf("a deploy during the window: %+v", q)
	}
	u.judge()
	u.until("the next tick", func() bool { return u.clock.pending(verifyTick) == 1 })
	if d := u.deployment(q.DeploymentID); d.Status != deploy.StatusQueued {
		t.Fatalf("the queued deployment is %s during the window", d.Status)
	}
	if got := u.serves(cfg); got != "web:v2" {
		t.Fatalf("during the window the proxy answered %q", got)
	}
	u.clock.fire(verifyWindowLen)
	if d := u.wait(id); d.Status != deploy.StatusCompleted {
		t.Fatalf("the verified deployment %s", d.Status)
	}
	u.windowOpen(q.DeploymentID, deploy.StatusVerifying) // the queued one is verified in its turn
	u.clock.fire(verifyWindowLen)
	if d := u.wait(q.DeploymentID); d.Status != deploy.StatusCompleted || d.FromImage != "web:v2" {
		t.Fatalf("the queued deployment %s from %s", d.Status, d.FromImage)
	}
	u.stable(cfg.Name, "web:v3")
}

// A stop of the supervisor in verifying (as kill -9 leaves it): the next
// one keeps the new color active and watches a fresh window.
func TestVerify_RestartInVerifying(t *testing.T) {
	cfg := verifiedApp(t, "web:v1")
	u := newVerifyUnit(t, cfg)
	id := u.deploy(cfg.Name, "web:v2").DeploymentID
	u.windowOpen(id, deploy.StatusVerifying)
	u.hit(cfg, 3)
	u.restart()
	var d deploy.Deployment
	u.until("a fresh window", func() bool {
		d = u.deployment(id)
		return u.clock.pending(verifyWindowLen) == 1 && countOf(phaseNamesOf(d), "verifying") == 2
	})
	n := len(d.Phases)
	if d.Status != deploy.StatusVerifying || n < 2 || d.Phases[n-1].Name != "verifying" || d.Phases[n-2].Name != "verifying" ||
		d.Phases[n-2].Error != "the supervisor stopped during this window" || d.Verification.Requests != 0 {
		t.Fatalf("after the restart: %s, phases %+v, verification %+v", d.Status, d.Phases, d.Verification)
	}
	if got := u.serves(cfg); got != "web:v2" {
		t.Fatalf("after the restart the proxy answered %q", got)
	}
	if ct, _ := u.rt.container(cfg.Name + "-blue"); !ct.Running {
		t.Fatal("the old container does not run in the fresh window")
	}
	u.clock.fire(verifyWindowLen)
	if d := u.wait(id); d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment %s: %s", d.Status, d.Error)
	}
	u.stable(cfg.Name, "web:v2")
}

func TestRun_WindowsLeft(t *testing.T) {
	v := &config.Verify{Window: time.Minute}
	for _, tt := range []struct {
		phase phase
		step  int
		steps []int
		want  time.Duration
	}{
		{phasePulling, 0, []int{10, 50}, 3 * time.Minute},
		{phaseHealthChecking, 0, nil, time.Minute},
		{phaseCanary, 0, []int{10, 50}, 3 * time.Minute},
		{phaseCanary, 1, []int{10, 50}, 2 * time.Minute},
		{phaseVerifying, 0, []int{10, 50}, time.Minute},
		{phaseDraining, 0, []int{10, 50}, 0},
	} {
		r := &deploymentRun{phase: tt.phase, verify: v, steps: tt.steps, stepIdx: tt.step}
		if got := r.windowsLeft(); got != tt.want {
			t.Errorf("%s step %d of %v: %s left, want %s", tt.phase, tt.step, tt.steps, got, tt.want)
		}
	}
	if (&deploymentRun{phase: phaseVerifying}).windowsLeft() != 0 || (*deploymentRun)(nil).windowsLeft() != 0 {
		t.Error("a run that is not verified has windows left")
	}
	cfg := verifiedApp(t, "web:v1", 10, 50)
	plain := unitApp(t, "web:v1")
	if got := deploymentBound(cfg) - deploymentBound(plain); got != 3*verifyWindowLen {
		t.Errorf("the bound of a verified deployment is %s more, want its three windows", got)
	}
}
func (h *fakeHost) split(color deploy.Color, percent int) {
	h.call(fmt.Sprintf("split %s %d", color, percent))
}
