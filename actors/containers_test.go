package actors

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// runContainer creates (and, with run, starts) the container deployment id
// of image makes in color, as a deployment would.
func (p *partEnv) runContainer(cs *appContainers, color deploy.Color, image string, id int64, run bool) string {
	p.t.Helper()
	ctx := context.Background()
	ctID, err := p.rt.Create(ctx, cs.spec(deploy.Deployment{App: p.env.cfg.Name, Color: color, ToImage: image, DeploymentID: id}))
	if err != nil {
		p.t.Fatal(err)
	}
	if run {
		if err := p.rt.Start(ctx, ctID); err != nil {
			p.t.Fatal(err)
		}
	}
	return ctID
}

// adopted lists the containers and adopts them, as the app actor does at start.
func (p *partEnv) adopted(cs *appContainers) {
	p.t.Helper()
	cs.list()
	res := sent[adoptResult](p)
	if res.err != nil {
		p.t.Fatal(res.err)
	}
	cs.adoptAll(res.containers)
}

func TestContainers_Adopt(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	blue := p.runContainer(&cs, deploy.Blue, "web:v1", 7, true)
	green := p.runContainer(&cs, deploy.Green, "web:v2", 8, false)
	if _, err := p.rt.Create(context.Background(), docker.Spec{Name: "stray", Image: "web:v1",
		Labels: map[string]string{LabelApp: cfg.Name, LabelColor: "blue"}}); err != nil {
		t.Fatal(err)
	}
	cs.assume(deploy.Blue, "web:v1")
	if s, _ := cs.get(deploy.Blue); s.state != "unknown" || s.port != cfg.Ports.Blue || cs.isAdopted() {
		t.Fatalf("assumed %+v, adopted %v", s, cs.isAdopted())
	}

	p.adopted(&cs)
	b, _ := cs.get(deploy.Blue)
	g, _ := cs.get(deploy.Green)
	if cs.count() != 2 || b.id != blue || !b.running() || b.deploymentID != 7 || g.id != green || g.state != "created" ||
		g.port != cfg.Ports.Green || !cs.isAdopted() {
		t.Fatalf("adopted blue %+v, green %+v (the stray one is not bluegreen's name)", b, g)
	}
	rows, err := p.st.Containers(context.Background(), cfg.Name)
	if err != nil || rows[deploy.Blue].ID != blue || rows[deploy.Green].ID != green {
		t.Fatalf("store: %+v %v", rows, err)
	}
	var colors []deploy.Color
	cs.each(func(color deploy.Color, _ slot) { colors = append(colors, color) })
	if !slices.Equal(colors, deploy.Colors[:]) {
		t.Fatalf("each: %v", colors)
	}

	// A deployment that began before adoption answered owns its color.
	cs2 := newAppContainers(p.env)
	cs2.list()
	cs2.adoptBeside(sent[adoptResult](p).containers, deploy.Green)
	if _, ok := cs2.get(deploy.Green); ok || cs2.count() != 1 || !cs2.isAdopted() {
		t.Fatal("adoptBeside took the deployment's color")
	}
}

