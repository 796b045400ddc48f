package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

var (
	soakSeed     = flag.Int64("soak.seed", 0, "the seed of the soak's fault schedule (0: a new one, printed)")
	soakDuration = flag.Duration("soak.duration", 2*time.Minute, "how long the soak injects faults")
	soakRestart  = flag.Bool("soak.docker-restart", false,
		"the soak also restarts the Docker daemon (with systemctl, the init script, or by its pid file for a dockerd started by hand): only on a machine of one's own, "+
			"never in CI or on a machine whose Docker others use")
)

// soakApps is how many apps the soak runs; soakMargin is the time it needs
// besides its faults (builds, the first start, the checks at the end).
const (
	soakApps   = 3
	soakMargin = 3 * time.Minute
)

// TestSoak_Faults runs three apps under keep-alive load (GET, POST with a
// Content-Length or a chunked body, WebSockets) for -soak.duration while it
// injects a fault every few seconds, drawn from a PRNG seeded by -soak.seed:
// deploys of a good image, of a bad one (unhealthy: rolled back, never
// served) and several in quick succession, docker kill of an active
// container, kill -9 and SIGTERM of serve and a new serve, SIGUSR2 upgrades,
// SIGHUP reloads, the Docker socket cut for seconds, and with
// -soak.docker-restart a restart of the Docker daemon. Every failed request
// counts; only the outage windows docs/faults.md documents excuse one (a
// kill -9 or a stop of serve until the new one answers, a docker kill until
// the app is stable again, a WebSocket closed with 1001 by a drain). At the
// end the state must hold: at most one container per color, none orphaned,
// no deployment unfinished, audit ids without gaps, the bad image never
// served, each app stable on a good image. It prints a table per fault
// kind; the schedule depends on the seed alone, so a seed replays it.
func TestSoak_Faults(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for minutes; not with -short")
	}
	// serve runs as under systemd: an upgrade's old process exits, so every
	// serving process is one the soak tracks (the stand-in mode has tests of
	// its own in standin_test.go).
	fakeSystemd(t)
	d := *soakDuration
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < d+soakMargin {
		d = time.Until(deadline) - soakMargin
		if d < time.Minute {
			t.Fatalf("-soak.duration %s needs a -timeout of at least %s", *soakDuration, *soakDuration+soakMargin)
		}
		t.Logf("soak: -timeout leaves %s of faults, not %s", d.Round(time.Second), *soakDuration)
	}
	seed := *soakSeed
	if seed == 0 {
		seed = time.Now().UnixNano()%1e9 + 1
	}
	replay := fmt.Sprintf("go test ./internal/e2e -run '^TestSoak_Faults$' -count=1 -v -timeout %s -soak.seed %d -soak.duration %s",
		d+soakMargin+time.Minute, seed, d)
	if *soakRestart {
		replay += " -soak.docker-restart"
	}
	t.Logf("soak: seed %d, %s of faults (replay: %s)", seed, d, replay)
	images(t)
	binaries(t)
	k := newSoak(t, seed)
	defer func() {
		k.load.halt()
		s := k.summarize()
		t.Logf("soak: seed %d, %d faults in %s:\n%s", seed, len(k.faults), time.Since(k.t0).Round(time.Second), s)
		if s.all.outside > 0 {
			t.Errorf("%d failures outside the documented outage windows (seed %d):\n%s", s.all.outside, seed, k.outsideList(s, 40))
		}
		if t.Failed() {
			t.Logf("soak: replay with: %s", replay)
		}
	}()
	k.run(d, newPlan(seed, soakApps, *soakRestart))
	k.load.halt()
	k.checkState()
}

// soak is one run: serve, its apps, the relay to Docker, the load, and what
// was injected when.
type soak struct {
	t     *testing.T
	s     *serve
	apps  []*app
	relay *dockerRelay
	load  *soakLoad
	t0    time.Time

	faults  []injected
	windows []window
	build   int           // the build now at serve's path: 0 (bin1) or 1 (bin2)
	reloads []int         // per app, the reloads that changed it
	procs   map[int]*proc // serve processes by pid
}

