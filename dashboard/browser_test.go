package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/cli"
	"github.com/bluegreen/bluegreen/dashboard"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// TestDashboard_Browser runs `bluegreen serve` with two apps in real
// containers and drives the dashboard in headless chromium over the DevTools
// protocol: what it shows, live updates, the actions, escaping of hostile
// text, and reconnecting when serve restarts.
func TestDashboard_Browser(t *testing.T) {
	testimage.RequireDocker(t)
	exe := requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	suffix := time.Now().UnixNano() % 1_000_000
	repo := fmt.Sprintf("bluegreen-test-dash-%d", suffix)
	v1 := testimage.Build(t, repo+":v1", map[string]string{"VERSION": "v1"})
	v2 := testimage.Build(t, repo+":v2", map[string]string{"VERSION": "v2"})
	broken := testimage.Build(t, repo+":broken", map[string]string{"VERSION": "broken", "HEALTH_MODE": "fail"})
	for _, img := range []string{v1, v2, broken} {
		t.Cleanup(func() { testimage.RemoveImage(t, img) })
	}
	web := fmt.Sprintf("dash-web-%d", suffix)
	worker := fmt.Sprintf("dash-worker-%d", suffix)
	dir := t.TempDir()
	for _, name := range []string{web, worker} {
		testimage.Cleanup(t, name)
		cfg := fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, interval: 200ms, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2}
docker: {expose_port: 3000, memory_limit: 64m}
deployment: {health_check_timeout: 3s, drain_timeout: 1s, websocket_drain_timeout: 1s, startup_timeout: 10s, stop_timeout: 1s}
`, name, v1, testimage.FreePort(t), testimage.FreePort(t), testimage.FreePort(t))
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testimage.FreePort(t))
	base := "http://" + addr
	db := filepath.Join(t.TempDir(), "bg.db")
	srv := startServe(t, dir, db, addr)
	c := &apiClient{t: t, base: base}
	for _, name := range []string{web, worker} {
		c.waitApp(ctx, name, func(st deploy.AppStatus) bool { return st.Status == deploy.AppStable && st.CurrentImage == v1 })
	}

	b := startBrowser(t, exe)
	p := b.newPage(ctx, t)
	start := time.Now()
	p.navigate(ctx, base+"/")
	loaded := time.Since(start)
	card := func(app string) string { return fmt.Sprintf(`document.querySelector('.card[data-app=%q]')`, app) }
	q := func(app, sel string) string {
		return fmt.Sprintf(`(%s && %s.querySelector(%q))`, card(app), card(app), sel)
	}
	txt := func(app, sel string) string { return fmt.Sprintf(`(%s || {textContent: ""}).textContent`, q(app, sel)) }
	pageText := `document.body.innerText.slice(0, 3000)`

	// What it shows: both apps with their status, colors, images and health.
	p.waitFor(ctx, 10*time.Second, "live", `document.querySelector('#conn').dataset.state === "live"`, `document.querySelector('#conn').dataset.state`)
	for _, app := range []string{web, worker} {
		p.waitFor(ctx, 10*time.Second, app+" shown with image v1, serving blue",
			fmt.Sprintf(`%s === %q && %s === "stable" && %s === "serving blue"`,
				txt(app, ".app-name"), app, txt(app, ".badges .badge"), txt(app, ".badge.color")+".trim()"),
			pageText)
		p.waitFor(ctx, 10*time.Second, app+" blue panel: active, image, healthy, sparkline",
			fmt.Sprintf(`%s.includes("active") && %s === %q && %s === "healthy" && %s.length > 0`,
				txt(app, ".color-panel.color-blue header"), txt(app, ".color-blue .container-image"), v1,
				txt(app, ".color-blue .health"),
				q(app, ".color-blue svg.spark")+".querySelectorAll('polyline')"),
			pageText)
		p.waitFor(ctx, 5*time.Second, app+" green panel without container, one completed deployment of kind config",
			fmt.Sprintf(`%s.includes("no container") && %s.querySelectorAll('.dep').length === 1 && %s === "completed" && %s === "config"`,
				txt(app, ".color-green"), card(app), txt(app, ".dep .badge"), txt(app, ".dep .kind")),
			pageText)
	}
	tm := p.timing(ctx)
	t.Logf("first load, cold browser: first contentful paint %.0f ms, load %.0f ms, apps shown %.0f ms (navigate round trip %v), %.1f KiB transferred",
		tm.FCP, tm.Load, tm.FirstApp, loaded.Round(time.Millisecond), tm.Bytes/1024)

	// No state change by looking: the page polls, and nothing deploys.
	p.waitFor(ctx, 10*time.Second, "two polls done",
		`performance.getEntriesByType('resource').filter(r => r.name.endsWith('/api/apps')).length >= 3`, "")
	for _, app := range []string{web, worker} {
		if h := c.history(ctx, app); len(h) != 1 {
			t.Fatalf("%s has %d deployments after the page was open, want the first one only: %+v", app, len(h), h)
		}
	}
	p.eval(ctx, `window.__sameDocument = true`, nil)
	checkProblems(t, p)

	// Live: a deploy through the API shows up without a reload.
	d := c.deploy(ctx, web, v2)
	if d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy %s: %+v", v2, d)
	}
	done := time.Now()
	p.waitFor(ctx, 10*time.Second, "new image "+v2+" shown live",
		fmt.Sprintf(`%s === %q && %s === "serving green" && %s === %q`, txt(web, ".app-image"), v2,
			txt(web, ".badge.color")+".trim()", txt(web, ".color-green .container-image"), v2), pageText)
	t.Logf("page showed %s %v after the deployment completed", v2, time.Since(done).Round(time.Millisecond))
	p.waitFor(ctx, 5*time.Second, "timeline with the new deployment and its phases",
		fmt.Sprintf(`%s === "#%d" && %s.querySelectorAll('.seg').length >= 3 && %s === "deploy"`, txt(web, ".dep .dep-id"), d.DeploymentID,
			q(web, ".dep .bar"), txt(web, ".dep .kind")), pageText)

	// A deployment that rolls back, with its container's log lines, while the
	// page shows the running phase.
	if r := c.post(ctx, "/api/apps/"+worker+"/deploy", map[string]string{"desired_image": broken}); r.Status != deploy.AnswerStarted {
		t.Fatalf("deploy %s: %+v", broken, r)
	}
	p.waitFor(ctx, 10*time.Second, worker+" running deployment shown",
		fmt.Sprintf(`!%s.hidden && %s.includes("Deployment #")`, q(worker, ".running"), txt(worker, ".running")), pageText)

	// Hostile text: an image reference that is HTML comes back in the
	// error answer and is shown as text.
	hostile := `<img/src=x/onerror=window.__xss=1>`
	p.typeText(ctx, fmt.Sprintf(`.card[data-app=%q] .deploy-image`, web), hostile)
	p.click(ctx, fmt.Sprintf(`.card[data-app=%q] .btn-deploy`, web))
	p.waitFor(ctx, 5*time.Second, "confirmation dialog", `document.querySelector('#confirm').open && document.querySelector('#confirm-details').textContent.includes("<img")`, "")
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 10*time.Second, "error answer shown as text",
		fmt.Sprintf(`%s.includes("400 invalid") && %s.includes(%q)`, txt(web, ".msg.err"), txt(web, ".msg.err"), hostile),
		txt(web, ".msg"))
	var xss struct {
		Imgs int
		XSS  bool
	}
	p.eval(ctx, `({imgs: document.querySelectorAll('img').length, xss: !!window.__xss})`, &xss)
	if xss.Imgs != 0 || xss.XSS {
		t.Fatalf("hostile text became markup: %+v", xss)
	}
	if h := c.history(ctx, web); len(h) != 2 {
		t.Fatalf("a refused deploy changed history: %+v", h)
	}
	for _, prob := range p.takeProblems() {
		if !strings.Contains(prob, "status of 400") { // the browser logs the refused POST
			t.Errorf("page problem: %s", prob)
		}
	}

	// Roll back, clicked: it starts a deployment of the previous image.
	p.click(ctx, fmt.Sprintf(`.card[data-app=%q] .btn-rollback`, web))
	p.waitFor(ctx, 5*time.Second, "rollback confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-title').textContent.includes("Roll back")`, "")
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 10*time.Second, "rollback answer shown", txt(web, ".msg.ok")+`.includes("Rollback started: deployment #")`, txt(web, ".msg"))
	hist := c.history(ctx, web)
	if len(hist) != 3 || hist[0].ToImage != v1 || hist[0].FromImage != v2 || hist[0].DeploymentID <= d.DeploymentID {
		t.Fatalf("after clicking roll back, history = %+v", hist)
	}
	var shown string
	p.eval(ctx, txt(web, ".msg.ok"), &shown)
	if !strings.Contains(shown, fmt.Sprintf("#%d", hist[0].DeploymentID)) {
		t.Fatalf("page says %q, the API started deployment %d", shown, hist[0].DeploymentID)
	}
	c.waitApp(ctx, web, func(st deploy.AppStatus) bool { return st.Status == deploy.AppStable && st.CurrentImage == v1 })
	p.waitFor(ctx, 10*time.Second, "rolled back image shown", fmt.Sprintf(`%s === %q && %s === "serving blue"`,
		txt(web, ".app-image"), v1, txt(web, ".badge.color")+".trim()"), pageText)

	// Switch, clicked: traffic moves to green (v2, stopped but kept).
	p.waitFor(ctx, 5*time.Second, "switch offered", fmt.Sprintf(`%s === "Switch to green" && !%s.disabled`,
		txt(web, ".btn-switch")+".trim()", q(web, ".btn-switch")), pageText)
	p.click(ctx, fmt.Sprintf(`.card[data-app=%q] .btn-switch`, web))
	p.waitFor(ctx, 5*time.Second, "switch confirmation", `document.querySelector('#confirm').open`, "")
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 20*time.Second, "switch answer shown", txt(web, ".msg")+`.includes("Switched")`, txt(web, ".msg"))
	if st := c.status(ctx, web); st.ActiveColor != "green" || st.CurrentImage != v2 {
		t.Fatalf("after clicking switch: %+v", st)
	}
	p.waitFor(ctx, 10*time.Second, "switched color shown", txt(web, ".badge.color")+`.trim() === "serving green"`, pageText)

	trafficControl(ctx, t, p, c, web, txt, q, pageText)

	// The rolled back deployment: status, error and log lines as text.
	c.waitApp(ctx, worker, func(st deploy.AppStatus) bool {
		return st.Deployment == nil && st.LastDeployment != nil && st.LastDeployment.Done()
	})
	p.waitFor(ctx, 10*time.Second, worker+" rolled back shown", txt(worker, ".dep .badge")+` === "rolled back"`, pageText)
	p.click(ctx, fmt.Sprintf(`.card[data-app=%q] .dep .dep-row`, worker))
	wh := c.history(ctx, worker)
	full := c.deployment(ctx, wh[0].DeploymentID)
	if len(full.Logs) == 0 {
		t.Fatalf("rolled back deployment has no log lines: %+v", full)
	}
	p.waitFor(ctx, 10*time.Second, "log lines of the failed container",
		fmt.Sprintf(`%s.includes(%q) && %s.includes("health_check_timeout")`, txt(worker, "pre.logs"), full.Logs[len(full.Logs)-1], txt(worker, ".dep-detail")),
		txt(worker, ".dep-detail"))
	checkProblems(t, p)

	// serve restarts: a banner while it is gone, then the page reconnects by
	// itself and shows the state again, in the same document.
	srv.stop(t)
	p.waitFor(ctx, 10*time.Second, "disconnected banner", `!document.querySelector('#banner').hidden && document.querySelector('#conn').dataset.state !== "live"`,
		`document.querySelector('#banner').textContent`)
	p.takeProblems() // the browser logs the refused reconnects
	srv = startServe(t, dir, db, addr)
	p.waitFor(ctx, 30*time.Second, "reconnected", `document.querySelector('#banner').hidden && document.querySelector('#conn').dataset.state === "live"`,
		`document.querySelector('#banner').textContent`)
	p.waitFor(ctx, 10*time.Second, "state shown after reconnect", fmt.Sprintf(`window.__sameDocument === true && %s === %q && !%s.classList.contains("stale")`,
		txt(web, ".app-image"), v2, card(web)), pageText)
	for _, prob := range p.takeProblems() {
		if !strings.Contains(prob, "net::ERR_CONNECTION_REFUSED") && !strings.Contains(prob, "WebSocket") {
			t.Errorf("page problem: %s", prob)
		}
	}

	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := p.screenshot(ctx, path); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot: %s (kept with go test -artifacts -outputdir DIR)", path)

	// Load timing, reported (not asserted): warm browser, cache off, against
	// an empty page in the same browser as the floor.
	p.call(ctx, "Network.enable", nil, nil)
	p.call(ctx, "Network.setCacheDisabled", map[string]any{"cacheDisabled": true}, nil)
	page := medianTiming(ctx, p, base+"/", 5, true)
	floor := medianTiming(ctx, p, emptyPage, 5, false)
	t.Logf("load timing, median of 5, cache off: first contentful paint %.0f ms (an empty page: %.0f ms), DOMContentLoaded %.0f ms, load %.0f ms, apps shown %.0f ms",
		page.FCP, floor.FCP, page.DCL, page.Load, page.FirstApp)
	checkProblems(t, p)
	srv.stop(t)
}

