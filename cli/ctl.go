package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
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

// globalFlags are accepted before or after any subcommand name.
var globalFlags = map[string]bool{"api": true, "json": false, "help": false, "h": false}

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

// parsed holds the flags and positional arguments of one ctl invocation.
type parsed struct {
	flags map[string]string
	pos   []string
}

func (p *parsed) has(name string) bool {
	v, ok := p.flags[name]
	return ok && v != "false"
}

func (p *parsed) get(name string) string { return p.flags[name] }

// intFlag returns a non-negative integer flag, def when absent.
func (p *parsed) intFlag(name string, def int) (int, error) {
	v, ok := p.flags[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--%s %q is not a non-negative integer", name, v)
	}
	return n, nil
}

// parseCtl splits args into the subcommand, its flags and positional
// arguments. Global flags (--api, --json) are accepted anywhere; the
// subcommand's flags anywhere after its name. A nil command with no error
// means help was asked for.
func parseCtl(args []string) (*parsed, *command, error) {
	in := &parsed{flags: map[string]string{}}
	var cmd *command
	help := false
	onlyPos := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if onlyPos || a == "-" || !strings.HasPrefix(a, "-") {
			switch {
			case cmd == nil && !help && (a == "help"):
				help = true
			case cmd == nil && !help:
				cmd = findCommand(a)
				if cmd == nil {
					return nil, nil, fmt.Errorf("unknown subcommand %q", a)
				}
			default:
				in.pos = append(in.pos, a)
			}
			continue
		}
		if a == "--" {
			onlyPos = true
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, known := globalFlags[name]
		if !known && cmd != nil {
			takesValue, known = cmd.flags[name]
		}
		if !known {
			if cmd == nil {
				return nil, nil, fmt.Errorf("unknown flag %s (before the subcommand only --api and --json are allowed)", a)
			}
			return in, cmd, fmt.Errorf("unknown flag %s for %s", a, cmd.name)
		}
		switch {
		case takesValue && !hasValue:
			if i+1 >= len(args) {
				return in, cmd, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		case !takesValue && hasValue:
			if _, err := strconv.ParseBool(value); err != nil {
				return in, cmd, fmt.Errorf("flag --%s takes no value (got %q)", name, value)
			}
		case !takesValue:
			value = "true"
		}
		in.flags[name] = value
	}
	if help {
		return in, nil, nil
	}
	if cmd == nil {
		if in.has("help") || in.has("h") {
			return in, nil, nil
		}
		return nil, nil, errors.New("missing subcommand")
	}
	if in.has("help") || in.has("h") {
		return in, cmd, nil
	}
	if len(in.pos) < cmd.minPos {
		return in, cmd, fmt.Errorf("%s needs %s", cmd.name, cmd.args)
	}
	if cmd.maxPos >= 0 && len(in.pos) > cmd.maxPos {
		return in, cmd, fmt.Errorf("too many arguments for %s: %s", cmd.name, strings.Join(in.pos[cmd.maxPos:], " "))
	}
	return in, cmd, nil
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

// usageErr prints a usage problem found after parsing and returns ExitUsage.
func (c *ctl) usageErr(cmd string, err error) int {
	fmt.Fprintf(c.stderr, "bluegreen ctl: %v\n%s\n", err, findCommand(cmd).usage())
	return ExitUsage
}

func ctlStatus(ctx context.Context, c *ctl, in *parsed) int {
	if len(in.pos) == 1 {
		st, err := c.client.App(ctx, in.pos[0])
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			writeJSON(c.stdout, st)
			return ExitOK
		}
		c.fmt.appDetail(c.stdout, st)
		return ExitOK
	}
	apps, err := c.client.Apps(ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		if apps == nil {
			apps = []deploy.AppStatus{}
		}
		writeJSON(c.stdout, apps)
		return ExitOK
	}
	c.fmt.appsTable(c.stdout, apps)
	return ExitOK
}

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

func ctlHistory(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", 0)
	if err != nil {
		return c.usageErr("history", err)
	}
	offset, err := in.intFlag("offset", 0)
	if err != nil {
		return c.usageErr("history", err)
	}
	ds, err := c.client.History(ctx, in.pos[0], limit, offset)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		if ds == nil {
			ds = []deploy.Deployment{}
		}
		writeJSON(c.stdout, ds)
		return ExitOK
	}
	c.fmt.historyTable(c.stdout, ds)
	return ExitOK
}

func ctlHealth(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", 0)
	if err != nil {
		return c.usageErr("health", err)
	}
	h, err := c.client.Health(ctx, in.pos[0], limit)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, h)
		return ExitOK
	}
	c.fmt.healthView(c.stdout, h)
	return ExitOK
}

func ctlReload(ctx context.Context, c *ctl, in *parsed) int {
	res, err := c.client.Reload(ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		writeJSON(c.stdout, res)
		return ExitOK
	}
	reloadSummary(c.stdout, res)
	return ExitOK
}

func ctlLogs(ctx context.Context, c *ctl, in *parsed) int {
	tail, err := in.intFlag("tail", -1)
	if err != nil {
		return c.usageErr("logs", err)
	}
	follow := in.has("follow") || in.has("f")
	if err := c.client.Logs(ctx, in.pos[0], tail, follow, c.stdout); err != nil {
		if ctx.Err() != nil {
			return ExitOK
		}
		return c.fail(err)
	}
	return ExitOK
}

// eventsPage is how many events one request of `ctl events` asks for.
const eventsPage = 1000

// DefaultEventsShown is how many of the latest events `ctl events` prints.
const DefaultEventsShown = 50

func ctlEvents(ctx context.Context, c *ctl, in *parsed) int {
	limit, err := in.intFlag("limit", DefaultEventsShown)
	if err != nil {
		return c.usageErr("events", err)
	}
	app := in.get("app")
	follow := in.has("follow")

	var stream <-chan deploy.Event
	var errc <-chan error
	if follow {
		// Open the stream first, so nothing falls between history and live events.
		stream, errc, err = c.client.StreamEvents(ctx, app)
		if err != nil {
			return c.fail(err)
		}
	}
	latest, err := c.latestEvents(ctx, app, limit)
	if err != nil {
		return c.fail(err)
	}
	var lastID int64
	for _, ev := range latest {
		c.printEvent(ev)
		lastID = ev.ID
	}
	if !follow {
		return ExitOK
	}
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case ev, ok := <-stream:
			if !ok {
				stream = nil
				continue
			}
			if ev.ID != 0 && ev.ID <= lastID {
				continue
			}
			c.printEvent(ev)
		case err := <-errc:
			if err == nil || ctx.Err() != nil {
				return ExitOK
			}
			return c.fail(err)
		}
	}
}

// latestEvents pages through the audit trail and keeps the last limit events.
func (c *ctl) latestEvents(ctx context.Context, app string, limit int) ([]deploy.Event, error) {
	if limit == 0 {
		return nil, nil
	}
	var ring []deploy.Event
	var after int64
	for {
		page, err := c.client.Events(ctx, app, after, eventsPage)
		if err != nil {
			return nil, err
		}
		ring = append(ring, page...)
		if len(ring) > limit {
			ring = append(ring[:0:0], ring[len(ring)-limit:]...)
		}
		if len(page) < eventsPage {
			return ring, nil
		}
		after = page[len(page)-1].ID
	}
}

func (c *ctl) printEvent(ev deploy.Event) {
	if c.json {
		writeJSONLine(c.stdout, ev)
		return
	}
	fmt.Fprintln(c.stdout, c.fmt.eventLine(ev))
}
