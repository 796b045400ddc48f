package cli

import "context"

// ctlLogs runs `ctl logs APP [--follow] [--tail N]`: the active container's logs.
func ctlLogs(ctx context.Context, c *ctl, in *parsed) int {
	tail, err := in.intFlag("tail", -1)
	if err != nil {
		return c.usageErr("logs", err)
	}
	follow := in.has("follow") || in.has("f")
	if err := c.client.Logs(ctx, in.pos[0], tail, follow, c.stdout); err != nil {
		if ctx.Err() != nil {
			return ExitOK
		}
		return c.fail(err)
	}
	return ExitOK
}
