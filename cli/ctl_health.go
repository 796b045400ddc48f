package cli

import (
	"context"
	"io"
)

// ctlHealth runs `ctl health APP [--limit N]`: recent health checks per color.
func ctlHealth(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", 0)
	if err != nil {
		return c.usageErr("health", err)
	}
	h, err := c.client.Health(ctx, in.pos[0], limit)
	return c.answer(h, err, func(w io.Writer) { c.fmt.healthView(w, h) })
}
