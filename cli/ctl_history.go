package cli

import (
	"context"

	"github.com/bluegreen/bluegreen/deploy"
)

// ctlHistory runs `ctl history APP [--limit N]`: deployments, newest first.
func ctlHistory(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", 0)
	if err != nil {
		return c.usageErr("history", err)
	}
	offset, err := in.intFlag("offset", 0)
	if err != nil {
		return c.usageErr("history", err)
	}
	ds, err := c.client.History(ctx, in.pos[0], limit, offset)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		if ds == nil {
			ds = []deploy.Deployment{}
		}
		writeJSON(c.stdout, ds)
		return ExitOK
	}
	c.fmt.historyTable(c.stdout, ds)
	return ExitOK
}
