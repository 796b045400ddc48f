package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// upgradeCmd builds `bluegreen ctl upgrade`.
func (c *ctl) upgradeCmd() *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade [--wait] [--timeout D]",
		Short: "restart serve onto the binary at its path without dropping a request (as SIGUSR2)",
		Args:  argsBetween(0, 0),
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			return upgradeCommand(ctx, c.client, upgradeOptions{wait: wait, timeout: timeout, json: c.json,
				poll: 200 * time.Millisecond}, c.stdout, c.stderr)
		}),
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the upgrade; exit 0 only if the new process took over")
	cmd.Flags().Var(newDuration(&timeout, DefaultDeployTimeout), "timeout", "how long --wait waits (a running deployment finishes first)")
	return cmd
}

// upgradeOptions are what `ctl upgrade` is asked.
type upgradeOptions struct {
	wait    bool          // follow the upgrade to its end
	timeout time.Duration // how long --wait follows it (it waits for a running deployment first)
	json    bool
	poll    time.Duration // how often --wait reads the audit trail
}

// upgradeResult is how an upgrade ended, as --wait --json prints it.
type upgradeResult struct {
	Status     string   `json:"status"` // "upgraded" or "failed"
	OldPID     int      `json:"old_pid"`
	NewPID     int      `json:"new_pid,omitempty"`
	OldVersion string   `json:"old_version,omitempty"`
	NewVersion string   `json:"new_version,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Logs       []string `json:"logs,omitempty"`
}

// upgradeCommand asks serve to upgrade itself onto the binary at its path
// (POST /api/upgrade). With wait it follows the audit trail, which both
// processes share, until supervisor.upgraded or supervisor.upgrade_failed
// of this upgrade, and then GET /health until the new process answers; it
// exits 0 only when the new process serves.
func upgradeCommand(ctx context.Context, client *api.Client, o upgradeOptions, stdout, stderr io.Writer) int {
	st, err := client.Upgrade(ctx)
	if err != nil {
		return printFailure(stderr, err)
	}
	if !o.wait {
		if o.json {
			writeJSON(stdout, st)
			return ExitOK
		}
		fmt.Fprintf(stdout, "upgrading bluegreen (pid %d): follow it with bluegreen ctl events --follow, or use ctl upgrade --wait\n", st.OldPID)
		return ExitOK
	}
	if !o.json {
		fmt.Fprintf(stdout, "upgrading bluegreen (pid %d): the running deployments finish first, then a new process takes over\n", st.OldPID)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := followUpgrade(ctx, client, st, o.poll)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return printFailure(stderr, fmt.Errorf("no outcome of the upgrade of pid %d within %s: see bluegreen ctl events", st.OldPID, o.timeout))
	case errors.Is(err, context.Canceled): // Ctrl-C, as deploy --wait says it
		fmt.Fprintf(stderr, "stopped waiting: the upgrade of pid %d goes on: follow it with bluegreen ctl events --follow\n", st.OldPID)
		return ExitFailed
	case err != nil:
		return printFailure(stderr, err)
	}
	if res.Status == "upgraded" {
		servedBy(ctx, client, res.NewPID, o.poll)
	}
	if o.json {
		writeJSON(stdout, res)
	} else if res.Status == "upgraded" {
		fmt.Fprintf(stdout, "upgraded: pid %d (%s) serves in place of pid %d (%s)\n", res.NewPID, res.NewVersion, res.OldPID, res.OldVersion)
	}
	if res.Status != "upgraded" {
		fmt.Fprintf(stderr, "error: upgrade failed: %s\npid %d keeps serving\n", res.Reason, res.OldPID)
		return ExitFailed
	}
	return ExitOK
}

// followUpgrade reads the audit trail after the upgrade's first event until
// its outcome. Errors reaching the API (the switch of processes, a
// restart) are retried until ctx ends.
func followUpgrade(ctx context.Context, client *api.Client, st deploy.UpgradeStatus, poll time.Duration) (upgradeResult, error) {
	after := st.EventID
	var last error
	for {
		evs, err := client.Events(ctx, "", after, api.DefaultEventsLimit)
		if err == nil {
			for _, e := range evs {
				after = e.ID
				if res, ok := upgradeOutcome(e, st.OldPID); ok {
					return res, nil
				}
			}
		} else if last = err; ctx.Err() == nil {
			// The server refused (4xx): final. Not reached or 5xx: the
			// processes may be switching, try again.
			if s := api.HTTPStatus(err); s != 0 && s < 500 {
				return upgradeResult{}, err
			}
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return upgradeResult{}, fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return upgradeResult{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// upgradeOutcome reads an event that ends the upgrade of oldPID.
func upgradeOutcome(e deploy.Event, oldPID int) (upgradeResult, bool) {
	var d struct {
		OldPID     int      `json:"old_pid"`
		NewPID     int      `json:"new_pid"`
		OldVersion string   `json:"old_version"`
		NewVersion string   `json:"new_version"`
		Reason     string   `json:"reason"`
		Logs       []string `json:"logs"`
	}
	if e.Type != deploy.EventSupervisorUpgraded && e.Type != deploy.EventSupervisorUpgradeFailed {
		return upgradeResult{}, false
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || d.OldPID != oldPID {
		return upgradeResult{}, false
	}
	res := upgradeResult{Status: "upgraded", OldPID: d.OldPID, NewPID: d.NewPID, OldVersion: d.OldVersion, NewVersion: d.NewVersion}
	if e.Type == deploy.EventSupervisorUpgradeFailed {
		res = upgradeResult{Status: "failed", OldPID: d.OldPID, NewPID: d.NewPID, Reason: d.Reason, Logs: d.Logs}
	}
	return res, true
}

// servedBy waits until GET /health answers from pid (the old process stops
// accepting right after the new one said it is ready), or ctx ends.
func servedBy(ctx context.Context, client *api.Client, pid int, poll time.Duration) {
	for {
		if h, err := client.Overall(ctx); err == nil && h.PID == pid {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}
