package cli

import (
	"context"

	"github.com/bluegreen/bluegreen/deploy"
)

// ctlStatus runs `ctl status [APP]`: the table of apps, or one app in detail.
func ctlStatus(ctx context.Context, c *ctl, in *parsed) int {
	if len(in.pos) == 1 {
		st, err := c.client.App(ctx, in.pos[0])
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			writeJSON(c.stdout, st)
			return ExitOK
		}
		c.fmt.appDetail(c.stdout, st)
		return ExitOK
	}
	apps, err := c.client.Apps(ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		if apps == nil {
			apps = []deploy.AppStatus{}
		}
		writeJSON(c.stdout, apps)
		return ExitOK
	}
	c.fmt.appsTable(c.stdout, apps)
	return ExitOK
}