func TestContainers_Reconcile(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	blue := p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	p.adopted(&cs)

	list, _ := p.rt.List(context.Background(), map[string]string{LabelApp: cfg.Name})
	res, ok := cs.agrees(list)
	if !ok || res.containers[deploy.Blue] == nil || res.containers[deploy.Green] != nil {
		t.Fatalf("agrees %+v %v", res, ok)
	}
	p.rt.exit(cfg.Name+"-blue", 3, false)
	list, _ = p.rt.List(context.Background(), map[string]string{LabelApp: cfg.Name})
	if _, ok := cs.agrees(list); ok {
		t.Fatal("an exited container agrees with a running one")
	}

	release := p.rt.hold("Inspect")
	cs.read()
	cs.read() // in flight: no second read
	if !cs.isReading() {
		t.Fatal("no read in flight")
	}
	cs.sawEvent(deploy.Blue) // an event while Docker is read
	release()
	res = sent[reconcileResult](p)
	cs.readDone()
	p.quietInbox()
	if got := countOf(p.rt.callLog(), "Inspect"); got != 2 {
		t.Fatalf("%d inspects, want one per color", got)
	}
	if res.err != nil || res.containers[deploy.Blue].State != "exited" || cs.fresh(deploy.Blue, res.seen) || !cs.fresh(deploy.Green, res.seen) {
		t.Fatalf("read %+v: blue must be stale (an event came), green fresh", res)
	}
	if died := cs.stateChanged(deploy.Blue, "exited"); !died || cs.running(deploy.Blue) {
		t.Fatal("a container that stopped by itself")
	}
	if died := cs.stateChanged(deploy.Blue, "dead"); died {
		t.Fatal("a container that was not running died again")
	}

	p.rt.sendEvent(cfg.Name+"-blue", docker.ActionDestroy) // nothing listens: only the fake's state matters
	if err := p.rt.Remove(context.Background(), blue); err != nil {
		t.Fatal(err)
	}
	other := p.runContainer(&cs, deploy.Blue, "web:v2", 2, true)
	ct, _ := p.rt.Inspect(context.Background(), other)
	cs.replace(deploy.Blue, ct)
	if s, _ := cs.get(deploy.Blue); s.id != other || s.deploymentID != 2 {
		t.Fatalf("replaced by %+v", s)
	}
	cs.gone(deploy.Blue)
	if cs.count() != 0 || countOf(p.events(), deploy.EventContainerRemoved) != 1 {
		t.Fatal("gone: the slot stays, or no container.removed")
	}
	if rows, _ := p.st.Containers(context.Background(), cfg.Name); len(rows) != 0 {
		t.Fatalf("gone: the store keeps %+v", rows)
	}

	cs.dockerDown(errors.New("down"), "docker unreachable")
	if cs.dockerErr() == nil {
		t.Fatal("dockerDown")
	}
	cs.dockerUp()
	if cs.dockerErr() != nil {
		t.Fatal("dockerUp")
	}
}

func TestContainers_ExitsAndStarts(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	blue := p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	p.adopted(&cs)

	p.rt.exit(cfg.Name+"-blue", 137, true)
	cs.setOOM(deploy.Blue)
	if !cs.died(deploy.Blue) {
		t.Fatal("an exit the actor did not make is a death by itself")
	}
	cs.activeDied(deploy.Blue, 137)
	inspected := sent[exitInspected](p)
	if p.clock.pending(exitGrace) != 1 {
		t.Fatal("no exitGrace timer")
	}
	if !cs.exitRecorded(inspected) || cs.exitRecorded(inspected) {
		t.Fatal("an exit is recorded once")
	}
	if got := countOf(p.events(), deploy.EventContainerExited); got != 1 {
		t.Fatalf("%d container.exited events", got)
	}

	if byDocker := cs.tookStart(deploy.Blue); !byDocker || !cs.running(deploy.Blue) {
		t.Fatal("a start the actor did not make is Docker's")
	}
	cs.died(deploy.Blue)
	cs.startOp(deploy.Blue)
	if s, _ := cs.get(deploy.Blue); !s.starting {
		t.Fatal("startOp: not starting")
	}
	done := sent[opDone](p)
	if byDocker := cs.tookStart(deploy.Blue); byDocker { // its start event, before the answer
		t.Fatal("a start the actor made is not Docker's")
	}
	if got := cs.opDone(done, deploy.Blue); got != opStarted || !cs.running(deploy.Blue) {
		t.Fatalf("opDone %v, running %v", got, cs.running(deploy.Blue))
	}
	if got := countOf(p.events(), deploy.EventContainerStarted); got != 2 {
		t.Fatalf("%d container.started events, want Docker's and the actor's", got)
	}

	p.rt.failNext("Start", errors.New("no"))
	cs.died(deploy.Blue)
	cs.startOp(deploy.Blue)
	if got := cs.opDone(sent[opDone](p), deploy.Blue); got != opActiveFailed {
		t.Fatalf("a failed start of the active container: %v", got)
	}
	if s, _ := cs.get(deploy.Blue); !s.recovering || s.starting {
		t.Fatalf("after a failed start %+v", s)
	}

	cs.remove(deploy.Blue, "test")
	if cs.count() != 0 {
		t.Fatal("remove keeps the slot")
	}
	if got := cs.opDone(sent[opDone](p), deploy.Blue); got != opRemoved {
		t.Fatalf("opDone of the removal %v", got)
	}
	if _, ok := p.rt.container(cfg.Name + "-blue"); ok {
		t.Fatalf("container %s not removed", blue)
	}
}

