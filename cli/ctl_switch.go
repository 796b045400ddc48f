package cli

import (
	"context"
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// ctlSwitch runs `ctl switch APP COLOR`: traffic to the other color, once it is healthy.
func ctlSwitch(ctx context.Context, c *ctl, in *parsed) int {
	app := in.pos[0]
	color, err := deploy.ParseColor(in.pos[1])
	if err != nil {
		return c.usageErr("switch", err)
	}
	st, err := c.client.Switch(ctx, app, color)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, st)
		return ExitOK
	}
	fmt.Fprintf(c.stdout, "%s: traffic now on %s (%s)\n", st.Name, dash(st.ActiveColor), dash(st.CurrentImage))
	return ExitOK
}