func newSoak(t *testing.T, seed int64) *soak {
	t.Helper()
	k := &soak{t: t, relay: newDockerRelay(t), reloads: make([]int, soakApps), procs: map[int]*proc{}}
	for range soakApps {
		a := newApp(t, imgV1)
		// Short drains, so that a stop or an upgrade ends soon; a bad image
		// is rolled back at health_check_timeout, which a good one passes
		// well within on a loaded machine.
		a.drain, a.websocketDrain, a.healthTimeout = "3s", "1s", "10s"
		k.apps = append(k.apps, a)
	}
	k.s = newServe(t, "", k.apps...)
	k.s.env = []string{"DOCKER_HOST=" + k.relay.host()}
	k.startServe()
	for _, a := range k.apps {
		k.s.stable(a, imgV1, 90*time.Second)
	}
	k.t0 = time.Now()
	k.load = startSoakLoad(k.apps, seed)
	return k
}

// run injects the plan's faults until d has passed, each after its pause of
// load alone and followed by a wait until every app is stable again.
func (k *soak) run(d time.Duration, p *plan) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		st := p.next()
		k.load.pause(st.pause)
		k.inject(st)
		k.settle(90 * time.Second)
		k.closeWindows()
	}
	k.load.pause(2 * time.Second) // the load after the last fault
}

// begin records that a fault of kind starts now and returns its index.
func (k *soak) begin(kind faultKind, format string, args ...any) int {
	what := fmt.Sprintf(format, args...)
	k.faults = append(k.faults, injected{kind: kind, at: time.Now(), what: what})
	k.t.Logf("%8.3fs fault %d: %s: %s", time.Since(k.t0).Seconds(), len(k.faults)-1, kind, what)
	return len(k.faults) - 1
}

// open opens a window of fault (app -1: every app) and returns its index.
func (k *soak) open(fault, app int, ex excuse) int {
	k.windows = append(k.windows, window{fault: fault, app: app, excuse: ex, from: time.Now()})
	return len(k.windows) - 1
}

func (k *soak) close(w int) {
	if k.windows[w].to.IsZero() {
		k.windows[w].to = time.Now()
	}
}

// closeWindows closes the windows still open.
func (k *soak) closeWindows() {
	for i := range k.windows {
		k.close(i)
	}
}

// settle waits until every app is stable on a good image, its active
// container healthy and no deployment running.
func (k *soak) settle(timeout time.Duration) {
	k.t.Helper()
	for i := range k.apps {
		k.settleApp(i, timeout)
	}
}

func (k *soak) settleApp(i int, timeout time.Duration) deploy.AppStatus {
	k.t.Helper()
	var st deploy.AppStatus
	waitFor(k.t, timeout, fmt.Sprintf("app %d stable on a good image", i), func() (bool, string) {
		var err error
		st, err = k.s.status(k.apps[i].name)
		active := st.Containers.Of(st.ActiveColor)
		return err == nil && st.Status == deploy.AppStable && (st.CurrentImage == imgV1 || st.CurrentImage == imgV2) &&
				active != nil && active.Health == deploy.Healthy && st.Deployment == nil,
			fmt.Sprintf("%s on %s, error %q, deployment running %v, %v", st.Status, st.CurrentImage, st.Error, st.Deployment != nil, err)
	})
	return st
}

// writeApp writes app i's config: after an odd number of reloads with a
// longer drain and a slower health check than the first.
func (k *soak) writeApp(i int) {
	k.t.Helper()
	a := k.apps[i]
	a.drain = "3s"
	yaml := a.yaml()
	if k.reloads[i]%2 == 1 {
		a.drain = "4s"
		yaml = strings.Replace(a.yaml(), "interval: 200ms", "interval: 300ms", 1)
	}
	if err := os.WriteFile(filepath.Join(k.s.dir, "apps.d", a.name+".yaml"), []byte(yaml), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

// answered waits until app i's proxy answers a new connection with a good
// version and returns when it did.
func (k *soak) answered(i int, timeout time.Duration) time.Time {
	k.t.Helper()
	var at time.Time
	waitFor(k.t, timeout, fmt.Sprintf("app %d answers", i), func() (bool, string) {
		code, body, err := get(k.apps[i].url("/"))
		at = time.Now()
		return err == nil && code == 200 && goodVersions[body], fmt.Sprint(code, body, err)
	})
	return at
}
