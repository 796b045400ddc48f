package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// A color's standby while a deployment's candidate takes the color
// (docs/deployments.md, "The standby"). The container a color keeps for a
// switch back (stopped, after the deployment that left its color) is not
// removed when a new deployment goes into the color: it is set aside,
// renamed <app>-<color>-standby (its labels stay), while the candidate
// runs under the color's name and port. A stopped container holds no
// published port, so the candidate can bind it; a standby found running
// is stopped first, so that never more than one container of a color runs.
// When the candidate fails (failed, rolled back) the standby is put back,
// the same container under its own name, and a switch to it works as
// before; it is removed only once the candidate passed (the deployment
// completed). A supervisor that stopped in the middle (kill -9) finds the
// standby set aside at adoption and resolves it by the deployment's
// outcome (settleAsides).
//
// The standbys set aside are the containers part's (appContainers); each
// Docker operation on one runs in the background after the one before it
// (op), and its end comes back as a standbyDone.

// standbySuffix ends the name of a standby set aside.
const standbySuffix = "-standby"

// standbyDone reports the end of the background restore or removal of a
// standby set aside.
type standbyDone struct {
	color   deploy.Color
	by      int64 // the deployment whose end decided it (0: an adoption or the reconcile)
	gen     uint64
	removed bool             // a removal (else a restore)
	ct      docker.Container // restored: the container under its color's name
	err     error
}

// asideName is the name of color's standby while it is set aside.
func (cs *appContainers) asideName(color deploy.Color) string { return cs.name(color) + standbySuffix }

// hasAside reports whether color's standby is set aside.
func (cs *appContainers) hasAside(color deploy.Color) bool { return cs.asides[color] != nil }

// asideIdle reports whether color's standby is set aside with no operation
// in flight.
func (cs *appContainers) asideIdle(color deploy.Color) bool {
	a := cs.asides[color]
	if a == nil {
		return false
	}
	if a.op == nil {
		return true
	}
	select {
	case <-a.op:
		return true
	default:
		return false
	}
}

// makeRoom frees color for a deployment's new container (its old one is
// forgotten; the run creates the new one under the color's name, removing
// whatever still has it) and keeps the color's standby: the container
// there is set aside, unless one is aside already (a restore that failed,
// or one found at adoption): that one stays the standby, and what the
// color holds is a failed candidate of before. It returns the work to run
// before the new container is created (nil: none): it waits for the
// standby's operation in flight (a restore is undone), stops the standby if
// it runs and renames it aside.
func (cs *appContainers) makeRoom(color deploy.Color) func(context.Context) error {
	s, a := cs.slots[color], cs.asides[color]
	if s != nil {
		cs.clear(color)
	}
	switch {
	case a != nil:
	case s != nil && s.id != "":
		a = &aside{slot: *s}
		cs.asides[color] = a
		cs.env.log.Info("setting the standby aside", keyColor, color, keyContainer, short(s.id))
	default:
		return nil
	}
	prev, done := cs.nextOp(a)
	rt, id, name, grace := cs.env.deps.rt, a.id, cs.asideName(color), cs.env.cfg.Deployment.StopTimeout
	return func(ctx context.Context) error {
		defer done()
		if err := waitOp(ctx, prev); err != nil {
			return err
		}
		if err := setAside(ctx, rt, id, name, grace); err != nil {
			return fmt.Errorf("set the %s standby aside: %w", color, err)
		}
		return nil
	}
}

// restoreAside puts color's standby back under its color's name, after the
// removal of leftover (the failed candidate that still has the name; "":
// none), in the background (standbyDone); by is the deployment whose end
// decided it (0: none). A restore that fails is tried again by the
// reconcile (settleAsides).
func (cs *appContainers) restoreAside(color deploy.Color, leftover string, by int64) {
	a := cs.asides[color]
	if a == nil {
		return
	}
	prev, done := cs.nextOp(a)
	send, rt, id, name, gen := cs.env.send, cs.env.deps.rt, a.id, cs.name(color), a.gen
	go func() {
		defer done()
		ctx, cancel := timeoutAfterQueue(context.Background(), 30*time.Second) // from its turn in Docker's queue
		defer cancel()
		err := waitOp(ctx, prev)
		if err == nil && leftover != "" {
			err = rt.Remove(ctx, leftover)
		}
		var ct docker.Container
		if err == nil {
			ct, err = renameTo(ctx, rt, id, name)
		}
		send(standbyDone{color: color, by: by, gen: gen, ct: ct, err: err})
	}()
}

