package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// runVerified moves deployment id through a verified deployment's phases:
// each of f.windows is a window that begins (result running) and is judged
// as given; a failed one ends the deployment rolled back; one with result
// running stays until a promote or a rollback.
func (f *fakeSupervisor) runVerified(id int64, outcome deploy.Status) {
	f.emit(id, deploy.EventDeploymentStarted, "deployment started", nil)
	for _, p := range []deploy.Status{deploy.StatusPulling, deploy.StatusStarting, deploy.StatusHealthChecking} {
		f.phase(id, p, nil)
	}
	for _, w := range f.windows {
		p := deploy.StatusVerifying
		if w.Step < deploy.VerifyStepAll {
			p = deploy.StatusCanary
		} else {
			f.phase(id, deploy.StatusSwitching, nil)
		}
		begin := deploy.Verification{Step: w.Step, Steps: w.Steps, WindowMS: w.WindowMS, Result: deploy.VerificationRunning}
		f.phase(id, p, &begin)
		if w.Result == deploy.VerificationRunning {
			f.phase(id, p, &w) // numbers so far; a promote or rollback ends it
			return
		}
		f.phase(id, p, &w)
		if w.Result == deploy.VerificationFailed {
			f.end(id, deploy.StatusRolledBack, deploy.FailedAt(w.Step, "5xx 12.0% of 250 requests (max 1%)"))
			return
		}
	}
	f.phase(id, deploy.StatusDraining, nil)
	f.end(id, outcome, "")
}

// phase records that deployment id is in p, with its window v (nil: none),
// as the app's running deployment, and emits its deployment.phase event.
func (f *fakeSupervisor) phase(id int64, p deploy.Status, v *deploy.Verification) {
	f.mu.Lock()
	d := f.deps[id]
	if d.Status != p {
		d.Phases = append(d.Phases, deploy.Phase{Name: string(p), StartedAt: time.Now()})
	}
	d.Status = p
	data := map[string]any{"phase": string(p), "status": string(p)}
	if v != nil {
		c := *v
		d.Verification = &c
		b, _ := json.Marshal(c)
		json.Unmarshal(b, &data)
	}
	cp := *d
	f.apps[d.App].Deployment = &cp
	f.mu.Unlock()
	f.emit(id, deploy.EventDeploymentPhase, "phase "+string(p), data)
}

// end ends deployment id with status and why.
func (f *fakeSupervisor) end(id int64, status deploy.Status, why string) {
	f.mu.Lock()
	d := f.deps[id]
	now := time.Now()
	d.Status, d.Error, d.CompletedAt, d.DurationMS = status, why, &now, 1500
	if d.Verification != nil && status == deploy.StatusRolledBack && d.Verification.Result == deploy.VerificationRunning {
		d.Verification.Result = deploy.VerificationFailed
	}
	f.apps[d.App].Deployment = nil
	f.mu.Unlock()
	f.emit(id, status.Event(), "deployment "+string(status), map[string]string{"status": string(status), "error": why})
}

// Promote ends the running window of the app's deployment in canary or
// verifying as promoted, and completes the deployment.
func (f *fakeSupervisor) Promote(ctx context.Context, app string) (deploy.AppStatus, error) {
	f.mu.Lock()
	a, ok := f.apps[app]
	if !ok {
		f.mu.Unlock()
		return deploy.AppStatus{}, deploy.Errorf(deploy.ENOTFOUND, "no app named %q", app)
	}
	d := a.Deployment
	if d == nil || (d.Status != deploy.StatusCanary && d.Status != deploy.StatusVerifying) {
		f.mu.Unlock()
		return deploy.AppStatus{}, deploy.Errorf(deploy.ECONFLICT, "no deployment of %s is in canary or verifying: there is nothing to promote", app)
	}
	id, v := d.DeploymentID, *d.Verification
	a.ActiveColor = d.Color
	f.mu.Unlock()
	v.Result = deploy.VerificationPromoted
	f.phase(id, d.Status, &v)
	f.phase(id, deploy.StatusDraining, nil)
	f.mu.Lock()
	st := *f.apps[app]
	f.mu.Unlock()
	go f.end(id, deploy.StatusCompleted, "")
	return st, nil
}

