package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// TestDashboard_VerificationWindow runs `bluegreen serve` with a verified
// app (canary step 50, then verifying) and drives the dashboard in
// headless chromium: the running deployment shows its canary step and the
// window's requests, errors and p99 as they grow, and the Promote button
// skips the rest, through the API.
func TestDashboard_VerificationWindow(t *testing.T) {
	testimage.RequireDocker(t)
	exe := requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	suffix := time.Now().UnixNano() % 1_000_000
	repo := fmt.Sprintf("bluegreen-test-dashv-%d", suffix)
	v1 := testimage.Build(t, repo+":v1", map[string]string{"VERSION": "v1"})
	v2 := testimage.Build(t, repo+":v2", map[string]string{"VERSION": "v2"})
	for _, img := range []string{v1, v2} {
		t.Cleanup(func() { testimage.RemoveImage(t, img) })
	}
	app := fmt.Sprintf("dash-verify-%d", suffix)
	testimage.Cleanup(t, app)
	proxyPort := testimage.FreePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, interval: 200ms, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2}
docker: {expose_port: 3000, memory_limit: 64m}
deployment:
  drain_timeout: 1s
  stop_timeout: 1s
  verify: {window: 10m, min_requests: 5}
  canary: [50]
`, app, v1, proxyPort, testimage.FreePort(t), testimage.FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, app+".yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testimage.FreePort(t))
	base := "http://" + addr
	startServe(t, dir, filepath.Join(t.TempDir(), "bg.db"), addr)
	c := &apiClient{t: t, base: base}
	c.waitApp(ctx, app, func(st deploy.AppStatus) bool { return st.Status == deploy.AppStable && st.CurrentImage == v1 })

	b := startBrowser(t, exe)
	p := b.newPage(ctx, t)
	p.navigate(ctx, base+"/")
	card := fmt.Sprintf(`.card[data-app=%q]`, app)
	win := func(sel string) string {
		return fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, card+" .window "+sel)
	}

	resp := c.post(ctx, "/api/apps/"+app+"/deploy", deploy.Request{DesiredImage: v2})
	c.waitApp(ctx, app, func(st deploy.AppStatus) bool {
		return st.Deployment != nil && st.Deployment.Status == deploy.StatusCanary
	})
	p.waitFor(ctx, 10*time.Second, "the canary step in the running deployment",
		win(".window-step")+` === "canary 50%" && document.querySelector(`+fmt.Sprintf("%q", card+` .step[data-phase="verifying"]`)+`) !== null`, win(""))

	// Traffic: the window's numbers grow on the page, by the poll.
	client := &http.Client{Timeout: 5 * time.Second}
	for range 40 {
		if r, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)); err == nil {
			r.Body.Close()
		}
	}
	c.waitApp(ctx, app, func(st deploy.AppStatus) bool {
		return st.Deployment != nil && st.Deployment.Verification != nil && st.Deployment.Verification.Requests > 0
	})
	p.waitFor(ctx, 10*time.Second, "the window's requests and p99", `Number(`+win(".window-requests")+`) > 0 && `+win(".window-p99")+` !== "–"`, win(""))
	if got := evalString(ctx, t, p, win(".window-errors")); got != "0" {
		t.Errorf("errors shown %q, want 0", got)
	}

	// Promote, clicked: the rest is skipped and the deployment completes.
	p.click(ctx, card+" .btn-promote")
	p.waitFor(ctx, 5*time.Second, "promote confirmation",
		`document.querySelector('#confirm').open && document.querySelector('#confirm-title').textContent.includes("Promote")`, "")
	p.click(ctx, "#confirm-ok")
	c.waitApp(ctx, app, func(st deploy.AppStatus) bool { return st.Status == deploy.AppStable && st.CurrentImage == v2 })
	d := c.deployment(ctx, resp.DeploymentID)
	if d.Status != deploy.StatusCompleted || d.Verification == nil || d.Verification.Result != deploy.VerificationPromoted {
		t.Fatalf("after clicking promote: %s %+v", d.Status, d.Verification)
	}
	p.waitFor(ctx, 10*time.Second, "the promote's message and no window any more",
		fmt.Sprintf(`document.querySelector(%q) === null && (document.querySelector(%q) || {textContent: ""}).textContent.includes("Promoted")`,
			card+" .window", card+" .msg-text"), `document.body.innerText.slice(0, 2000)`)
	if probs := p.takeProblems(); len(probs) > 0 {
		t.Errorf("the page logged problems: %s", strings.Join(probs, "\n"))
	}
}

// evalString evaluates a JavaScript expression on the page as a string.
func evalString(ctx context.Context, t *testing.T, p *cdpPage, expr string) string {
	t.Helper()
	var s string
	if err := p.eval(ctx, expr, &s); err != nil {
		t.Fatal(err)
	}
	return s
}
