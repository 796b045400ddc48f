package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/bluegreen/bluegreen/deploy"
)

// ctlSwitch runs `ctl switch APP COLOR`: traffic to the other color, once it is healthy.
func ctlSwitch(ctx context.Context, c *ctl, in *parsed) int {
	color, err := deploy.ParseColor(in.pos[1])
	if err != nil {
		return c.usageErr("switch", err)
	}
	st, err := c.client.Switch(ctx, in.pos[0], color)
	return c.answer(st, err, func(w io.Writer) {
		fmt.Fprintf(w, "%s: traffic now on %s (%s)\n", st.Name, dash(st.ActiveColor), dash(st.CurrentImage))
	})
}
