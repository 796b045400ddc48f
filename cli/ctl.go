package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

// EnvAPI names the environment variable that sets ctl's default API address.
const EnvAPI = "BLUEGREEN_API"

// DefaultDeployTimeout bounds `ctl deploy --wait` unless --timeout says otherwise.
const DefaultDeployTimeout = 10 * time.Minute

// ctl holds what every subcommand needs. Its client is made once the flags
// are parsed (--api may come after the subcommand's name).
type ctl struct {
	client *api.Client
	addr   string
	json   bool
	stdout io.Writer
	stderr io.Writer
	fmt    formatter
	// tty reports whether w is a terminal (progress line, watch's full screen).
	tty func(w io.Writer) bool
	// pollInterval is how often deploy --wait polls when the event stream is unavailable.
	pollInterval time.Duration
	// refresh is watch's fallback full refresh.
	refresh time.Duration
	// progressEvery is how often deploy --wait redraws its progress line on a terminal.
	progressEvery time.Duration
}

// subcommands are ctl's subcommands, all of them: a new one is a method
// xxxCmd in its own ctl_xxx.go, added here (help lists them by name). Each
// returns the subcommand with its Use ("name ARGS [--flag X]"), Short, Args
// (usually argsBetween) and flags; its RunE is c.run(...) so that its exit
// status (0 ok, 1 failed operation, 2 bad usage) is the process's.
func (c *ctl) subcommands() []*cobra.Command {
	return []*cobra.Command{
		c.deployCmd(),
		c.eventsCmd(),
		c.healthCmd(),
		c.historyCmd(),
		c.imagesCmd(),
		c.logsCmd(),
		c.maintenanceCmd(),
		c.pauseCmd(),
		c.promoteCmd(),
		c.reloadCmd(),
		c.resumeCmd(),
		c.rollbackCmd(),
		c.statusCmd(),
		c.switchCmd(),
		c.upgradeCmd(),
		c.watchCmd(),
	}
}

// newCtlCmd builds `bluegreen ctl` and its subcommands.
func newCtlCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &ctl{
		stdout:        stdout,
		stderr:        stderr,
		fmt:           formatter{now: time.Now},
		tty:           isTerminal,
		pollInterval:  500 * time.Millisecond,
		refresh:       30 * time.Second,
		progressEvery: 200 * time.Millisecond,
	}
	cmd := &cobra.Command{
		Use:   "ctl SUBCOMMAND",
		Short: "drive a running bluegreen serve through its management API",
		Long: fmt.Sprintf(`bluegreen ctl: a client of the management API of "bluegreen serve".

--api ADDR (host:port or unix:/path; default %s, or $%s) and --json (print
the API's JSON answers) come before or after the subcommand and its arguments.
Exit status: 0 ok, 1 failed operation, 2 bad usage.`, api.DefaultAddr, EnvAPI),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] != "help" {
				return unknown("subcommand", cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("missing subcommand")
			}
			// ctl help [SUBCOMMAND]
			if len(args) == 1 {
				return cmd.Help()
			}
			for _, sub := range cmd.Commands() {
				if sub.Name() == args[1] {
					return sub.Help()
				}
			}
			return unknown("subcommand", cmd, args[1])
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			c.connect()
			if c.tty(c.stdout) {
				c.fmt.width = termWidth(c.stdout)
			}
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.addr, "api", "", fmt.Sprintf("`ADDR` of the API: host:port or unix:/path (default %s, or $%s)", api.DefaultAddr, EnvAPI))
	pf.BoolVar(&c.json, "json", false, "print the API's JSON answers")
	cmd.AddCommand(c.subcommands()...)
	return cmd
}

// connect makes the client of the API that --api, else $BLUEGREEN_API,
// else the default names.
func (c *ctl) connect() {
	if c.addr == "" {
		c.addr = os.Getenv(EnvAPI)
	}
	if c.addr == "" {
		c.addr = api.DefaultAddr
	}
	c.client = api.NewClient(c.addr)
}

// completeApp completes an APP argument (the first) with the names of the
// apps the supervisor runs; nothing when it does not answer at once.
func (c *ctl) completeApp(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return c.appNames(cmd), cobra.ShellCompDirectiveNoFileComp
}

// appNames asks the supervisor for its apps, briefly.
func (c *ctl) appNames(cmd *cobra.Command) []string {
	c.connect()
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	apps, err := c.client.Apps(ctx)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return names
}

// run is the RunE of a ctl subcommand whose work f returns an exit status.
func (c *ctl) run(f func(ctx context.Context, cmd *cobra.Command, args []string) int) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return exit(f(cmd.Context(), cmd, args))
	}
}

// fail prints why an operation failed (printFailure) and returns ExitFailed.
func (c *ctl) fail(err error) int {
	return printFailure(c.stderr, err)
}

// printFailure is ctl's one printer of a failed operation, for every
// subcommand: "error: " and what happened, which says what to do (the
// server's message, with its details one per line; "cannot reach bluegreen
// at ADDR: is "bluegreen serve" running?" when the API does not answer). A
// command stopped by Ctrl-C (its context canceled) prints nothing more. It
// returns ExitFailed: bad usage is printed by Run or usageErr, with ExitUsage.
func printFailure(w io.Writer, err error) int {
	if errors.Is(err, context.Canceled) {
		return ExitFailed
	}
	fmt.Fprintf(w, "error: %v\n", err)
	for _, d := range deploy.ErrorDetails(err) {
		fmt.Fprintf(w, "  %s\n", d)
	}
	return ExitFailed
}

// answer prints the answer v of an API call that returned err: the error,
// or v as JSON with --json, else as human writes it.
func (c *ctl) answer(v any, err error, human func(io.Writer)) int {
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, v)
		return ExitOK
	}
	human(c.stdout)
	return ExitOK
}

// orEmpty makes a nil list an empty one, so JSON shows [] and not null.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// usageErr prints a usage problem found after parsing (a bad value of a
// positional argument) and returns ExitUsage.
func (c *ctl) usageErr(cmd *cobra.Command, err error) int {
	fmt.Fprintf(c.stderr, "%s: %v\n%s", errorPrefix(cmd), err, usageLine(cmd))
	return ExitUsage
}
