package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// statusCmd builds `bluegreen ctl status`.
func (c *ctl) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "status [APP]",
		Short:             "table of apps, or one app in detail",
		Args:              argsBetween(0, 1),
		ValidArgsFunction: c.completeApp,
		RunE:              c.run(c.status),
	}
}

// status runs `ctl status [APP]`: the table of apps, or one app in detail.
func (c *ctl) status(ctx context.Context, cmd *cobra.Command, args []string) int {
	if len(args) == 1 {
		st, err := c.client.App(ctx, args[0])
		return c.answer(st, err, func(w io.Writer) { c.fmt.appDetail(w, st) })
	}
	apps, err := c.client.Apps(ctx)
	return c.answer(orEmpty(apps), err, func(w io.Writer) { c.fmt.appsTable(w, apps) })
}
