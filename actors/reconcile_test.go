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
