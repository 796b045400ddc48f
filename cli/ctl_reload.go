package cli

import "context"

// ctlReload runs `ctl reload`: the supervisor re-reads the app configs.
func ctlReload(ctx context.Context, c *ctl, in *parsed) int {
	res, err := c.client.Reload(ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, res)
		return ExitOK
	}
	reloadSummary(c.stdout, res)
	return ExitOK
}