// trafficControl drives the Pause, Maintenance and Resume buttons of app's
// card: the mode shows on the page (from the answer and from the events)
// and in the API; a value the API refuses is shown with its message; a
// hostile message stays text.
func trafficControl(ctx context.Context, t *testing.T, p *cdpPage, c *apiClient, app string,
	txt func(app, sel string) string, q func(app, sel string) string, pageText string) {
	t.Helper()
	card := fmt.Sprintf(`.card[data-app=%q]`, app)
	dialogField := func(name string) string { return fmt.Sprintf(`#confirm-fields input[name=%q]`, name) }

	p.waitFor(ctx, 5*time.Second, "serving, Resume not offered", fmt.Sprintf(`document.querySelector(%q).dataset.traffic === "serving" && %s.disabled && !%s`,
		card, q(app, ".btn-resume"), q(app, ".traffic-badge")), pageText)

	// A max wait the API refuses: its message on the page, nothing changed.
	p.click(ctx, card+" .btn-pause")
	p.waitFor(ctx, 5*time.Second, "pause dialog with its max wait", `document.querySelector('#confirm').open && `+
		fmt.Sprintf(`document.querySelector(%q).value === "30s"`, dialogField("max_wait")), "")
	p.typeText(ctx, dialogField("max_wait"), "1h")
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 10*time.Second, "the refusal shown", txt(app, ".msg.err")+`.includes("400 invalid: max_wait 1h is out of range: use 1s to 10m")`, txt(app, ".msg"))
	if st := c.status(ctx, app); st.Traffic.Mode != deploy.TrafficServing {
		t.Fatalf("a refused pause changed the mode: %+v", st.Traffic)
	}
	p.takeProblems() // the browser logs the refused POST

	p.click(ctx, card+" .btn-pause")
	p.waitFor(ctx, 5*time.Second, "pause dialog", `document.querySelector('#confirm').open`, "")
	p.typeText(ctx, dialogField("max_wait"), "45s")
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 10*time.Second, "paused shown", fmt.Sprintf(`%s.includes("Paused") && document.querySelector(%q).dataset.traffic === "paused" && %s === "paused" && %s.includes("max wait 45s") && !%s.disabled`,
		txt(app, ".msg.ok"), card, txt(app, ".traffic-badge"), txt(app, ".traffic-state"), q(app, ".btn-resume")), txt(app, ".traffic"))
	if st := c.status(ctx, app); st.Traffic.Mode != deploy.TrafficPaused || st.Traffic.MaxWaitMS != 45000 {
		t.Fatalf("after clicking pause: %+v", st.Traffic)
	}

	// Maintenance through the API: the page follows the event; then a
	// hostile message typed in the dialog shows as text.
	if r := c.postStatus(ctx, "/api/apps/"+app+"/maintenance", map[string]string{"message": "back soon"}); r.Traffic.Mode != deploy.TrafficMaintenance {
		t.Fatalf("maintenance through the API: %+v", r.Traffic)
	}
	p.waitFor(ctx, 10*time.Second, "maintenance shown live", fmt.Sprintf(`document.querySelector(%q).dataset.traffic === "maintenance" && %s === "in maintenance" && %s === "back soon"`,
		card, txt(app, ".traffic-badge"), txt(app, ".traffic-message")), txt(app, ".traffic"))
	hostile := `<img src=x onerror=window.__xss2=1>`
	p.click(ctx, card+" .btn-maintenance")
	p.waitFor(ctx, 5*time.Second, "maintenance dialog with the current message", fmt.Sprintf(`document.querySelector('#confirm').open && document.querySelector(%q).value === "back soon"`, dialogField("message")), "")
	p.typeText(ctx, dialogField("message"), hostile)
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 10*time.Second, "the new message shown as text", fmt.Sprintf(`%s === %q`, txt(app, ".traffic-message"), hostile), txt(app, ".traffic"))
	var xss struct {
		Imgs int
		XSS  bool
	}
	p.eval(ctx, `({imgs: document.querySelectorAll('img').length, xss: !!window.__xss2})`, &xss)
	if xss.Imgs != 0 || xss.XSS {
		t.Fatalf("a hostile message became markup: %+v", xss)
	}

	p.click(ctx, card+" .btn-resume")
	p.waitFor(ctx, 5*time.Second, "resume confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-title').textContent.includes("Resume")`, "")
	p.click(ctx, "#confirm-ok")
	p.waitFor(ctx, 10*time.Second, "serving again", fmt.Sprintf(`document.querySelector(%q).dataset.traffic === "serving" && !%s && %s.disabled`,
		card, q(app, ".traffic-badge"), q(app, ".btn-resume")), txt(app, ".traffic"))
	if st := c.status(ctx, app); st.Traffic.Mode != deploy.TrafficServing {
		t.Fatalf("after clicking resume: %+v", st.Traffic)
	}
	checkProblems(t, p)
}

