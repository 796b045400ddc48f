package actors

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// callsSince counts the calls named call in the runtime's log from index from on.
func (u *unit) callsSince(from int, call string) int {
	n := 0
	for _, c := range u.rt.callLog()[from:] {
		if c == call {
			n++
		}
	}
	return n
}

// The supervisor's reconcile lists the containers in one call per tick; an
// app whose containers are as its actor knows them costs no inspect, and
// one whose container changed without an event is read and taken.
func TestSupervisor_ReconcileByOneList(t *testing.T) {
	web, api := unitApp(t, "web:v1"), unitApp(t, "web:v1")
	u := &unit{t: t, rt: newFakeRuntime(t), clock: &fakeClock{}, cfgs: []*config.App{web, api},
		db: filepath.Join(t.TempDir(), "bluegreen.db"), logs: newTestWriter(t), reconcile: 20 * time.Millisecond}
	u.rt.image("web:v1", fakeImage{}, true)
	u.start()
	u.stable(web.Name, "web:v1")
	u.stable(api.Name, "web:v1")

	from := len(u.rt.callLog())
	u.until("three reconcile lists", func() bool { return u.callsSince(from, "Summaries") >= 3 })
	if n := u.callsSince(from, "Inspect"); n != 0 {
		t.Fatalf("%d inspects while nothing changed: the list should do", n)
	}
	if n := u.callsSince(from, "List"); n != 0 {
		t.Fatalf("%d full lists (one inspect per container) while nothing changed", n)
	}

	// A crash whose event the stream missed: the next list disagrees, the
	// actor reads the container and takes the exit.
	u.rt.setQuiet(true)
	u.rt.kill(web.Name + "-blue")
	if d := u.exited(web.Name, 1); d.Color != deploy.Blue || d.ExitCode != 137 {
		t.Fatalf("container.exited %+v", d)
	}
	if st := u.app(web.Name); st.Status != deploy.AppDegraded {
		t.Fatalf("after the missed kill: %+v", st)
	}
	if st := u.app(api.Name); st.Status != deploy.AppStable {
		t.Fatalf("the other app: %+v", st)
	}
}

func TestAppsLister(t *testing.T) {
	p := newPartEnv(t, unitApp(t, "web:v1"))
	cs := newAppContainers(p.env)
	p.runContainer(&cs, deploy.Blue, "web:v1", 1, true)
	l := newAppsLister(p.rt)
	app := p.env.cfg.Name
	release := p.rt.hold("Summaries")
	p.do(l.list)
	p.do(l.list) // in flight: no second list
	l.forwarded(app)
	release()
	msg := sent[listedAll](p)
	p.quietInbox()
	entries := l.done(msg)
	got, other := entries(app), entries("another")
	if len(got.containers) != 1 || got.err != nil || got.fresh {
		t.Fatalf("%s's entries %+v: one container, not fresh (an event was forwarded during the list)", app, got)
	}
	if len(other.containers) != 0 || !other.fresh {
		t.Fatalf("another app's entries %+v", other)
	}
	p.do(l.list)
	if fresh := l.done(sent[listedAll](p))(app); !fresh.fresh {
		t.Fatal("a list with no event meanwhile is not fresh")
	}
	l.forget(app)
	if n := countOf(p.rt.callLog(), "Summaries"); n != 2 {
		t.Fatalf("%d lists, want 2", n)
	}
}
