package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/deploy"
)

// Traffic control (docs/traffic.md): ctl pause, maintenance and resume.
// Their values are checked here as the API checks them, so that a bad one
// is bad usage (exit 2) before anything is sent.

// pauseCmd builds `bluegreen ctl pause`.
func (c *ctl) pauseCmd() *cobra.Command {
	var req deploy.PauseRequest
	cmd := &cobra.Command{
		Use:   "pause APP [--max-wait D]",
		Short: "hold every new request of an app until resume (e.g. during a migration)",
		Long: `Hold every new request of APP, on new and open connections (WebSocket
handshakes too): nothing is sent to a container until "ctl resume APP", when
the held requests go to the color active then, in the order they came. A
request held longer than --max-wait gets 503 with Retry-After: 5. Requests in
flight finish; open WebSockets stay. Health checks and deployments go on.
Pausing a paused app sets its max wait.`,
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			if _, err := req.Pause(); err != nil {
				return c.usageErr(cmd, err)
			}
			st, err := c.client.Pause(ctx, args[0], req)
			return c.answer(st, err, func(w io.Writer) {
				fmt.Fprintf(w, "%s: paused: new requests are held, each up to %s, until \"bluegreen ctl resume %s\"\n",
					st.Name, durationMS(st.Traffic.MaxWaitMS), st.Name)
			})
		}),
	}
	cmd.Flags().StringVar(&req.MaxWait, "max-wait", "", "`D`uration a request is held at most, 1s to 10m (default 30s)")
	return cmd
}

// maintenanceCmd builds `bluegreen ctl maintenance`.
func (c *ctl) maintenanceCmd() *cobra.Command {
	var req deploy.MaintenanceRequest
	cmd := &cobra.Command{
		Use:   "maintenance APP [--message TEXT] [--retry-after D]",
		Short: "answer every new request of an app with 503 and a maintenance page",
		Long: `Answer every new request of APP with 503 and Retry-After: an HTML page to
browsers (proxy.maintenance_page, or the built-in one, with the message),
JSON {"error": {"code": "maintenance", "message": ...}} to other clients.
Requests a pause holds get this answer too. Requests in flight finish; open
WebSockets stay. Health checks and deployments go on. "ctl resume APP" ends
it; a maintenance of an app in maintenance sets its message and retry-after.`,
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			if _, err := req.Maintenance(); err != nil {
				return c.usageErr(cmd, err)
			}
			st, err := c.client.Maintenance(ctx, args[0], req)
			return c.answer(st, err, func(w io.Writer) {
				fmt.Fprintf(w, "%s: in maintenance: new requests get 503 (Retry-After: %s) with the message %q\n",
					st.Name, retryAfterText(st.Traffic.RetryAfterMS), st.Traffic.Message)
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.Message, "message", "", "`TEXT` of the page and of the JSON answer (at most 1024 bytes)")
	f.StringVar(&req.RetryAfter, "retry-after", "", "`D`uration clients are told to wait, 1s to 24h (default 60s)")
	return cmd
}

// resumeCmd builds `bluegreen ctl resume`.
func (c *ctl) resumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "resume APP",
		Short:             "end a pause (held requests are sent, in order) or a maintenance",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			st, err := c.client.Resume(ctx, args[0])
			return c.answer(st, err, func(w io.Writer) {
				fmt.Fprintf(w, "%s: serving: new requests go to %s\n", st.Name, dash(st.ActiveColor))
			})
		}),
	}
}

// trafficCell is an app's traffic mode in the apps table: the mode, and
// the requests held now when there are any.
func trafficCell(t deploy.Traffic) string {
	mode := dash(t.Mode)
	if t.Held > 0 {
		return fmt.Sprintf("%s (%d held)", mode, t.Held)
	}
	return mode
}

// trafficLine is an app's traffic mode in the detail view.
func (f formatter) trafficLine(t deploy.Traffic) string {
	s := dash(t.Mode)
	if t.Since != nil && t.Mode != deploy.TrafficServing {
		s += " since " + f.stamp(*t.Since) + " (" + f.age(*t.Since) + ")"
	}
	switch t.Mode {
	case deploy.TrafficPaused:
		s += ", max wait " + durationMS(t.MaxWaitMS)
	case deploy.TrafficMaintenance:
		s += fmt.Sprintf(", Retry-After: %s, message %q", retryAfterText(t.RetryAfterMS), t.Message)
	}
	if t.Held > 0 || t.Mode == deploy.TrafficPaused {
		s += fmt.Sprintf(", %d held", t.Held)
	}
	return s
}

// retryAfterText is a maintenance's retry_after as its header says it, in
// whole seconds (rounded up).
func retryAfterText(ms int64) string {
	return strconv.FormatInt((ms+999)/1000, 10)
}
