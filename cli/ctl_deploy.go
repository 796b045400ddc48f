package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

// poster posts a deploy or rollback request.
type poster func(context.Context) (deploy.Response, error)

// deployCmd builds `bluegreen ctl deploy`.
func (c *ctl) deployCmd() *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:               "deploy APP [IMAGE] [--wait] [--timeout D]",
		Short:             "set the desired image and deploy it (no IMAGE: redeploy the current one)",
		Args:              argsBetween(1, 2),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			app := args[0]
			req := deploy.Request{TriggerSource: deploy.TriggerManual}
			if len(args) == 2 {
				// An image Docker would refuse is a bad value: bad usage,
				// said before anything is asked of the supervisor.
				if err := config.CheckImage(args[1]); err != nil {
					return c.usageErr(cmd, fmt.Errorf("%w (an image reference is [registry[:port]/]name[:tag][@sha256:digest])", err))
				}
				req.DesiredImage = args[1]
			}
			post := poster(func(ctx context.Context) (deploy.Response, error) { return c.client.Deploy(ctx, app, req) })
			if wait {
				return c.follow(ctx, app, post, timeout)
			}
			return c.started(ctx, app, post)
		}),
	}
	waitFlags(cmd, &wait, &timeout)
	return cmd
}

// waitFlags are the flags of deploy and rollback.
func waitFlags(cmd *cobra.Command, wait *bool, timeout *time.Duration) {
	cmd.Flags().BoolVar(wait, "wait", false, "show each phase as it happens; exit 0 only if the deployment completed")
	cmd.Flags().Var(newDuration(timeout, DefaultDeployTimeout), "timeout", "how long --wait waits")
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
	case deploy.AnswerRollingBack:
		fmt.Fprintf(c.stdout, "%s: deployment #%d rolling back: traffic is back on the old color\n", app, resp.DeploymentID)
	default:
		fmt.Fprintf(c.stdout, "%s: deployment #%d %s\n", app, resp.DeploymentID, resp.Status)
	}
	if resp.Status != deploy.AnswerUnchanged {
		fmt.Fprintf(c.stdout, "follow it with: bluegreen ctl events --app %s --follow (or ctl history %s)\n", app, app)
	}
	return ExitOK
}
