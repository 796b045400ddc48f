package actors

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// TestSystem_StandbySurvivesFailedDeploys deploys v2 over v1 (blue's v1
// is then the standby, stopped) and then, into blue, an image whose health
// checks fail (rolled back), one whose container cannot start because
// blue's port is taken (failed) and one that is nowhere (failed at its
// pull): after each, blue's container is the same standby, under its own
// name, stopped, and nothing is left aside; a switch to it serves v1.
func TestSystem_StandbySurvivesFailedDeploys(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	app.healthTimeout = "4s"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)
	if d := h.deploy(app.name, imgV2, deploy.TriggerManual); d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy v2: %+v", d)
	}
	standby := dockerInspect(t, app.name+"-blue", "{{.Id}}")

	kept := func(after string) {
		t.Helper()
		eventually(t, 20*time.Second, func() bool {
			st := h.status(app.name)
			return st.Containers.Blue != nil && st.Containers.Blue.ID == standby
		}, func() string { return fmt.Sprintf("after %s blue is %+v", after, h.status(app.name).Containers.Blue) })
		if got := dockerInspect(t, app.name+"-blue", "{{.Id}} {{.State.Status}} {{.Config.Image}}"); got != standby+" exited "+imgV1 {
			t.Fatalf("after %s %s-blue is %q, want the standby %s, exited, %s", after, app.name, got, standby, imgV1)
		}
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+LabelApp+"="+app.name).CombinedOutput()
		if n := len(strings.Fields(string(out))); err != nil || n != 2 {
			t.Fatalf("after %s: %d containers of %s (%s), want blue and green", after, n, app.name, out)
		}
	}

	var r deploy.Response
	if code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgSick}, &r); code != http.StatusAccepted {
		t.Fatalf("deploy sick: %d %+v", code, r)
	}
	eventually(t, 20*time.Second, func() bool {
		return dockerInspect(t, app.name+"-blue-standby", "{{.Id}} {{.State.Status}}") == standby+" exited"
	}, func() string { return "the standby is not aside, stopped, while the candidate runs" })
	if d := h.wait(r.DeploymentID, 60*time.Second); d.Status != deploy.StatusRolledBack {
		t.Fatalf("deploy sick: %+v", d)
	}
	kept("a rolled back deploy")

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", app.blue)) // the candidate cannot publish blue's port
	if err != nil {
		t.Fatal(err)
	}
	d := h.deploy(app.name, imgCrash, deploy.TriggerManual)
	ln.Close()
	if d.Status != deploy.StatusFailed || !strings.Contains(d.Error, "address already in use") {
		t.Fatalf("deploy with blue's port taken: %+v", d)
	}
	kept("a failed deploy")

	if d := h.deploy(app.name, app.name+"-nowhere:v1", deploy.TriggerManual); d.Status != deploy.StatusFailed {
		t.Fatalf("deploy of a missing image: %+v", d)
	}
	kept("a failed pull")

	var st deploy.AppStatus
	if code := h.post("/api/apps/"+app.name+"/switch", map[string]string{"color": "blue"}, &st); code != http.StatusOK ||
		st.ActiveColor != deploy.Blue || st.CurrentImage != imgV1 {
		t.Fatalf("switch to the standby: %d %+v", code, st)
	}
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v1" {
		t.Fatalf("after the switch the proxy answered %q, %v", got, err)
	}
	if got := dockerInspect(t, app.name+"-blue", "{{.Id}}"); got != standby {
		t.Fatalf("blue serves %s, not the standby %s", got, standby)
	}
}

