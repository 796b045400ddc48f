package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/bluegreen/bluegreen/deploy"
)

// onDeploy handles a deploy request (CONTRACT §4): unchanged, the running
// deployment, queued (the newest queued wins), or a new deployment.
func (a *appActor) onDeploy(c *actor.Context, image string, trigger deploy.Trigger) DeployReply {
	redeploy := image == ""
	if redeploy {
		image = a.state.CurrentImage
		if image == "" {
			image = a.cfg.Image
		}
	}
	if a.state.DesiredImage != image {
		a.state.DesiredImage = image
		a.saveState()
	}
	if r := a.run; r != nil {
		if r.dep.ToImage == image && !redeploy && !r.existing {
			return started(r.dep.DeploymentID)
		}
		return a.enqueue(image, trigger)
	}
	if !redeploy && image == a.state.CurrentImage && a.serving() {
		return DeployReply{Response: deploy.Response{DeploymentID: a.lastCompleted, Status: deploy.AnswerUnchanged}}
	}
	id, err := a.startDeployment(c, image, trigger, "")
	if err != nil {
		return DeployReply{Err: err}
	}
	return started(id)
}

func started(id int64) DeployReply {
	return DeployReply{Response: deploy.Response{DeploymentID: id, Status: deploy.AnswerStarted}}
}

// serving reports whether the active container runs and is not failing checks.
func (a *appActor) serving() bool {
	st, _ := a.appStatus()
	return a.containers.running(a.state.ActiveColor) && st == deploy.AppStable
}

// enqueue records a deployment to run after the running one; it replaces
// (supersedes) the one queued before.
func (a *appActor) enqueue(image string, trigger deploy.Trigger) DeployReply {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if a.queued != nil {
		a.endQueued(ctx, deploy.StatusSuperseded, "superseded by a newer request for "+image)
	}
	d := deploy.Deployment{App: a.cfg.Name, FromImage: a.state.CurrentImage, ToImage: image,
		TriggerSource: trigger, Status: deploy.StatusQueued, StartedAt: time.Now().UTC()}
	if err := a.deps.store.CreateDeployment(ctx, &d); err != nil {
		return DeployReply{Err: fmt.Errorf("record deployment: %w", err)}
	}
	a.queued = &d
	a.log.Info("deployment queued", keyDeploymentID, d.DeploymentID, keyImage, image)
	a.deps.rec.event(a.cfg.Name, d.DeploymentID, deploy.EventDeploymentQueued,
		fmt.Sprintf("deployment %d of %s queued behind deployment %d", d.DeploymentID, image, a.run.dep.DeploymentID),
		map[string]any{"status": d.Status, "image": image})
	return DeployReply{Response: deploy.Response{DeploymentID: d.DeploymentID, Status: deploy.AnswerQueued}}
}

// endQueued ends the queued deployment with a final status.
func (a *appActor) endQueued(ctx context.Context, status deploy.Status, why string) {
	q := a.queued
	a.queued = nil
	q.End(status, why, time.Now().UTC())
	if err := a.deps.store.UpdateDeployment(ctx, q); err != nil {
		a.log.Error("update deployment", keyDeploymentID, q.DeploymentID, keyErr, err)
	}
	a.deps.rec.event(a.cfg.Name, q.DeploymentID, status.Event(),
		fmt.Sprintf("deployment %d of %s %s: %s", q.DeploymentID, q.ToImage, status, why),
		map[string]any{"status": status, "error": why, "duration_ms": q.DurationMS})
}

// beginQueued runs the queued deployment, if any, once the running one ended.
func (a *appActor) beginQueued(c *actor.Context) {
	q := a.queued
	if q == nil {
		return
	}
	a.queued = nil
	q.Color = a.state.ActiveColor.Other()
	q.FromImage = a.state.CurrentImage
	q.Status = deploy.StatusPulling
	q.StartedAt = time.Now().UTC()
	a.begin(c, *q, false)
}

// onRollback deploys the image of the last completed deployment before the
// current one.
func (a *appActor) onRollback(c *actor.Context, trigger deploy.Trigger) DeployReply {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	done, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, []deploy.Status{deploy.StatusCompleted}, 200)
	if err != nil {
		return DeployReply{Err: fmt.Errorf("read history: %w", err)}
	}
	target := ""
	for i, d := range done {
		if i == 0 && d.ToImage == a.state.CurrentImage {
			continue // the current one
		}
		if d.ToImage != a.state.CurrentImage {
			target = d.ToImage
			break
		}
	}
	if target == "" {
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"%s has no earlier completed deployment of another image to roll back to", a.cfg.Name)}
	}
	return a.onDeploy(c, target, trigger)
}

// onSwitch moves traffic to the other color's existing container, through
// the health gate like a deployment.
func (a *appActor) onSwitch(c *actor.Context, color deploy.Color) DeployReply {
	switch {
	case !color.Valid():
		return DeployReply{Err: deploy.Errorf(deploy.EINVALID, "color must be blue or green, not %q", color)}
	case a.run != nil:
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"deployment %d of %s is running: wait for it to end, then switch", a.run.dep.DeploymentID, a.cfg.Name)}
	case color == a.state.ActiveColor:
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT, "%s is already the active color of %s", color, a.cfg.Name)}
	}
	s, ok := a.containers.get(color)
	if !ok || s.id == "" {
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"%s has no %s container to switch to: deploy an image instead", a.cfg.Name, color)}
	}
	id, err := a.startDeployment(c, s.image, deploy.TriggerManual, color)
	if err != nil {
		return DeployReply{Err: err}
	}
	return started(id)
}

// startDeployment records a new deployment and begins it. switchTo names the
// color of an existing container to switch to (a manual switch); otherwise the
// image goes into the inactive color. It returns the deployment's ID.
func (a *appActor) startDeployment(c *actor.Context, image string, trigger deploy.Trigger, switchTo deploy.Color) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	d := deploy.Deployment{App: a.cfg.Name, FromImage: a.state.CurrentImage, ToImage: image, Color: a.state.ActiveColor.Other(),
		TriggerSource: trigger, Status: deploy.StatusPulling, StartedAt: time.Now().UTC()}
	if switchTo != "" {
		d.Color, d.Status = switchTo, deploy.StatusStarting
	}
	if err := a.deps.store.CreateDeployment(ctx, &d); err != nil {
		return 0, fmt.Errorf("record deployment: %w", err)
	}
	a.begin(c, d, switchTo != "")
	return d.DeploymentID, nil
}
