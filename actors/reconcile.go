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

// reconcileAll is the supervisor's reconcile tick.
type reconcileAll struct{}

// listedAll is what the supervisor's list found.
type listedAll struct {
	containers []docker.Container
	err        error
	events     map[string]uint64 // the events forwarded per app when the list began
}

// listed carries an app's entries of the supervisor's list.
type listed struct {
	containers []docker.Container
	err        error
	fresh      bool // no event of the app was forwarded while the list was read
}

// onReconcileAll lists the containers in the background, unless a list
// runs. Paused (pause.go), the supervisor does no Docker work: each app
// actor gets its tick, which it ignores once quiet.
func (s *supervisor) onReconcileAll(c *actor.Context) {
	if s.paused {
		for _, pid := range s.apps {
			c.Send(pid, reconcileTick{})
		}
		return
	}
	if s.listing {
		return
	}
	s.listing = true
	eng, self, rt := c.Engine(), c.PID(), s.deps.rt
	events := make(map[string]uint64, len(s.events))
	for app, n := range s.events {
		events[app] = n
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cs, err := rt.Summaries(ctx, map[string]string{LabelManaged: "true"})
		eng.Send(self, listedAll{containers: cs, err: err, events: events})
	}()
}

// onListedAll sends each app actor its entries.
func (s *supervisor) onListedAll(c *actor.Context, msg listedAll) {
	s.listing = false
	if s.paused {
		return
	}
	byApp := map[string][]docker.Container{}
	for _, ct := range msg.containers {
		app := ct.Labels[LabelApp]
		byApp[app] = append(byApp[app], ct)
	}
	for app, pid := range s.apps {
		c.Send(pid, listed{containers: byApp[app], err: msg.err, fresh: s.events[app] == msg.events[app]})
	}
}

// onListed takes the app's entries of the supervisor's list.
func (a *appActor) onListed(msg listed) {
	if !a.gate.isReady() {
		return // the first adoption has not answered: it reads them
	}
	ct := &a.containers
	if msg.err == nil && msg.fresh && a.listener.listening() && ct.isAdopted() && a.deployments.running() == nil && !ct.isReading() {
		if res, ok := ct.agrees(msg.containers); ok {
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
