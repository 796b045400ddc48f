package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// poster posts a deploy or rollback request.
type poster func(context.Context) (deploy.Response, error)

// ctlDeploy runs `ctl deploy APP [IMAGE] [--wait] [--timeout D]`: sets the desired image and deploys it.
func ctlDeploy(ctx context.Context, c *ctl, in *parsed) int {
	app := in.pos[0]
	req := deploy.Request{TriggerSource: deploy.TriggerManual}
	if len(in.pos) == 2 {
		req.DesiredImage = in.pos[1]
	}
	timeout, err := timeoutFlag(in)
	if err != nil {
		return c.usageErr("deploy", err)
	}
	post := poster(func(ctx context.Context) (deploy.Response, error) { return c.client.Deploy(ctx, app, req) })
	if in.has("wait") {
		return c.follow(ctx, app, post, timeout)
	}
	return c.started(ctx, app, post)
}

func timeoutFlag(in *parsed) (time.Duration, error) {
	v, ok := in.flags["timeout"]
	if !ok {
		return DefaultDeployTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--timeout %q is not a positive duration (use 90s, 10m)", v)
	}
	return d, nil
}

// started posts a deploy or rollback and reports the answer without waiting.
func (c *ctl) started(ctx context.Context, app string, post poster) int {
	resp, err := post(ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, resp)
		return ExitOK
	}
	switch resp.Status {
	case deploy.AnswerUnchanged:
		fmt.Fprintf(c.stdout, "%s: nothing to do: the image is already active and healthy (deployment #%d)\n", app, resp.DeploymentID)
	case deploy.AnswerQueued:
		fmt.Fprintf(c.stdout, "%s: deployment #%d queued behind the running one\n", app, resp.DeploymentID)
	default:
		fmt.Fprintf(c.stdout, "%s: deployment #%d %s\n", app, resp.DeploymentID, resp.Status)
	}
	if resp.Status != deploy.AnswerUnchanged {
		fmt.Fprintf(c.stdout, "follow it with: bluegreen ctl events --app %s --follow (or ctl history %s)\n", app, app)
	}
	return ExitOK
}
