package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
)

// healthCmd builds `bluegreen ctl health`.
func (c *ctl) healthCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:               "health APP [--limit N]",
		Short:             "recent health checks per color",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			h, err := c.client.Health(ctx, args[0], limit)
			return c.answer(h, err, func(w io.Writer) { c.fmt.healthView(w, h) })
		}),
	}
	cmd.Flags().Var(newCount(&limit, 0), "limit", fmt.Sprintf("how many checks per color (default %d; 0: the default)", api.DefaultHealthLimit))
	return cmd
}