// takeBack rolls back the app's deployment in canary or verifying, as a
// rollback does then; false when there is none.
func (f *fakeSupervisor) takeBack(app string) (deploy.Response, bool) {
	f.mu.Lock()
	a, ok := f.apps[app]
	if !ok || a.Deployment == nil || (a.Deployment.Status != deploy.StatusCanary && a.Deployment.Status != deploy.StatusVerifying) {
		f.mu.Unlock()
		return deploy.Response{}, false
	}
	id := a.Deployment.DeploymentID
	f.mu.Unlock()
	go f.end(id, deploy.StatusRolledBack, deploy.RolledBackByRequest)
	return deploy.Response{DeploymentID: id, Status: deploy.AnswerRollingBack}, true
}

// verifiedWindows are a deployment's windows with canary steps 10 and 50
// that all pass.
func verifiedWindows() []deploy.Verification {
	steps := []int{10, 50}
	return []deploy.Verification{
		{Step: 10, Steps: steps, WindowMS: 60000, ElapsedMS: 60000, Requests: 112, Errors: 0, P99MS: 12.4, Result: deploy.VerificationPassed},
		{Step: 50, Steps: steps, WindowMS: 60000, ElapsedMS: 60000, Requests: 530, Errors: 1, ErrorRate: 1.0 / 530, P99MS: 14, Result: deploy.VerificationPassed},
		{Step: 100, Steps: steps, WindowMS: 60000, ElapsedMS: 60000, Requests: 1012, Errors: 3, ErrorRate: 3.0 / 1012, P99MS: 15.2, Result: deploy.VerificationPassed},
	}
}

func TestCtl_DeployVerified(t *testing.T) {
	t.Run("wait shows the canary steps and the window with its numbers", func(t *testing.T) {
		f := newFakeSupervisor()
		f.windows = verifiedWindows()
		addr := startAPI(t, api.NewServer(f, nil))
		code, out, stderr := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
		}
		order := []string{"health_checking", "canary",
			"canary 10%: watching the new color's traffic for 1m0s", "canary 10% passed: 112 requests, 0 errors (0.0%), p99 12ms",
			"canary 50%: watching", "canary 50% passed: 530 requests, 1 error (0.2%), p99 14ms",
			"switching", "verifying", "verifying: watching the new color's traffic for 1m0s",
			"verifying passed: 1012 requests, 3 errors (0.3%), p99 15ms", "draining", "deployment #2 completed"}
		rest := out
		for _, w := range order {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("output lacks %q after the previous step:\n%s", w, out)
			}
			rest = rest[i+len(w):]
		}
	})
	t.Run("a failed window: exit 1 with the reason", func(t *testing.T) {
		f := newFakeSupervisor()
		f.windows = verifiedWindows()
		f.windows[1].Result, f.windows[1].Errors, f.windows[1].Requests, f.windows[1].ErrorRate = deploy.VerificationFailed, 30, 250, 0.12
		addr := startAPI(t, api.NewServer(f, nil))
		code, out, _ := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		for _, w := range []string{"canary 50% failed: 250 requests, 30 errors (12.0%)", "deployment #2 rolled back",
			"reason: verification failed at 50%: 5xx 12.0% of 250 requests (max 1%)"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		if strings.Contains(out, "verifying") {
			t.Errorf("a canary step failed, yet the output goes on to verifying:\n%s", out)
		}
		if t.Failed() {
			t.Log(out)
		}
	})
}

