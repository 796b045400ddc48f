package cli

import "context"

// ctlHealth runs `ctl health APP [--limit N]`: recent health checks per color.
func ctlHealth(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", 0)
	if err != nil {
		return c.usageErr("health", err)
	}
	h, err := c.client.Health(ctx, in.pos[0], limit)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, h)
		return ExitOK
	}
	c.fmt.healthView(c.stdout, h)
	return ExitOK
}
