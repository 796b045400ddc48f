package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// Windows by fault. A serve that is gone excuses everything until the new
// one answers; a container that is gone excuses its WebSockets, and its
// requests while containerOutageExcused; a deployment's switch and an
// upgrade close WebSockets with 1001 (their drain).
const (
	serveGone = excuseHTTP | excuseWebSocket | excuseGoingAway
	drain     = excuseGoingAway
)

func containerGone() excuse {
	if containerOutageExcused {
		return excuseHTTP | excuseWebSocket | excuseGoingAway
	}
	return excuseWebSocket | excuseGoingAway
}

// inject injects one fault and returns once it did its part (the settle
// after it is the caller's).
func (k *soak) inject(st step) {
	k.t.Helper()
	switch st.kind {
	case faultDeployGood:
		f := k.begin(st.kind, "app %d", st.app)
		k.open(f, st.app, drain)
		k.deployGood(st.app)
	case faultDeployBad:
		k.begin(st.kind, "app %d: %s", st.app, imgSick)
		k.deployBad(st.app)
	case faultDeployBurst:
		f := k.begin(st.kind, "app %d: %s, %v apart", st.app, strings.Join(st.burst, ", "), st.gaps)
		k.open(f, st.app, drain)
		k.deployBurst(st)
	case faultDockerKill:
		k.dockerKill(st)
	case faultKill9, faultSIGTERM:
		k.restartServe(st)
	case faultUpgrade:
		k.upgrade(st)
	case faultReload:
		k.reload(st)
	case faultDockerCut:
		k.dockerCut(st)
	case faultDockerRestart:
		k.dockerRestart()
	}
}

// otherGood is the good image that app i does not run.
func (k *soak) otherGood(i int) string {
	k.t.Helper()
	st, err := k.s.status(k.apps[i].name)
	if err != nil {
		k.t.Fatalf("status of app %d: %v", i, err)
	}
	if st.CurrentImage == imgV1 {
		return imgV2
	}
	return imgV1
}

// request asks for a deployment of image and returns its id (0: none was
// needed).
func (k *soak) request(i int, image string) int64 {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := k.s.client.Deploy(ctx, k.apps[i].name, deploy.Request{DesiredImage: image})
	if err != nil {
		k.t.Fatalf("deploy %s to app %d: %v", image, i, err)
	}
	if r.Status == deploy.AnswerUnchanged {
		return 0
	}
	return r.DeploymentID
}

func (k *soak) deployGood(i int) {
	image := k.otherGood(i)
	if id := k.request(i, image); id != 0 {
		if d := k.s.ended(id, 90*time.Second); d.Status != deploy.StatusCompleted {
			k.t.Errorf("deployment %d of %s to app %d ended %s: %s", id, image, i, d.Status, d.Error)
		}
	}
}

// deployBad deploys the unhealthy image: it must be rolled back (and the
// load checks it never answered).
func (k *soak) deployBad(i int) {
	id := k.request(i, imgSick)
	if d := k.s.ended(id, 90*time.Second); d.Status != deploy.StatusRolledBack {
		k.t.Errorf("deployment %d of the bad image to app %d ended %s, want rolled_back: %s", id, i, d.Status, d.Error)
	}
}

// deployBurst asks for the images one after the other, then checks how
// each deployment ended.
func (k *soak) deployBurst(st step) {
	ids := map[int64]string{}
	var order []int64
	for n, image := range st.burst {
		if n > 0 {
			k.load.pause(st.gaps[n-1])
		}
		if id := k.request(st.app, image); id != 0 && ids[id] == "" {
			ids[id] = image
			order = append(order, id)
		}
	}
	for _, id := range order {
		d := k.s.ended(id, 120*time.Second)
		want := []deploy.Status{deploy.StatusCompleted, deploy.StatusSuperseded}
		if ids[id] == imgSick {
			want = []deploy.Status{deploy.StatusRolledBack, deploy.StatusSuperseded}
		}
		if !slices.Contains(want, d.Status) {
			k.t.Errorf("burst: deployment %d of %s to app %d ended %s, want one of %v: %s", id, ids[id], st.app, d.Status, want, d.Error)
		}
	}
}

// lastEvent is the id of the newest event of app ("": of all).
func (k *soak) lastEvent(app string) int64 {
	k.t.Helper()
	var last int64
	for {
		evs := k.s.events(app, last)
		if len(evs) == 0 {
			return last
		}
		last = evs[len(evs)-1].ID
	}
}