func TestContainers_Health(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	blue := p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	p.adopted(&cs)
	hc := cfg.HealthCheck // healthy_threshold 2, unhealthy_threshold 2

	if cs.checked(deploy.Blue, "another", 1, 0) || cs.checked(deploy.Green, blue, 1, 0) {
		t.Fatal("a check of another container counts")
	}
	if s, _ := cs.get(deploy.Blue); s.health(true) != deploy.Unchecked {
		t.Fatalf("before any check: %s", s.health(true))
	}
	cs.checked(deploy.Blue, blue, 1, 0)
	if cs.passedGate(deploy.Blue) {
		t.Fatal("one pass passed the gate")
	}
	if s, _ := cs.get(deploy.Blue); s.health(true) != deploy.Starting || s.health(false) != deploy.Unchecked {
		t.Fatal("one check: starting, and unchecked with no health actor")
	}
	cs.checked(deploy.Blue, blue, 2, 0)
	if !cs.passedGate(deploy.Blue) {
		t.Fatal("two passes did not pass the gate")
	}
	cs.markRecovering(deploy.Blue)
	cs.checked(deploy.Blue, blue, 0, 2)
	if cs.activeCheck(deploy.Blue, deploy.HealthCheck{Error: "503"}, hc) {
		t.Fatal("a failure recovered")
	}
	if s, _ := cs.get(deploy.Blue); s.health(true) != deploy.Unhealthy {
		t.Fatalf("after two failures: %s", s.health(true))
	}
	cs.checked(deploy.Blue, blue, 2, 0)
	if !cs.activeCheck(deploy.Blue, deploy.HealthCheck{Success: true}, hc) {
		t.Fatal("healthy again after a death: recovered")
	}
	if s, _ := cs.get(deploy.Blue); s.health(true) != deploy.Healthy || s.recovering {
		t.Fatalf("after two passes: %+v", s)
	}
	types := p.events()
	if countOf(types, deploy.EventContainerUnhealthy) != 1 || countOf(types, deploy.EventContainerHealthy) != 1 {
		t.Fatalf("events %v", types)
	}
}

func TestContainers_Deployment(t *testing.T) {
	cfg := unitApp(t, "web:v1")
	p := newPartEnv(t, cfg)
	cs := newAppContainers(p.env)
	p.adopted(&cs)
	green := p.runContainer(&cs, deploy.Green, "web:v2", 4, true)
	cs.putCandidate(deploy.Green, green, "web:v2", cfg.Ports.Green, 4, time.Now(), false)
	if s, _ := cs.get(deploy.Green); !s.running() || s.deploymentID != 4 {
		t.Fatalf("candidate %+v", s)
	}
	if cs.stopping(deploy.Green, "another") || !cs.stopping(deploy.Green, green) {
		t.Fatal("stopping marks only the container named")
	}
	if cs.died(deploy.Green) {
		t.Fatal("a container the actor stops does not die by itself")
	}
	cs.stopped(deploy.Green)
	if s, _ := cs.get(deploy.Green); s.state != "exited" {
		t.Fatalf("stopped %+v", s)
	}
	if id, port := cs.startExisting(deploy.Green); id != green || port != cfg.Ports.Green {
		t.Fatalf("startExisting %s %d", id, port)
	}
	cs.putCandidate(deploy.Green, green, "web:v2", cfg.Ports.Green, 0, time.Time{}, true)
	if s, _ := cs.get(deploy.Green); s.state != "exited" || s.deploymentID != 0 {
		t.Fatalf("a switch's failed candidate %+v", s)
	}
	cs.clear(deploy.Green)
	if _, ok := cs.get(deploy.Green); ok {
		t.Fatal("clear keeps the slot")
	}
	if spec := cs.spec(deploy.Deployment{Color: deploy.Blue, ToImage: "web:v3", DeploymentID: 9}); spec.Name != cfg.Name+"-blue" ||
		spec.HostPort != cfg.Ports.Blue || spec.Labels[LabelDeployment] != "9" || spec.HostIP != "127.0.0.1" {
		t.Fatalf("spec %+v", spec)
	}
}