// TestSystem_RemovedAppStoppedAndAdopted removes an app with both colors'
// containers from the configs: its proxy port closes, its containers are
// stopped (not removed), app.removed is recorded; added back, it adopts
// them and serves again from the same containers.
func TestSystem_RemovedAppStoppedAndAdopted(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	keep := newTestApp(t, imgV1)
	keep.name += "k"
	testimage.Cleanup(t, keep.name)
	h := newHarness(t, app, keep)
	h.waitStable(app.name, imgV1, 60*time.Second)
	h.waitStable(keep.name, imgV1, 60*time.Second)
	h.deploy(app.name, imgV2, deploy.TriggerManual)
	ids := map[string]string{}
	for _, color := range []string{"blue", "green"} {
		ids[color] = dockerInspect(t, app.name+"-"+color, "{{.Id}}")
	}

	h.removeApp(app)
	var res deploy.ReloadResult
	if code := h.post("/api/reload", nil, &res); code != http.StatusOK || len(res.Removed) != 1 || res.Removed[0] != app.name {
		t.Fatalf("reload: %d %+v", code, res)
	}
	eventually(t, 20*time.Second, func() bool {
		var evs []deploy.Event
		h.get("/api/events?app="+app.name+"&limit=5", &evs)
		for _, e := range evs {
			if e.Type == deploy.EventAppRemoved {
				return true
			}
		}
		return false
	}, func() string { return "no app.removed event" })
	if _, err := body(http.DefaultClient, app.url("/")); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("the removed app's proxy: %v, want refused", err)
	}
	for color, id := range ids {
		if got := dockerInspect(t, app.name+"-"+color, "{{.Id}} {{.State.Status}}"); got != id+" exited" {
			t.Fatalf("%s after the removal: %q, want %s exited (stopped, not removed)", color, got, id)
		}
	}
	if got, err := body(http.DefaultClient, keep.url("/")); err != nil || got != "v1" {
		t.Fatalf("the other app answered %q, %v", got, err)
	}

	h.writeApp(app)
	if code := h.post("/api/reload", nil, &res); code != http.StatusOK || len(res.Added) != 1 {
		t.Fatalf("reload adding it back: %d %+v", code, res)
	}
	h.waitStable(app.name, imgV2, 60*time.Second)
	if got, err := body(http.DefaultClient, app.url("/")); err != nil || got != "v2" {
		t.Fatalf("added back, the proxy answered %q, %v", got, err)
	}
	for color, id := range ids {
		if got := dockerInspect(t, app.name+"-"+color, "{{.Id}}"); got != id {
			t.Fatalf("%s added back is %s, was %s: recreated", color, got, id)
		}
	}
}

// TestSystem_FirstChecksAreNotFailures deploys an image whose app listens
// only seconds after its container started: its checks before the first
// pass are starting, not failures (not in consecutive_failures, not
// counted as failed in the metrics); and a color's health shows the checks
// of its current container only.
func TestSystem_FirstChecksAreNotFailures(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	app.healthTimeout = "20s"
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)
	if d := h.deploy(app.name, imgSlow, deploy.TriggerManual); d.Status != deploy.StatusCompleted {
		t.Fatalf("deploy slow: %+v", d)
	}
	var health map[deploy.Color]deploy.ColorHealth
	h.get("/api/apps/"+app.name+"/health?limit=500", &health)
	green, starting := health[deploy.Green], 0
	for _, c := range green.Checks {
		if !c.Success && !c.Starting {
			t.Fatalf("a failed check that is no starting one: %+v", c)
		}
		if c.Starting {
			starting++
		}
	}
	if starting == 0 || green.ConsecutiveFailures != 0 || !green.Healthy {
		t.Fatalf("green %+v: want starting checks, no failure", green)
	}
	if n := metricLine(t, h, fmt.Sprintf(`bluegreen_health_checks_total{app=%q,color="green",result="failure"}`, app.name)); n != "" && n != "0" {
		t.Fatalf("green's failed checks counted: %s", n)
	}
	t.Logf("%d starting checks of green before its first pass", starting)

	// A rolled back candidate's checks go with it: blue's health is its
	// standby's (v1, which passed while it served).
	app.healthTimeout = "3s"
	h.writeApp(app)
	h.post("/api/reload", nil, nil)
	if d := h.deploy(app.name, imgSick, deploy.TriggerManual); d.Status != deploy.StatusRolledBack {
		t.Fatalf("deploy sick: %+v", d)
	}
	eventually(t, 20*time.Second, func() bool {
		h.get("/api/apps/"+app.name+"/health?limit=500", &health)
		return health[deploy.Blue].Status != deploy.NoContainer
	}, func() string { return fmt.Sprintf("blue %+v", health[deploy.Blue]) })
	blue := health[deploy.Blue]
	if len(blue.Checks) == 0 || blue.ConsecutiveFailures != 0 {
		t.Fatalf("blue %+v: want the standby's checks", blue)
	}
	for _, c := range blue.Checks {
		if c.StatusCode == http.StatusInternalServerError { // the sick app's answer
			t.Fatalf("blue shows a check of the rolled back candidate: %+v", c)
		}
	}
}

