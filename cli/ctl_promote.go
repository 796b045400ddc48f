package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// promoteCmd builds `bluegreen ctl promote`.
func (c *ctl) promoteCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "promote APP",
		Short:             "skip the rest of a deployment's canary steps and verification window: all traffic to the new color",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE:              c.run(c.promote),
	}
}

// promote runs `ctl promote APP` (docs/verification.md): the deployment in
// canary or verifying moves all traffic to its color and goes on to draining.
func (c *ctl) promote(ctx context.Context, cmd *cobra.Command, args []string) int {
	st, err := c.client.Promote(ctx, args[0])
	return c.answer(st, err, func(w io.Writer) {
		if d := st.Deployment; d != nil {
			fmt.Fprintf(w, "%s: deployment #%d promoted: all traffic on %s (%s); the old color drains\n",
				st.Name, d.DeploymentID, dash(d.Color), dash(d.ToImage))
			return
		}
		fmt.Fprintf(w, "%s: promoted: traffic on %s (%s)\n", st.Name, dash(st.ActiveColor), dash(st.CurrentImage))
	})
}
