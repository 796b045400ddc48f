package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// reloadCmd builds `bluegreen ctl reload`.
func (c *ctl) reloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "re-read the app configs (same as SIGHUP)",
		Args:  argsBetween(0, 0),
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			res, err := c.client.Reload(ctx)
			return c.answer(res, err, func(w io.Writer) { reloadSummary(w, res) })
		}),
	}
}