// TestSystem_KindsStatsAndRequests: each deployment's kind in the history,
// a switch left out of the stats, a switch to the active color answered
// with the status (nothing done), and a deploy of an image already queued
// answered with that queued deployment.
func TestSystem_KindsStatsAndRequests(t *testing.T) {
	buildImages(t)
	app := newTestApp(t, imgV1)
	h := newHarness(t, app)
	h.waitStable(app.name, imgV1, 60*time.Second)
	h.deploy(app.name, imgV2, deploy.TriggerManual)
	var st deploy.AppStatus
	if code := h.post("/api/apps/"+app.name+"/switch", map[string]string{"color": "green"}, &st); code != http.StatusOK ||
		st.ActiveColor != deploy.Green || st.Deployment != nil {
		t.Fatalf("switch to the active color: %d %+v", code, st)
	}
	if code := h.post("/api/apps/"+app.name+"/switch", map[string]string{"color": "blue"}, &st); code != http.StatusOK || st.ActiveColor != deploy.Blue {
		t.Fatalf("switch: %d %+v", code, st)
	}
	var r deploy.Response
	if code := h.post("/api/apps/"+app.name+"/rollback", nil, &r); code != http.StatusAccepted {
		t.Fatalf("rollback: %d %+v", code, r)
	}
	h.wait(r.DeploymentID, 60*time.Second)

	// The slow image takes seconds to pass: a request behind it is queued.
	var running, queued, again deploy.Response
	h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgSlow}, &running)
	h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgV1}, &queued)
	code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: imgV1}, &again)
	if queued.Status != deploy.AnswerQueued || code != http.StatusAccepted || again != queued {
		t.Fatalf("queued %+v, the same image again %d %+v: want the queued deployment", queued, code, again)
	}
	h.wait(running.DeploymentID, 60*time.Second)
	h.wait(queued.DeploymentID, 60*time.Second)

	var hist []deploy.Deployment
	h.get("/api/apps/"+app.name+"/history?limit=20", &hist)
	var kinds []string
	for _, d := range hist {
		kinds = append(kinds, string(d.Kind))
	}
	if got, want := strings.Join(kinds, " "), "deploy deploy rollback switch deploy config"; got != want {
		t.Fatalf("kinds, newest first: %s, want %s", got, want)
	}
	st = h.status(app.name)
	if st.Stats.Deployments != 5 || st.Stats.Completed != 5 {
		t.Fatalf("stats %+v: want 5 deployments, the switch left out", st.Stats)
	}
}

// removeApp removes a's config file.
func (h *harness) removeApp(a testApp) {
	h.t.Helper()
	if err := os.Remove(filepath.Join(h.dir, a.name+".yaml")); err != nil {
		h.t.Fatal(err)
	}
}

// metricLine returns the value of the series named by its head (name and
// labels as /metrics writes them), "" when there is none.
func metricLine(t *testing.T, h *harness, head string) string {
	t.Helper()
	resp, err := http.Get(h.api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, head+" "); ok {
			return v
		}
	}
	return ""
}
