package cli

import (
	"context"
	"io"
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
	return c.answer(orEmpty(ds), err, func(w io.Writer) { c.fmt.historyTable(w, ds) })
}
