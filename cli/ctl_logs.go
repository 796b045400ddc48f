package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
)

// logsCmd builds `bluegreen ctl logs`.
func (c *ctl) logsCmd() *cobra.Command {
	var tail int
	var follow bool
	cmd := &cobra.Command{
		Use:               "logs APP [--follow] [--tail N]",
		Short:             "the active container's logs",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			if err := c.client.Logs(ctx, args[0], tail, follow, c.stdout); err != nil {
				if ctx.Err() != nil {
					return ExitOK
				}
				return c.fail(err)
			}
			return ExitOK
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().Var(newCount(&tail, -1), "tail", fmt.Sprintf("only the last N lines (default %d; 0: all of them)", api.DefaultLogsTail))
	return cmd
}