// dockerKill kills the active container of the app as Docker's CLI does
// (Docker does not restart it), waits until bluegreen started it again,
// and until the app is stable.
func (k *soak) dockerKill(st step) {
	a := k.apps[st.app]
	status := k.settleApp(st.app, 10*time.Second)
	name := a.name + "-" + string(status.ActiveColor)
	after := k.lastEvent(a.name)
	f := k.begin(faultDockerKill, "app %d: %s", st.app, name)
	w := k.open(f, st.app, containerGone())
	killed := time.Now()
	if out, err := exec.Command("docker", "kill", name).CombinedOutput(); err != nil {
		k.t.Fatalf("docker kill %s: %v %s", name, err, out)
	}
	exited := k.s.event(a.name, deploy.EventContainerExited, after, 15*time.Second)
	if !containerOutageExcused {
		k.inFlightAtDeath(f, st.app, name, killed)
	}
	k.s.event(a.name, deploy.EventContainerStarted, exited.ID, 30*time.Second)
	k.settleApp(st.app, 60*time.Second)
	k.close(w)
}

// inFlightAtDeath excuses the POSTs of app that were in flight when its
// container name died (killed: when the kill began): they were sent
// already, and a POST is never sent twice (docs/proxy.md, "Retries"). So
// are those sent before bluegreen learnt of it (the latency of Docker's
// kill event): they met a port that no longer answers. A GET whose
// connection was lost then is held and sent again, and the outage hold
// keeps every request that begins after that (docs/traffic.md): none of
// them is excused.
func (k *soak) inFlightAtDeath(fault, app int, name string, killed time.Time) {
	k.t.Helper()
	var held time.Time
	waitFor(k.t, 10*time.Second, "the outage hold of "+name+" in serve's log", func() (bool, string) {
		var ok bool
		held, ok = k.s.holdBegan(k.apps[app].name, killed.Add(-time.Second))
		return ok, ""
	})
	k.postsInFlight(fault, app, name, killed, held)
}

// postsInFlight excuses the POSTs of app in flight from from until its
// container name died, or until knew when that is later (when bluegreen
// learnt of it). A container stopped while serve cannot reach Docker (a
// socket cut) is such a death too: serve learns of it from each request's
// refused connection, and the POSTs sent before fail as at a docker kill.
func (k *soak) postsInFlight(fault, app int, name string, from, knew time.Time) {
	k.t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.FinishedAt}}", name).CombinedOutput()
	if err != nil {
		k.t.Fatalf("docker inspect %s: %v %s", name, err, out)
	}
	died, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
	if err != nil {
		k.t.Fatal(err)
	}
	end := died
	if knew.After(end) {
		end = knew
	}
	k.windows = append(k.windows, window{fault: fault, app: app, excuse: excusePost, from: from, to: end})
}

// restartServe kills serve (-9) or stops it (SIGTERM), maybe while a
// deployment runs, and starts a new one: each app's window lasts until the
// new one answers.
func (k *soak) restartServe(st step) {
	old := k.current()
	what := fmt.Sprintf("pid %d", old.pid)
	if st.during {
		image := k.otherGood(st.app)
		k.request(st.app, image)
		what += fmt.Sprintf(", %s after a deploy of %s to app %d", st.delay.Round(time.Millisecond), image, st.app)
		k.load.pause(st.delay)
	}
	f := k.begin(st.kind, "%s", what)
	ws := make([]int, len(k.apps))
	for i := range k.apps {
		ws[i] = k.open(f, i, serveGone)
	}
	sig := syscall.SIGKILL
	if st.kind == faultSIGTERM {
		sig = syscall.SIGTERM
	}
	if err := old.signal(sig); err != nil {
		k.t.Fatal(err)
	}
	if !old.exited(60 * time.Second) {
		k.t.Fatalf("serve pid %d did not exit within 60s of %v", old.pid, sig)
	}
	if sig == syscall.SIGTERM && old.code != 0 && old.code != -1 {
		k.t.Errorf("serve pid %d exited %d after SIGTERM, want 0", old.pid, old.code)
	}
	started := time.Now()
	k.startServe()
	var took []string
	for i := range k.apps {
		at := k.answered(i, 30*time.Second)
		k.close(ws[i])
		took = append(took, at.Sub(started).Round(time.Millisecond).String())
	}
	k.open(f, -1, drain) // the new serve finishes or repeats a deployment the old one left
	k.t.Logf("          the new serve answered after %s", strings.Join(took, ", "))
}

// upgrade installs the other build and sends SIGUSR2, maybe while a
// deployment runs: no request may fail; WebSockets of the old process get
// 1001 at websocket_drain_timeout.
func (k *soak) upgrade(st step) {
	old := k.current()
	k.build = 1 - k.build
	k.s.install([]string{bin1, bin2}[k.build])
	want := []string{version1, version2}[k.build]
	what := fmt.Sprintf("pid %d to %s", old.pid, want)
	if st.during {
		image := k.otherGood(st.app)
		k.request(st.app, image)
		what += fmt.Sprintf(", with a deploy of %s to app %d in flight", image, st.app)
	}
	f := k.begin(faultUpgrade, "%s", what)
	w := k.open(f, -1, drain)
	if err := old.signal(syscall.SIGUSR2); err != nil {
		k.t.Fatal(err)
	}
	waitFor(k.t, 90*time.Second, "the new process on /health", func() (bool, string) {
		h, err := k.s.health()
		return err == nil && h.PID != old.pid && h.Version == want, fmt.Sprintf("%+v %v", h, err)
	})
	k.current()
	if !old.exited(60 * time.Second) {
		k.t.Fatalf("the old serve pid %d did not exit within 60s of the upgrade", old.pid)
	}
	if old.code != 0 && old.code != -1 {
		k.t.Errorf("the old serve pid %d exited %d after the upgrade, want 0", old.pid, old.code)
	}
	k.close(w)
}

