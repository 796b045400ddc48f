package actors

import (
	"context"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// The reconcile: every reconcile interval the supervisor lists bluegreen's
// containers in one Docker call (Summaries: no inspect) and sends each app
// actor the entries of its own (listed), as it routes the event stream by
// the bluegreen.app label. The app actor alone decides: when every entry
// agrees with what it knows (the same container, in the same state), it
// takes them as they are; when one does not, or an event of the app came
// while the list was read, it reads both colors again by inspect
// (onReconcileTick), as an event of an unknown container makes it do.
// So a hundred quiet apps cost one list every few seconds, not two
// inspects each.

// appsLister is the supervisor's side of the reconcile: its timer, the
// list in flight, and the events it forwarded to each app (so an app
// learns whether one came while the list was read). Only its methods
// change them.
type appsLister struct {
	rt      Runtime
	timer   *actor.SendRepeater
	listing bool
	events  map[string]uint64 // the Docker events forwarded per app
}

func newAppsLister(rt Runtime) appsLister { return appsLister{rt: rt, events: map[string]uint64{}} }

// start sends the supervisor a reconcileAll every interval.
func (l *appsLister) start(c *actor.Context, interval time.Duration) {
	r := c.SendRepeat(c.PID(), reconcileAll{}, interval)
	l.timer = &r
}

// stop stops the timer.
func (l *appsLister) stop() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// list lists bluegreen's containers in the background (listedAll), unless
// a list runs.
func (l *appsLister) list(c *actor.Context) {
	if l.listing {
		return
	}
	l.listing = true
	eng, self, rt := c.Engine(), c.PID(), l.rt
	events := make(map[string]uint64, len(l.events))
	for app, n := range l.events {
		events[app] = n
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		list, err := rt.Summaries(ctx, map[string]string{LabelManaged: "true"})
		eng.Send(self, listedAll{containers: list, err: err, events: events})
	}()
}

// done records that the list in flight answered, and returns what of it
// goes to the actor of each app: its entries, and whether no event of it
// was forwarded while the list was read.
func (l *appsLister) done(msg listedAll) (entries func(app string) listed) {
	l.listing = false
	byApp := map[string][]docker.Container{}
	for _, ct := range msg.containers {
		app := ct.Labels[LabelApp]
		byApp[app] = append(byApp[app], ct)
	}
	return func(app string) listed {
		return listed{containers: byApp[app], err: msg.err, fresh: l.events[app] == msg.events[app]}
	}
}

// forwarded counts an event of app's containers forwarded to its actor.
func (l *appsLister) forwarded(app string) { l.events[app]++ }

// forget forgets an app removed from the configs.
func (l *appsLister) forget(app string) { delete(l.events, app) }

// onListed takes the app's entries of the supervisor's list.
func (a *appActor) onListed(msg listed) {
	if !a.gate.isReady() {
		return // the first adoption has not answered: it reads them
	}
	quiet := msg.err == nil && msg.fresh && a.deployments.running() == nil
	if quiet && a.listener.listening() && a.containers.isAdopted() && !a.containers.isReading() {
		if res, ok := a.containers.agrees(msg.containers); ok {
			a.onReconcile(res)
			return
		}
	}
	// A retry (the proxy's listener, the adoption), a deployment's own
	// view, or a change: as the app actor's own tick.
	a.onReconcileTick()
}

// onReconcile takes what Docker says of both colors' containers.
func (a *appActor) onReconcile(msg reconcileResult) {
	a.containers.readDone()
	if msg.err != nil {
		a.containers.dockerDown(msg.err, "docker unreachable")
		a.refreshStatus()
		return
	}
	a.containers.dockerUp()
	if a.deployments.running() != nil { // a deployment started meanwhile: its view wins
		return
	}
	stale := false
	for _, color := range deploy.Colors {
		if !a.containers.fresh(color, msg.seen) {
			// An event of this color came while Docker was read: the read
			// may be older than what the actor knows. Read again.
			stale = true
			continue
		}
		a.reconcileColor(color, msg.containers[color])
	}
	a.settleAsides("") // a restore that failed is tried again (standby.go)
	a.removeInterruptedCandidate()
	a.ensureMonitors()
	a.refreshStatus()
	if stale {
		a.onReconcileTick()
	}
}

// removeInterruptedCandidate removes the inactive color's container when a
// deployment that the start found interrupted made it: it never took
// traffic. It also catches one that Docker finished creating after the
// adoption (a supervisor killed in the middle of a create), at a reconcile.
func (a *appActor) removeInterruptedCandidate() {
	active := a.record.active()
	if active == "" || a.deployments.running() != nil {
		return
	}
	other := active.Other()
	if s, ok := a.containers.get(other); ok && a.deployments.leftBy(s.deploymentID) {
		a.containers.remove(other, "left by an interrupted deployment")
	}
}
