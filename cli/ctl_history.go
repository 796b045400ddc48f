package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
)

// historyCmd builds `bluegreen ctl history`.
func (c *ctl) historyCmd() *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:               "history APP [--limit N]",
		Short:             "deployments, newest first",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			ds, err := c.client.History(ctx, args[0], limit, offset)
			return c.answer(orEmpty(ds), err, func(w io.Writer) { c.fmt.historyTable(w, ds) })
		}),
	}
	cmd.Flags().Var(newCount(&limit, 0), "limit", fmt.Sprintf("how many deployments (default %d; 0: the default)", api.DefaultHistoryLimit))
	cmd.Flags().Var(newCount(&offset, 0), "offset", "skip the newest N")
	return cmd
}
