package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/deploy"
)

// switchCmd builds `bluegreen ctl switch`.
func (c *ctl) switchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "switch APP COLOR",
		Short: "move traffic to the other color's container (blue or green)",
		Args:  argsBetween(2, 2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return []string{string(deploy.Blue), string(deploy.Green)}, cobra.ShellCompDirectiveNoFileComp
			}
			return c.completeApp(cmd, args, "")
		},
		RunE: c.run(c.switchColor),
	}
}

// switchColor runs `ctl switch APP COLOR`: traffic to the other color, once it is healthy.
func (c *ctl) switchColor(ctx context.Context, cmd *cobra.Command, args []string) int {
	color, err := deploy.ParseColor(args[1])
	if err != nil {
		return c.usageErr(cmd, err)
	}
	st, err := c.client.Switch(ctx, args[0], color)
	return c.answer(st, err, func(w io.Writer) {
		fmt.Fprintf(w, "%s: traffic now on %s (%s)\n", st.Name, dash(st.ActiveColor), dash(st.CurrentImage))
	})
}
