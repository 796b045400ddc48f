package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/api"
)

// EnvAPI names the environment variable that sets ctl's default API address.
const EnvAPI = "BLUEGREEN_API"

// DefaultDeployTimeout bounds `ctl deploy --wait` unless --timeout says otherwise.
const DefaultDeployTimeout = 10 * time.Minute

// ctl holds what every subcommand needs.
type ctl struct {
	client *api.Client
	addr   string
	json   bool
	stdout io.Writer
	stderr io.Writer
	fmt    formatter
	// pollInterval is how often deploy --wait polls when the event stream is unavailable.
	pollInterval time.Duration
	// refresh is watch's fallback full refresh.
	refresh time.Duration
}

// command is one ctl subcommand.
type command struct {
	name    string
	args    string // positional arguments and flags, for the usage line
	summary string
	flags   map[string]bool // flag name → takes a value
	minPos  int
	maxPos  int // -1: any
	run     func(ctx context.Context, c *ctl, in *parsed) int
}

func (cmd *command) usage() string {
	return "usage: bluegreen ctl [--api ADDR] [--json] " + strings.TrimSpace(cmd.name+" "+cmd.args)
}

var commands []*command

func init() {
	commands = []*command{
		{name: "status", args: "[APP]", summary: "table of apps, or one app in detail", maxPos: 1, run: ctlStatus},
		{name: "deploy", args: "APP [IMAGE] [--wait] [--timeout D]", summary: "set the desired image and deploy it (no IMAGE: redeploy the current one)",
			flags: map[string]bool{"wait": false, "timeout": true}, minPos: 1, maxPos: 2, run: ctlDeploy},
		{name: "rollback", args: "APP [--wait] [--timeout D]", summary: "deploy the image of the previous completed deployment",
			flags: map[string]bool{"wait": false, "timeout": true}, minPos: 1, maxPos: 1, run: ctlRollback},
		{name: "switch", args: "APP COLOR", summary: "move traffic to the other color's container (blue or green)", minPos: 2, maxPos: 2, run: ctlSwitch},
		{name: "history", args: "APP [--limit N]", summary: "deployments, newest first",
			flags: map[string]bool{"limit": true, "offset": true}, minPos: 1, maxPos: 1, run: ctlHistory},
		{name: "health", args: "APP [--limit N]", summary: "recent health checks per color",
			flags: map[string]bool{"limit": true}, minPos: 1, maxPos: 1, run: ctlHealth},
		{name: "events", args: "[--app APP] [--limit N] [--follow]", summary: "the audit trail; --follow streams live",
			flags: map[string]bool{"app": true, "limit": true, "follow": false}, maxPos: 0, run: ctlEvents},
		{name: "watch", args: "", summary: "live, self-refreshing status of all apps (Ctrl-C quits)", maxPos: 0, run: ctlWatch},
		{name: "logs", args: "APP [--follow] [--tail N]", summary: "the active container's logs",
			flags: map[string]bool{"follow": false, "tail": true, "f": false}, minPos: 1, maxPos: 1, run: ctlLogs},
		{name: "reload", args: "", summary: "re-read the app configs (same as SIGHUP)", maxPos: 0, run: ctlReload},
		{name: "upgrade", args: "[--wait] [--timeout D]", summary: "restart serve onto the binary at its path without dropping a request (as SIGUSR2)",
			flags: map[string]bool{"wait": false, "timeout": true}, maxPos: 0, run: ctlUpgrade},
	}
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func ctlUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bluegreen ctl [--api ADDR] [--json] SUBCOMMAND [ARGS]")
	fmt.Fprintln(w, "\nsubcommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %-36s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(w, "\n--api ADDR  the API address: host:port or unix:/path (default %s, or $%s)\n", api.DefaultAddr, EnvAPI)
	fmt.Fprintln(w, "--json      print the API's JSON answers")
	fmt.Fprintln(w, "flags may come before or after the subcommand and its arguments; bluegreen ctl SUBCOMMAND -h for help")
}

// runCtl parses the ctl arguments and runs the subcommand.
func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	in, cmd, err := parseCtl(args)
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen ctl: %v\n", err)
		if cmd != nil {
			fmt.Fprintln(stderr, cmd.usage())
		} else {
			fmt.Fprintln(stderr, "usage: bluegreen ctl [--api ADDR] [--json] SUBCOMMAND (bluegreen ctl help lists them)")
		}
		return ExitUsage
	}
	if cmd == nil { // help
		if len(in.pos) > 0 {
			if c := findCommand(in.pos[0]); c != nil {
				fmt.Fprintf(stdout, "%s\n\n%s\n", c.usage(), c.summary)
				return ExitOK
			}
			fmt.Fprintf(stderr, "bluegreen ctl: unknown subcommand %q\n", in.pos[0])
			return ExitUsage
		}
		ctlUsage(stdout)
		return ExitOK
	}
	if in.has("help") || in.has("h") {
		fmt.Fprintf(stdout, "%s\n\n%s\n", cmd.usage(), cmd.summary)
		return ExitOK
	}
	addr := in.get("api")
	if addr == "" {
		addr = os.Getenv(EnvAPI)
	}
	if addr == "" {
		addr = api.DefaultAddr
	}
	c := &ctl{
		client:       api.NewClient(addr),
		addr:         addr,
		json:         in.has("json"),
		stdout:       stdout,
		stderr:       stderr,
		fmt:          formatter{now: time.Now},
		pollInterval: 500 * time.Millisecond,
		refresh:      30 * time.Second,
	}
	return cmd.run(ctx, c, in)
}

// fail prints an operation error and returns ExitFailed.
func (c *ctl) fail(err error) int {
	if errors.Is(err, context.Canceled) {
		return ExitFailed
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(c.stderr, "error: %s\n", ae.Message)
		for _, d := range ae.Details {
			fmt.Fprintf(c.stderr, "  %s\n", d)
		}
		return ExitFailed
	}
	fmt.Fprintf(c.stderr, "error: %v\n", err)
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

// usageErr prints a usage problem found after parsing and returns ExitUsage.
func (c *ctl) usageErr(cmd string, err error) int {
	fmt.Fprintf(c.stderr, "bluegreen ctl: %v\n%s\n", err, findCommand(cmd).usage())
	return ExitUsage
}
