package cli

import (
	"context"
	"io"
)

// ctlStatus runs `ctl status [APP]`: the table of apps, or one app in detail.
func ctlStatus(ctx context.Context, c *ctl, in *parsed) int {
	if len(in.pos) == 1 {
		st, err := c.client.App(ctx, in.pos[0])
		return c.answer(st, err, func(w io.Writer) { c.fmt.appDetail(w, st) })
	}
	apps, err := c.client.Apps(ctx)
	return c.answer(orEmpty(apps), err, func(w io.Writer) { c.fmt.appsTable(w, apps) })
}