// dropAside removes color's standby in the background (standbyDone): the
// candidate that took its color passed (by: its deployment; 0: found so at
// adoption). It is forgotten at once; a removal that fails leaves a
// stopped container aside, which the next set-aside of the color or the
// next adoption removes.
func (cs *appContainers) dropAside(color deploy.Color, by int64) {
	a := cs.asides[color]
	if a == nil {
		return
	}
	prev, done := cs.nextOp(a)
	delete(cs.asides, color)
	cs.removing = append(cs.removals(), a.op)
	send, rt, id, gen := cs.env.send, cs.env.deps.rt, a.id, a.gen
	go func() {
		defer done()
		ctx, cancel := timeoutAfterQueue(context.Background(), 30*time.Second) // from its turn in Docker's queue
		defer cancel()
		err := waitOp(ctx, prev)
		if err == nil {
			err = rt.Remove(ctx, id)
		}
		send(standbyDone{color: color, by: by, gen: gen, removed: true, ct: docker.Container{ID: id}, err: err})
	}()
}

// removals returns the removals of standbys in flight, and forgets those
// that ended. A retention pass waits for them: until its removal ended, a
// standby's container keeps its image in use.
func (cs *appContainers) removals() []<-chan struct{} {
	live := cs.removing[:0]
	for _, op := range cs.removing {
		select {
		case <-op:
		default:
			live = append(live, op)
		}
	}
	clear(cs.removing[len(live):])
	cs.removing = live
	return slices.Clone(live)
}

// standbyDone takes the end of a restore or a removal; it reports whether
// the standby is back in its color.
func (cs *appContainers) standbyDone(msg standbyDone) (restored bool) {
	e := cs.env
	if msg.removed {
		if msg.err != nil {
			e.log.Error("remove the standby set aside", keyColor, msg.color, keyContainer, short(msg.ct.ID), keyErr, msg.err)
			return false
		}
		e.log.Info("standby removed: the new container passed", keyColor, msg.color, keyContainer, short(msg.ct.ID))
		e.event(msg.by, deploy.EventContainerRemoved, fmt.Sprintf("old %s container %s removed: its color's new container passed",
			msg.color, short(msg.ct.ID)), map[string]any{"color": msg.color, "container": msg.ct.ID})
		return false
	}
	a := cs.asides[msg.color]
	if a == nil || a.gen != msg.gen {
		return false // set aside again meanwhile: that operation undoes this one
	}
	a.op = nil
	switch {
	case errors.Is(msg.err, docker.ErrNotFound):
		e.log.Warn("the standby set aside is gone", keyColor, msg.color, keyContainer, short(a.id))
		delete(cs.asides, msg.color)
		return false
	case msg.err != nil:
		e.log.Error("put the standby back", keyColor, msg.color, keyContainer, short(a.id), keyErr, msg.err)
		return false
	}
	delete(cs.asides, msg.color)
	s := cs.slotOf(msg.color, msg.ct)
	cs.slots[msg.color] = s
	cs.save(msg.color)
	e.log.Info("standby back in its color", keyColor, msg.color, keyContainer, short(s.id), keyImage, s.image)
	e.event(msg.by, deploy.EventContainerStopped, fmt.Sprintf("%s container %s (%s) kept for switch back", msg.color, short(s.id), s.image),
		map[string]any{"color": msg.color, "container": s.id, "image": s.image, "standby": true})
	return true
}

// adoptAsides takes the standbys set aside that Docker listed (a supervisor
// stopped in the middle of a deployment); one known already stays as it is.
func (cs *appContainers) adoptAsides(list []docker.Container) {
	for _, ct := range list {
		color := deploy.Color(ct.Labels[LabelColor])
		if !color.Valid() || ct.Name != cs.asideName(color) {
			continue
		}
		if a := cs.asides[color]; a != nil && a.id == ct.ID {
			continue
		}
		cs.asides[color] = &aside{slot: *cs.slotOf(color, ct)}
		cs.env.log.Info("found the standby set aside", keyColor, color, keyContainer, short(ct.ID))
	}
}

