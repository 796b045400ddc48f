package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/deploy"
)

// rollbackCmd builds `bluegreen ctl rollback`.
func (c *ctl) rollbackCmd() *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:               "rollback APP [--wait] [--timeout D]",
		Short:             "deploy the image of the previous completed deployment",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			app := args[0]
			post := poster(func(ctx context.Context) (deploy.Response, error) { return c.client.Rollback(ctx, app) })
			if wait {
				return c.follow(ctx, app, post, timeout)
			}
			return c.started(ctx, app, post)
		}),
	}
	waitFlags(cmd, &wait, &timeout)
	return cmd
}
