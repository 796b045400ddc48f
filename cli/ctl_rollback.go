package cli

import (
	"context"

	"github.com/bluegreen/bluegreen/deploy"
)

// ctlRollback runs `ctl rollback APP [--wait] [--timeout D]`: the image of the completed deployment before the current one.
func ctlRollback(ctx context.Context, c *ctl, in *parsed) int {
	app := in.pos[0]
	timeout, err := timeoutFlag(in)
	if err != nil {
		return c.usageErr("rollback", err)
	}
	post := poster(func(ctx context.Context) (deploy.Response, error) { return c.client.Rollback(ctx, app) })
	if in.has("wait") {
		return c.follow(ctx, app, post, timeout)
	}
	return c.started(ctx, app, post)
}