// reload changes app's drain and health-check interval in its file and
// sends SIGHUP: the reload must say the app changed.
func (k *soak) reload(st step) {
	pr := k.current()
	after := k.lastEvent("")
	k.reloads[st.app]++
	k.writeApp(st.app)
	k.begin(faultReload, "app %d: drain %s", st.app, k.apps[st.app].drain)
	if err := pr.signal(syscall.SIGHUP); err != nil {
		k.t.Fatal(err)
	}
	name := k.apps[st.app].name
	waitFor(k.t, 20*time.Second, "config.reloaded naming app "+name, func() (bool, string) {
		for _, e := range k.s.events("", after) {
			var d struct {
				Changed []string `json:"changed"`
			}
			if e.Type == deploy.EventConfigReloaded && e.App == "" && json.Unmarshal(e.Data, &d) == nil && slices.Contains(d.Changed, name) {
				return true, ""
			}
		}
		return false, ""
	})
}

// dockerCut takes Docker's socket away from serve for a while; the apps
// must serve on. Maybe it stops an app's active container meanwhile, unseen
// by serve, as a restart of the daemon without live-restore does: that app
// is down until serve, finding Docker again, started it and it is stable.
func (k *soak) dockerCut(st step) {
	name := ""
	if st.during {
		status := k.settleApp(st.app, 10*time.Second)
		name = k.apps[st.app].name + "-" + string(status.ActiveColor)
	}
	what := "for " + st.cut.Round(time.Millisecond).String()
	if st.during {
		what += ", docker stop " + name
	}
	f := k.begin(faultDockerCut, "%s", what)
	k.relay.cut()
	var stopped time.Time
	if st.during {
		k.open(f, st.app, containerGone())
		stopped = time.Now()
		if out, err := exec.Command("docker", "stop", "-t", "1", name).CombinedOutput(); err != nil {
			k.t.Fatalf("docker stop %s: %v %s", name, err, out)
		}
	}
	k.load.pause(st.cut)
	if err := k.relay.restore(); err != nil {
		k.t.Fatal(err)
	}
	if st.during {
		// Its POSTs sent until serve could hear of the stop: Docker's port
		// proxy may accept one after the container died and reset it, and
		// a POST that was sent is never sent twice (docs/proxy.md).
		k.postsInFlight(f, st.app, name, stopped, time.Now())
		waitFor(k.t, 30*time.Second, "serve starts "+name+" again", func() (bool, string) {
			out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", name).CombinedOutput()
			return err == nil && strings.TrimSpace(string(out)) == "true", string(out)
		})
	}
}

// dockerRestart restarts the Docker daemon (only with -soak.docker-restart)
// as what started it would (restartDocker): without live-restore it stops
// the containers; bluegreen starts them again.
func (k *soak) dockerRestart() {
	var active []string // each app's active container, which the daemon's stop ends
	for i := range k.apps {
		st := k.settleApp(i, time.Minute)
		active = append(active, k.apps[i].name+"-"+string(st.ActiveColor))
	}
	f := k.begin(faultDockerRestart, "the local daemon")
	k.open(f, -1, containerGone())
	began := time.Now()
	how := restartDocker(k.t) // returns once a new daemon answers
	up := time.Now()
	k.t.Logf("          Docker restarted: %s", how)
	for i, name := range active {
		// Its POSTs in flight when the daemon stopped it, or cut its port's
		// proxy (docker-proxy ends with the daemon, which may stop the
		// container later or, with live-restore, not at all): until the new
		// daemon answered. A POST that began meanwhile and met a closed
		// port was held, not sent: it does not fail.
		k.postsInFlight(f, i, name, began, up)
	}
	k.settle(2 * time.Minute) // the window lasts until every app is stable again
	k.closeWindows()
}

// allEvents reads the whole audit trail.
func (k *soak) allEvents() []deploy.Event {
	k.t.Helper()
	var all []deploy.Event
	for {
		var after int64
		if len(all) > 0 {
			after = all[len(all)-1].ID
		}
		evs := k.s.events("", after)
		all = append(all, evs...)
		if len(evs) < api.MaxLimit {
			return all
		}
	}
}