func TestCtl_Promote(t *testing.T) {
	f := newFakeSupervisor()
	addr := startAPI(t, api.NewServer(f, nil))

	code, _, stderr := run(t, "ctl", "--api", addr, "promote", "web")
	if code != ExitFailed || !strings.Contains(stderr, "nothing to promote") {
		t.Fatalf("promote with nothing to promote: exit %d stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "ctl", "--api", addr, "promote"); code != ExitUsage {
		t.Fatalf("promote without an app: exit %d stderr %q", code, stderr)
	}

	f.windows = verifiedWindows()[:1]
	f.windows[0].Result = deploy.VerificationRunning
	waited := make(chan string, 1)
	go func() {
		_, out, _ := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2", "--wait")
		waited <- out
	}()
	waitFor(t, "the deployment in canary", func() bool {
		st, _ := f.App(context.Background(), "web")
		return st.Deployment != nil && st.Deployment.Status == deploy.StatusCanary && st.Deployment.Verification.Requests > 0
	})
	code, out, stderr := run(t, "ctl", "--api", addr, "promote", "web")
	if code != ExitOK || !strings.Contains(out, "web: deployment #2 promoted: all traffic on green (web:v2); the old color drains") {
		t.Fatalf("promote: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	select {
	case out := <-waited:
		for _, w := range []string{"canary 10% promoted after 1m00s: 112 requests", "draining", "deployment #2 completed"} {
			if !strings.Contains(out, w) {
				t.Errorf("deploy --wait lacks %q:\n%s", w, out)
			}
		}
	case <-time.After(15 * time.Second):
		t.Fatal("deploy --wait did not end after the promote")
	}
}

func TestCtl_RollbackDuringWindow(t *testing.T) {
	for _, wait := range []bool{false, true} {
		f := newFakeSupervisor()
		f.windows = verifiedWindows()
		f.windows[2].Result = deploy.VerificationRunning
		addr := startAPI(t, api.NewServer(f, nil))
		if code, out, _ := run(t, "ctl", "--api", addr, "deploy", "web", "web:v2"); code != 0 {
			t.Fatalf("deploy: exit %d %s", code, out)
		}
		waitFor(t, "the deployment in verifying", func() bool {
			st, _ := f.App(context.Background(), "web")
			return st.Deployment != nil && st.Deployment.Status == deploy.StatusVerifying
		})
		args := []string{"ctl", "--api", addr, "rollback", "web"}
		want := "web: deployment #2 rolling back: traffic is back on the old color"
		if wait {
			args = append(args, "--wait")
			want = "deployment #2 rolled back: rolled back by request; web:v1 kept serving"
		}
		code, out, stderr := run(t, args...)
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("rollback (wait %v): exit %d\nstdout %q\nstderr %q", wait, code, out, stderr)
		}
		d, _ := f.Deployment(context.Background(), 2)
		if wait && d.Status != deploy.StatusRolledBack {
			t.Errorf("deployment %+v", d)
		}
	}
}

func TestProgress_Window(t *testing.T) {
	p := &progress{start: time.Now(), phase: string(deploy.StatusCanary)}
	p.setWindow(deploy.Verification{Step: 10, WindowMS: 60000, ElapsedMS: 23400, Requests: 112, Errors: 3, ErrorRate: 3.0 / 112, P99MS: 41.6,
		Result: deploy.VerificationRunning})
	if l := p.line(); !strings.Contains(l, "canary 10% 23.4s/1m0s  requests 112  errors 3 (2.7%)  p99 42ms") {
		t.Errorf("line %q", l)
	}
	p.setPhase(string(deploy.StatusSwitching))
	if l := p.line(); strings.Contains(l, "requests") {
		t.Errorf("the window of the step before stays on the line: %q", l)
	}
}

func TestCtl_StatusShowsTheWindow(t *testing.T) {
	f := newFakeSupervisor()
	f.apps["web"].Deployment = &deploy.Deployment{DeploymentID: 4, App: "web", FromImage: "web:v1", ToImage: "web:v2", Color: "green",
		Status: deploy.StatusCanary, TriggerSource: deploy.TriggerManual, StartedAt: time.Now(),
		Verification: &deploy.Verification{Step: 10, Steps: []int{10, 50}, WindowMS: 60000, ElapsedMS: 12000, Requests: 40, Errors: 1,
			ErrorRate: 0.025, P99MS: 18, Result: deploy.VerificationRunning}}
	addr := startAPI(t, api.NewServer(f, nil))
	code, out, _ := run(t, "ctl", "--api", addr, "status", "web")
	if want := "canary 10% 12.0s/1m0s  requests 40  errors 1 (2.5%)  p99 18ms (ctl promote web skips the rest)"; code != 0 || !strings.Contains(out, want) {
		t.Fatalf("exit %d, output lacks %q:\n%s", code, want, out)
	}
}