// emptyPage is the floor of the timings: what the browser itself needs.
const emptyPage = "data:text/html,<title>t</title><p>empty page</p>"

// pageTiming is what the Performance API says of the last navigation, in
// milliseconds from its start.
type pageTiming struct {
	FCP, DCL, Load, FirstApp, Bytes float64
}

func (p *cdpPage) timing(ctx context.Context) pageTiming {
	p.t.Helper()
	var tm pageTiming
	err := p.eval(ctx, `(() => { const n = performance.getEntriesByType('navigation')[0];
		const at = (name) => { const e = performance.getEntriesByName(name)[0]; return e ? e.startTime : -1; };
		let bytes = n.encodedBodySize; for (const r of performance.getEntriesByType('resource')) if (r.name.includes('/ui/')) bytes += r.encodedBodySize;
		return {fcp: at('first-contentful-paint'), dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, firstApp: at('bluegreen:first-app'), bytes: bytes}; })()`, &tm)
	if err != nil {
		p.t.Fatalf("timing: %v", err)
	}
	return tm
}

// medianTiming loads url n times and returns the median of each figure;
// with waitApps, each load waits until the page shows its apps.
func medianTiming(ctx context.Context, p *cdpPage, url string, n int, waitApps bool) pageTiming {
	p.t.Helper()
	var runs []pageTiming
	for range n {
		p.navigate(ctx, url)
		if waitApps {
			p.waitFor(ctx, 10*time.Second, "apps shown", `performance.getEntriesByName('bluegreen:first-app').length > 0`, "")
		}
		p.waitFor(ctx, 5*time.Second, "first paint", `performance.getEntriesByName('first-contentful-paint').length > 0`, "")
		runs = append(runs, p.timing(ctx))
	}
	med := func(f func(pageTiming) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return pageTiming{
		FCP: med(func(r pageTiming) float64 { return r.FCP }), DCL: med(func(r pageTiming) float64 { return r.DCL }),
		Load: med(func(r pageTiming) float64 { return r.Load }), FirstApp: med(func(r pageTiming) float64 { return r.FirstApp }),
	}
}

// checkProblems fails the test for every exception, console error or
// security (CSP) message the page logged.
func checkProblems(t *testing.T, p *cdpPage) {
	t.Helper()
	for _, prob := range p.takeProblems() {
		t.Errorf("page problem: %s", prob)
	}
}

// serveProc is `bluegreen serve` running in this test process.
type serveProc struct {
	cancel context.CancelFunc
	done   chan int
	logs   *syncBuffer
}

func startServe(t testing.TB, apps, db, addr string) *serveProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serveProc{cancel: cancel, done: make(chan int, 1), logs: &syncBuffer{}}
	go func() {
		s.done <- cli.Run(ctx, []string{"serve", "--apps", apps, "--db", db, "--api", addr, "--log-format", "json"}, io.Discard, s.logs)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if t.Failed() {
			t.Logf("serve logs:\n%s", s.logs.String())
		}
	})
	// Wait until it answers, or fail with its output when it exits.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("serve exited %d:\n%s", code, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer on %s within 30s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *serveProc) stop(t testing.TB) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, s.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s")
	}
}

