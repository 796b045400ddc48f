package cli

import (
	"context"
	"io"
)

// ctlReload runs `ctl reload`: the supervisor re-reads the app configs.
func ctlReload(ctx context.Context, c *ctl, in *parsed) int {
	res, err := c.client.Reload(ctx)
	return c.answer(res, err, func(w io.Writer) { reloadSummary(w, res) })
}
