package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// Requests that change the app (the bridge's Deploy, Rollback and Switch):
// each is answered at once with what happens: unchanged, the running
// deployment, queued, or a new deployment.

// onDeploy handles a deploy request: unchanged, the running deployment,
// the queued one of that image, queued (the newest queued wins), or a new
// deployment (docs/deployments.md, "Queueing, unchanged and superseded").
func (a *appActor) onDeploy(image string, trigger deploy.Trigger) DeployReply {
	return a.deployImage(image, trigger, deploy.KindDeploy)
}

// deployImage handles a request for image (a deploy or a rollback: kind).
func (a *appActor) deployImage(image string, trigger deploy.Trigger, kind deploy.Kind) DeployReply {
	redeploy := image == ""
	if redeploy {
		image = a.record.current()
		if image == "" {
			image = a.cfg.Image
		}
	}
	if a.record.desired() != image {
		a.record.desire(image)
	}
	if r := a.deployments.running(); r != nil {
		if !redeploy && r.deploys(image) {
			return startedReply(r.id())
		}
		if id, ok := a.deployments.queuedOf(image); ok {
			return DeployReply{Response: deploy.Response{DeploymentID: id, Status: deploy.AnswerQueued}}
		}
		return a.deployments.enqueue(image, a.record.current(), trigger, kind)
	}
	if !redeploy && image == a.record.current() && a.serving() {
		return DeployReply{Response: deploy.Response{DeploymentID: a.deployments.last(), Status: deploy.AnswerUnchanged}}
	}
	id, err := a.startDeployment(image, trigger, kind, "")
	if err != nil {
		return DeployReply{Err: err}
	}
	return startedReply(id)
}

func startedReply(id int64) DeployReply {
	return DeployReply{Response: deploy.Response{DeploymentID: id, Status: deploy.AnswerStarted}}
}

// serving reports whether the active container runs and is not failing checks.
func (a *appActor) serving() bool {
	st, _ := a.appStatus()
	return a.containers.running(a.record.active()) && st == deploy.AppStable
}

// onRollback deploys the image of the last completed deployment before the
// current one.
func (a *appActor) onRollback(trigger deploy.Trigger) DeployReply {
	if r := a.deployments.running(); r != nil && r.win != nil {
		// In canary or verifying: the traffic goes back to the old color
		// now, and that deployment ends rolled back (docs/verification.md).
		id := r.id()
		r.takeBack()
		return DeployReply{Response: deploy.Response{DeploymentID: id, Status: deploy.AnswerRollingBack}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	done, err := a.deps.store.DeploymentsByStatus(ctx, a.cfg.Name, []deploy.Status{deploy.StatusCompleted}, 200)
	if err != nil {
		return DeployReply{Err: fmt.Errorf("read history: %w", err)}
	}
	target := ""
	for i, d := range done {
		if i == 0 && d.ToImage == a.record.current() {
			continue // the current one
		}
		if d.ToImage != a.record.current() {
			target = d.ToImage
			break
		}
	}
	if target == "" {
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"%s has no earlier completed deployment of another image to roll back to", a.cfg.Name)}
	}
	return a.deployImage(target, trigger, deploy.KindRollback)
}

// onSwitch moves traffic to the other color's existing container, through
// the health gate like a deployment. A switch to the active color changes
// nothing (unchanged).
func (a *appActor) onSwitch(color deploy.Color) DeployReply {
	r := a.deployments.running()
	switch {
	case !color.Valid():
		return DeployReply{Err: deploy.Errorf(deploy.EINVALID, "color must be blue or green, not %q", color)}
	case color == a.record.active():
		return DeployReply{Response: deploy.Response{Status: deploy.AnswerUnchanged}}
	case r != nil:
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"deployment %d of %s is running: wait for it to end, then switch", r.id(), a.cfg.Name)}
	}
	s, ok := a.containers.get(color)
	if !ok || s.id == "" {
		return DeployReply{Err: deploy.Errorf(deploy.ECONFLICT,
			"%s has no %s container to switch to: deploy an image instead", a.cfg.Name, color)}
	}
	id, err := a.startDeployment(s.image, deploy.TriggerManual, deploy.KindSwitch, color)
	if err != nil {
		return DeployReply{Err: err}
	}
	return startedReply(id)
}

// startDeployment records a new deployment of kind and begins it. switchTo
// names the color of an existing container to switch to (a manual switch);
// otherwise the image goes into the inactive color. It returns the
// deployment's ID.
func (a *appActor) startDeployment(image string, trigger deploy.Trigger, kind deploy.Kind, switchTo deploy.Color) (int64, error) {
	d := deploy.Deployment{App: a.cfg.Name, FromImage: a.record.current(), ToImage: image, Color: a.record.active().Other(),
		TriggerSource: trigger, Kind: kind, Status: deploy.StatusPulling, StartedAt: time.Now().UTC()}
	if switchTo != "" {
		d.Color, d.Status = switchTo, deploy.StatusStarting
	}
	if err := a.deployments.record(&d); err != nil {
		return 0, err
	}
	a.retry.drop() // this deployment replaces a retry that waits (retry.go)
	a.begin(d, switchTo != "")
	return d.DeploymentID, nil
}
