package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
	"github.com/bluegreen/bluegreen/store"
)

// The unit tests of the actors run a System over the fake runtime: no
// Docker, containers in memory, the store a SQLite file in a temporary
// folder. The health-check timeout is a timer the test fires (clock); the
// reconcile tick is a message the test sends (tick).

// gateTimeout is the health_check_timeout of the unit tests' apps: long
// enough never to pass, the test fires it.
const gateTimeout = time.Hour

// unit is a System of the unit tests with its fakes.
type unit struct {
	t     *testing.T
	rt    *fakeRuntime
	clock *fakeClock
	db    string
	st    *store.Store
	sys   *System
	logs  io.Writer
	// reconcile is the supervisor's reconcile interval; 0: an hour (the
	// test sends the app actors their ticks).
	reconcile time.Duration

	mu      sync.Mutex
	passes  map[string]int // retention passes that ended, per app
	cfgs    []*config.App  // what Load returns
	loadErr error
}

var unitApps atomic.Int64

// unitApp is an app config of the unit tests, deploying image first.
func unitApp(t *testing.T, image string) *config.App {
	t.Helper()
	var ports []int // three different ones: a port freed can be handed out again at once
	for len(ports) < 3 {
		if p := testimage.FreePort(t); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	yaml := fmt.Sprintf(`name: u%d
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, timeout: 1s, interval: 5ms, healthy_threshold: 2, unhealthy_threshold: 2}
docker: {expose_port: 3000}
deployment: {drain_timeout: 1s, startup_timeout: 5s, health_check_timeout: %s, stop_timeout: 1s}
`, unitApps.Add(1), image, ports[0], ports[1], ports[2], gateTimeout)
	cfg, err := config.Parse(strings.NewReader(yaml), "unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newUnit starts a System with apps over a new fake runtime that knows the
// images web:v1 and web:v2 (present locally) and web:sick (failing health).
func newUnit(t *testing.T, apps ...*config.App) *unit {
	t.Helper()
	u := &unit{t: t, rt: newFakeRuntime(t), clock: &fakeClock{}, cfgs: apps,
		db: filepath.Join(t.TempDir(), "bluegreen.db"), logs: newTestWriter(t)}
	u.rt.image("web:v1", fakeImage{}, true)
	u.rt.image("web:v2", fakeImage{}, true)
	u.rt.image("web:v3", fakeImage{}, true)
	u.rt.image("web:sick", fakeImage{health: http.StatusInternalServerError}, true)
	u.start()
	return u
}

func (u *unit) start() {
	u.t.Helper()
	st, err := store.Open(u.db)
	if err != nil {
		u.t.Fatal(err)
	}
	u.st = st
	reconcile := u.reconcile
	if reconcile == 0 {
		reconcile = time.Hour
	}
	sys, err := Start(Options{
		Load:              u.load,
		Store:             st,
		Runtime:           u.rt,
		Logger:            slog.New(slog.NewTextHandler(u.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReconcileInterval: reconcile,
		// A crash in the gate comes from the fake's events: no poll.
		timers: timers{after: u.clock.after, crashPoll: time.Hour, runPoll: 5 * time.Millisecond, pruned: u.pruned,
			verifyTick: verifyTick},
	})
	if err != nil {
		u.t.Fatal(err)
	}
	u.sys = sys
	u.t.Cleanup(u.stop)
}

// pruned counts the retention passes of app that ended.
func (u *unit) pruned(app string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.passes == nil {
		u.passes = map[string]int{}
	}
	u.passes[app]++
}

// prunePasses returns how many retention passes of app ended.
func (u *unit) prunePasses(app string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.passes[app]
}

func (u *unit) load() ([]*config.App, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.cfgs), u.loadErr
}

// configs sets what the next Load returns.
func (u *unit) configs(err error, cfgs ...*config.App) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.cfgs, u.loadErr = cfgs, err
}

func (u *unit) stop() {
	if u.sys == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.sys.Stop(ctx); err != nil {
		u.t.Errorf("stop: %v", err)
	}
	u.st.Close()
	u.sys = nil
}

// restart stops the System and starts a new one on the same store and runtime.
func (u *unit) restart() {
	u.t.Helper()
	u.stop()
	u.start()
}

// tick sends the app's actor a reconcile tick, as its repeater would.
func (u *unit) tick(app string) {
	u.t.Helper()
	pid := u.sys.eng.Registry.GetPID("supervisor/root/app", app)
	if pid == nil {
		u.t.Fatalf("no actor for %s", app)
	}
	u.sys.eng.Send(pid, reconcileTick{})
}

// until waits for cond, polling briefly.
// unitWait bounds a unit test's wait for a state: far above what any takes
// on an idle machine (milliseconds), so that the race detector and a CI
// machine busy with Docker tests of other packages make no test fail.
const unitWait = 15 * time.Second

func (u *unit) until(what string, cond func() bool) {
	u.t.Helper()
	deadline := time.Now().Add(unitWait)
	for !cond() {
		if time.Now().After(deadline) {
			u.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (u *unit) app(name string) deploy.AppStatus {
	u.t.Helper()
	st, err := u.sys.App(context.Background(), name)
	if err != nil {
		u.t.Fatal(err)
	}
	return st
}

// stable waits until the app serves image, stable.
func (u *unit) stable(app, image string) deploy.AppStatus {
	u.t.Helper()
	var st deploy.AppStatus
	u.until(app+" stable on "+image, func() bool {
		var err error
		st, err = u.sys.App(context.Background(), app)
		return err == nil && st.Status == deploy.AppStable && st.CurrentImage == image
	})
	return st
}

// deploy asks for image and returns the answer.
func (u *unit) deploy(app, image string) deploy.Response {
	u.t.Helper()
	resp, err := u.sys.Deploy(context.Background(), app, deploy.Request{DesiredImage: image, TriggerSource: deploy.TriggerS3dock})
	if err != nil {
		u.t.Fatalf("deploy %s: %v", image, err)
	}
	return resp
}

// wait returns the deployment once it ended.
func (u *unit) wait(id int64) deploy.Deployment {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := u.sys.WaitDeployment(ctx, id)
	if err != nil {
		u.t.Fatalf("wait for deployment %d: %v (last seen %+v)", id, err, d)
	}
	return d
}

// reaches waits until deployment id has status st.
func (u *unit) reaches(id int64, st deploy.Status) {
	u.t.Helper()
	u.until(fmt.Sprintf("deployment %d %s", id, st), func() bool {
		d, err := u.sys.Deployment(context.Background(), id)
		return err == nil && d.Status == st
	})
}

// serves reads what the app's proxy answers.
func (u *unit) serves(cfg *config.App) string {
	u.t.Helper()
	got, err := body(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", cfg.Ports.Proxy))
	if err != nil {
		return err.Error()
	}
	return got
}

// events returns the types of the app's audit events, oldest first.
func (u *unit) events(app string) []deploy.EventType {
	u.t.Helper()
	evs, err := u.sys.Events(context.Background(), app, 0, 1000)
	if err != nil {
		u.t.Fatal(err)
	}
	var types []deploy.EventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}

func phaseNamesOf(d deploy.Deployment) []string {
	var names []string
	for _, p := range d.Phases {
		names = append(names, p.Name)
	}
	return names
}

// firstDeployment waits for the app's first start to end and returns it.
func (u *unit) firstDeployment(app string) deploy.Deployment {
	u.t.Helper()
	var hist []deploy.Deployment
	u.until("the first deployment", func() bool {
		var err error
		hist, err = u.sys.History(context.Background(), app, 10, 0)
		return err == nil && len(hist) == 1
	})
	return u.wait(hist[0].DeploymentID)
}

func TestAppActor_FirstStart(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	d := u.firstDeployment(cfg.Name)
	if d.Status != deploy.StatusCompleted || d.Color != deploy.Blue || d.TriggerSource != deploy.TriggerConfig || d.ToImage != "web:v1" {
		t.Fatalf("first deployment %+v", d)
	}
	if got, want := phaseNamesOf(d), []string{"pulling", "starting", "health_checking", "switching"}; !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	st := u.stable(cfg.Name, "web:v1")
	if st.ActiveColor != deploy.Blue || st.Containers.Blue == nil || st.Containers.Blue.Health != deploy.Healthy || st.Containers.Green != nil {
		t.Fatalf("status %+v", st)
	}
	ct, ok := u.rt.container(cfg.Name + "-blue")
	if !ok || ct.Labels[LabelApp] != cfg.Name || ct.Labels[LabelColor] != "blue" || ct.Labels[LabelManaged] != "true" ||
		ct.Labels[LabelDeployment] != fmt.Sprint(d.DeploymentID) {
		t.Fatalf("container %+v", ct)
	}
	if got := u.serves(cfg); got != "web:v1" {
		t.Fatalf("proxy answered %q", got)
	}
	evs := u.events(cfg.Name)
	for _, want := range []deploy.EventType{deploy.EventDeploymentStarted, deploy.EventDeploymentPhase, deploy.EventContainerStarted,
		deploy.EventContainerHealthy, deploy.EventProxySwitched, deploy.EventDeploymentCompleted, deploy.EventAppState} {
		if !slices.Contains(evs, want) {
			t.Errorf("no %s event in %v", want, evs)
		}
	}
}

func TestAppActor_Deploy(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")

	resp := u.deploy(cfg.Name, "web:v2")
	if resp.Status != deploy.AnswerStarted {
		t.Fatalf("answer %+v", resp)
	}
	d := u.wait(resp.DeploymentID)
	if d.Status != deploy.StatusCompleted || d.Color != deploy.Green || d.FromImage != "web:v1" || d.TriggerSource != deploy.TriggerS3dock {
		t.Fatalf("deployment %+v", d)
	}
	if got, want := phaseNamesOf(d), []string{"pulling", "starting", "health_checking", "switching", "draining", "stopping"}; !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	st := u.stable(cfg.Name, "web:v2")
	if st.ActiveColor != deploy.Green || st.DesiredImage != "web:v2" || st.Containers.Blue == nil || st.Containers.Blue.State != "exited" {
		t.Fatalf("status %+v", st)
	}
	if got := u.serves(cfg); got != "web:v2" {
		t.Fatalf("proxy answered %q", got)
	}
	if st.LastDeployment == nil || st.LastDeployment.DeploymentID != d.DeploymentID || st.Stats.Completed != 2 {
		t.Fatalf("last deployment %+v, stats %+v", st.LastDeployment, st.Stats)
	}
}

// GET /api/apps (System.Apps) keeps each app's history in a cache: the
// answer read right after a deployment ended, with no wait, shows it.
func TestAppActor_AppsShowAFinishedDeploymentAtOnce(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	first := u.firstDeployment(cfg.Name)
	u.stable(cfg.Name, "web:v1")
	last := func() (int64, deploy.Stats) {
		t.Helper()
		apps, err := u.sys.Apps(context.Background())
		if err != nil || len(apps) != 1 {
			t.Fatalf("Apps = %+v, %v", apps, err)
		}
		if apps[0].LastDeployment == nil {
			return 0, apps[0].Stats
		}
		return apps[0].LastDeployment.DeploymentID, apps[0].Stats
	}
	if id, st := last(); id != first.DeploymentID || st.Completed != 1 {
		t.Fatalf("before: last deployment %d, stats %+v", id, st)
	}
	for i, image := range []string{"web:v2", "web:v3"} {
		release := u.rt.hold("Stop")
		resp := u.deploy(cfg.Name, image)
		u.reaches(resp.DeploymentID, deploy.StatusDraining) // stopping keeps the status
		// Read while it runs: the cache holds the previous one.
		if id, st := last(); id == resp.DeploymentID || st.Completed != i+1 {
			t.Fatalf("while deployment %d runs: last deployment %d, stats %+v", resp.DeploymentID, id, st)
		}
		release()
		d := u.wait(resp.DeploymentID)
		if id, st := last(); id != d.DeploymentID || st.Completed != i+2 || st.Deployments != i+2 {
			t.Fatalf("right after deployment %d ended: last deployment %d, stats %+v", d.DeploymentID, id, st)
		}
	}
}

// The deployment ends when the old container exits, not when Docker's
// stop call returns after its clean-up (seconds when many stop at once).
func TestAppActor_DeployEndsAtTheOldContainersExit(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	u.stable(cfg.Name, "web:v1")
	cleanup := make(chan struct{})
	defer close(cleanup)
	u.rt.mu.Lock()
	u.rt.cleanup = cleanup
	u.rt.mu.Unlock()

	resp := u.deploy(cfg.Name, "web:v2")
	if resp.Status != deploy.AnswerStarted {
		t.Fatalf("answer %+v", resp)
	}
	d := u.wait(resp.DeploymentID) // with Stop still held in the clean-up
	if d.Status != deploy.StatusCompleted || d.Phases[len(d.Phases)-1].Name != "stopping" {
		t.Fatalf("deployment %+v", d)
	}
	st := u.stable(cfg.Name, "web:v2")
	if st.Containers.Blue == nil || st.Containers.Blue.State != "exited" {
		t.Fatalf("old container %+v", st.Containers.Blue)
	}
}

func TestAppActor_Unchanged(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	u := newUnit(t, cfg)
	first := u.firstDeployment(cfg.Name)
	u.stable(cfg.Name, "web:v1")

	if resp := u.deploy(cfg.Name, "web:v1"); resp.Status != deploy.AnswerUnchanged || resp.DeploymentID != first.DeploymentID {
		t.Fatalf("deploy of the active image: %+v", resp)
	}
	// No image: a new deployment of the current one.
	resp := u.deploy(cfg.Name, "")
	if resp.Status != deploy.AnswerStarted || resp.DeploymentID == first.DeploymentID {
		t.Fatalf("redeploy: %+v", resp)
	}
	if d := u.wait(resp.DeploymentID); d.Status != deploy.StatusCompleted || d.ToImage != "web:v1" || d.Color != deploy.Green {
		t.Fatalf("redeploy %+v", d)
	}
}