// apiClient is the test's own view of the API, to check what the page did.
type apiClient struct {
	t    *testing.T
	base string
}

func (c *apiClient) get(ctx context.Context, path string, out any) {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		c.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func (c *apiClient) post(ctx context.Context, path string, body any) deploy.Response {
	c.t.Helper()
	var r deploy.Response
	c.postJSON(ctx, path, body, &r)
	return r
}

// postStatus posts body to path, a route that answers an AppStatus.
func (c *apiClient) postStatus(ctx context.Context, path string, body any) deploy.AppStatus {
	c.t.Helper()
	var st deploy.AppStatus
	c.postJSON(ctx, path, body, &st)
	return st
}

// postJSON posts body to path and decodes the answer into out.
func (c *apiClient) postJSON(ctx context.Context, path string, body, out any) {
	c.t.Helper()
	buf, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(buf))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 || json.Unmarshal(b, out) != nil {
		c.t.Fatalf("POST %s: %s %s", path, resp.Status, b)
	}
}

// deploy deploys image and waits for the deployment to end.
func (c *apiClient) deploy(ctx context.Context, app, image string) deploy.Deployment {
	c.t.Helper()
	buf, _ := json.Marshal(deploy.Request{DesiredImage: image})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/apps/"+app+"/deploy?wait=true", bytes.NewReader(buf))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("deploy %s: %v", image, err)
	}
	defer resp.Body.Close()
	var d deploy.Deployment
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &d) != nil {
		c.t.Fatalf("deploy %s: %s %s", image, resp.Status, b)
	}
	return d
}