// nextOp begins a's next operation: prev ends with the one before it, done
// ends this one (once).
func (cs *appContainers) nextOp(a *aside) (prev <-chan struct{}, done func()) {
	cs.asideGen++
	a.gen = cs.asideGen
	prev = a.op
	ch := make(chan struct{})
	a.op = ch
	closed := false
	return prev, func() {
		if !closed {
			closed = true
			close(ch)
		}
	}
}

// setAside stops the container id if it runs and renames it name. A
// container gone meanwhile is fine (there is nothing to keep); another that
// has the name is a standby whose removal was lost: it is removed.
func setAside(ctx context.Context, rt Runtime, id, name string, grace time.Duration) error {
	ct, err := rt.Inspect(ctx, id)
	switch {
	case errors.Is(err, docker.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	if ct.Running || ct.State == "restarting" {
		// A clock of its own, from its turn in Docker's queue: the standby's
		// stop is not the candidate's startup_timeout (ctx's, which starts at
		// the rename).
		sctx, cancel := timeoutAfterQueue(ctx, grace+30*time.Second)
		err := rt.Stop(sctx, id, grace)
		cancel()
		if err != nil {
			return err
		}
	}
	if ct.Name == name {
		return nil
	}
	err = rt.Rename(ctx, id, name)
	if errors.Is(err, docker.ErrNameInUse) {
		if err = rt.Remove(ctx, name); err == nil {
			err = rt.Rename(ctx, id, name)
		}
	}
	return err
}

// renameTo gives the container id the name name, unless it has it, and
// returns it.
func renameTo(ctx context.Context, rt Runtime, id, name string) (docker.Container, error) {
	ct, err := rt.Inspect(ctx, id)
	if err != nil {
		return ct, err
	}
	if ct.Name != name {
		if err := rt.Rename(ctx, id, name); err != nil {
			return ct, err
		}
		ct.Name = name
	}
	return ct, nil
}

// The app actor's side: what the end of a deployment, an adoption and the
// reconcile mean for the standbys set aside.

// standbyAfter decides on d's color's standby set aside, once d ended: it
// is removed when d completed (its container serves now), else put back,
// after the removal of d's failed container if it is still there. A
// switch sets nothing aside.
func (a *appActor) standbyAfter(d deploy.Deployment) {
	if d.Kind == deploy.KindSwitch || !a.containers.hasAside(d.Color) {
		return
	}
	if d.Status == deploy.StatusCompleted {
		a.containers.dropAside(d.Color, d.DeploymentID)
		return
	}
	leftover := ""
	if s, ok := a.containers.get(d.Color); ok {
		leftover = s.id
		a.monitors.stop(d.Color)
		a.containers.clear(d.Color)
	}
	a.containers.restoreAside(d.Color, leftover, d.DeploymentID)
}

// settleAsides resolves the standbys set aside that no deployment owns
// (owned: the color of one that is to be finished), when none runs: found
// at adoption after a supervisor stopped in the middle of a deployment, or
// whose restore failed. A color without a container gets its standby back;
// so does one whose container is the failed or interrupted candidate of a
// deployment that did not complete (it is removed first); otherwise the
// color's container is the one that passed, and the standby is removed.
func (a *appActor) settleAsides(owned deploy.Color) {
	if a.deployments.running() != nil {
		return
	}
	for _, color := range deploy.Colors {
		if color == owned || !a.containers.asideIdle(color) {
			continue
		}
		s, found := a.containers.get(color)
		switch {
		case !found:
			a.containers.restoreAside(color, "", 0)
		case color != a.record.active() && a.notCompleted(s.deploymentID):
			a.monitors.stop(color)
			a.containers.clear(color)
			a.containers.restoreAside(color, s.id, 0)
		default:
			a.containers.dropAside(color, 0)
		}
	}
}

// notCompleted reports whether deployment id ended without completing (its
// container is a candidate that failed or was interrupted).
func (a *appActor) notCompleted(id int64) bool {
	if id == 0 {
		return false
	}
	if a.deployments.leftBy(id) {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	d, err := a.deps.store.GetDeployment(ctx, id)
	return err == nil && d.Done() && d.Status != deploy.StatusCompleted
}

// onStandbyDone takes the end of a restore or removal of a standby.
func (a *appActor) onStandbyDone(msg standbyDone) {
	if a.containers.standbyDone(msg) {
		a.refreshStatus()
	}
}