func (c *apiClient) status(ctx context.Context, app string) deploy.AppStatus {
	c.t.Helper()
	var st deploy.AppStatus
	c.get(ctx, "/api/apps/"+app+"/status", &st)
	return st
}

func (c *apiClient) history(ctx context.Context, app string) []deploy.Deployment {
	c.t.Helper()
	var h []deploy.Deployment
	c.get(ctx, "/api/apps/"+app+"/history", &h)
	return h
}

func (c *apiClient) deployment(ctx context.Context, id int64) deploy.Deployment {
	c.t.Helper()
	var d deploy.Deployment
	c.get(ctx, fmt.Sprintf("/api/deployments/%d", id), &d)
	return d
}

// waitApp waits up to 60s for the app's status to satisfy ok.
func (c *apiClient) waitApp(ctx context.Context, app string, ok func(deploy.AppStatus) bool) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := c.status(ctx, app)
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not as expected within 60s: %+v", app, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use (serve's log).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// BenchmarkDashboard_Load loads the page in headless chromium from a running
// serve (with no apps, so no Docker is needed) and reports the median first
// contentful paint, DOMContentLoaded and load of b.N navigations with the
// cache off, and the first paint of an empty page in the same browser.
//
//	go test -run '^$' -bench Dashboard_Load -benchtime 20x ./dashboard
func BenchmarkDashboard_Load(b *testing.B) {
	exe := requireChromium(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", testimage.FreePort(b))
	startServe(b, b.TempDir(), filepath.Join(b.TempDir(), "bg.db"), addr)
	p := startBrowser(b, exe).newPage(ctx, b)
	p.call(ctx, "Network.enable", nil, nil)
	p.call(ctx, "Network.setCacheDisabled", map[string]any{"cacheDisabled": true}, nil)
	p.navigate(ctx, "http://"+addr+"/") // a first, cold navigation
	b.ResetTimer()
	page := medianTiming(ctx, p, "http://"+addr+"/", b.N, false)
	b.StopTimer()
	floor := medianTiming(ctx, p, emptyPage, min(b.N, 10), false)
	b.ReportMetric(page.FCP, "fcp-ms")
	b.ReportMetric(page.DCL, "dcl-ms")
	b.ReportMetric(page.Load, "load-ms")
	b.ReportMetric(floor.FCP, "empty-page-fcp-ms")
	b.ReportMetric(float64(dashboard.Size())/1024, "page-KiB")
}
