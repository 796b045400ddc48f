// Package daemon is the serving process of `bluegreen serve`, beside the
// supervisor it runs: it opens the store and the sockets (or takes them
// over from the process it replaces), starts the supervisor (actors) and
// the management API (api), tells systemd and an old process that it is
// ready, reloads the configs on SIGHUP, upgrades itself onto a new binary
// on SIGUSR2 or POST /api/upgrade (upgrade.go, internal/handover), and stops
// when its context ends. Without a service manager the process the user
// started stays through the upgrades as their stand-in (standin.go). The
// command line (cli) parses serve's flags into Options and calls Run.
package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bluegreen/bluegreen/actors"
	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/internal/handover"
	"github.com/bluegreen/bluegreen/internal/logsink"
)

// The supervisor serves the management API.
var _ api.Backend = (*actors.System)(nil)

// DefaultReconcileInterval is how often each app re-reads its containers
// from Docker unless Options say otherwise.
const DefaultReconcileInterval = actors.DefaultReconcileInterval

// DefaultDockerConcurrency is how many container creates, starts, stops
// and removals of all apps run at once (--docker-concurrency;
// docs/operations.md, "Many apps on one VM").
const DefaultDockerConcurrency = actors.DefaultDockerConcurrency

// Options are what serve runs with: its flags, its version and its output.
type Options struct {
	AppsDir           string        // the app configs (--apps)
	DB                string        // the SQLite file (--db)
	API               string        // the management API's address: host:port or unix:/path (--api)
	LogFormat         string        // text or json (--log-format)
	LogLevel          string        // debug, info, warn or error (--log-level)
	ReconcileInterval time.Duration // how often each app re-reads its containers (--reconcile-interval); 0: DefaultReconcileInterval
	DockerConcurrency int           // container creates, starts, stops and removals at once (--docker-concurrency); 0: no bound
	AccessLog         string        // the file of the proxies' access log (--access-log); "": the log output
	Args              []string      // the process's arguments ("serve" and its flags), for the process an upgrade starts
	Version           string        // this build's version, in the log and the upgrade's events
	Stderr            io.Writer     // the log, and what stops serve before there is one
}

// Result is how Run ended; the command line makes it the exit status
// (docs/cli.md, "Exit codes").
type Result int

const (
	// Stopped: the context ended (SIGINT, SIGTERM) and serve stopped, or it
	// handed over to the process an upgrade started.
	Stopped Result = iota
	// Failed: serve did not start (said on Stderr, and to the old process
	// after an upgrade), or its management API stopped (said in the log).
	Failed
	// BadOption: a log format or level that does not exist, a negative
	// --docker-concurrency, an access log file that cannot be opened (said
	// on Stderr).
	BadOption
)

// Bounds of serve's start and stop.
const (
	// readyTimeout bounds the wait, at start, for every app's first adoption
	// before serve reports ready anyway: a dead Docker never holds it up.
	readyTimeout = 10 * time.Second
	// apiShutdownTimeout is how long API calls in flight may finish at a stop.
	apiShutdownTimeout = 5 * time.Second
	// stopTimeout is the outer bound of a stop; each app's proxy drains
	// within its drain_timeout and websocket_drain_timeout.
	stopTimeout = 10 * time.Minute
)

// Run runs the supervisor until ctx ends (SIGINT/SIGTERM). SIGHUP reloads
// the configs; SIGUSR2 upgrades it (upgrade.go).
//
// Readiness (systemd's READY=1, and an upgrade's ready): every app's proxy
// listens and its first adoption of the containers answered, or
// readyTimeout passed.
//
// Its log goes to o.Stderr through a logsink.Sink: a log output that is
// closed (SIGPIPE is caught: a write fails with EPIPE) or stuck (a pipe
// nobody reads) costs log lines, never the process or its stop
// (docs/cli.md, "The log output").
//
// Without a service manager, the process the user started stays after its
// first upgrade as the stand-in of the serving processes (standin.go): Run
// then does not return, the process exits as the last serving process did.
func Run(ctx context.Context, o Options) Result {
	// SIGUSR2 would kill the process by default, SIGPIPE too on a log
	// output whose reader left: both are caught first thing.
	usr2, pipe := make(chan os.Signal, 1), make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(usr2)
	defer signal.Stop(pipe)
	out := logsink.New(o.Stderr, logsink.Options{})
	defer out.Close()
	// A process started by an upgrade inherits the old one's sockets.
	inh, err := handover.FromEnv()
	if err != nil {
		fmt.Fprintf(out, "bluegreen: %v\n", err)
		return Failed
	}
	if link := inh.StandIn(); link != nil {
		go func() {
			<-link.Lost() // the stand-in died: end as a kill -9 of serve would
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}()
	}
	logger, err := newLogger(inh.LogWriter(out), o.LogFormat, o.LogLevel)
	if err == nil && o.DockerConcurrency < 0 {
		err = fmt.Errorf("--docker-concurrency %d: use 1 or more, or 0 for no bound", o.DockerConcurrency)
	}
	if err != nil {
		fmt.Fprintln(out, err)
		inh.Fail(err)
		return BadOption
	}
	slog.SetDefault(logger) // hollywood logs through the default logger
	access, err := openAccessLog(o, out)
	if err != nil {
		fmt.Fprintf(out, "bluegreen: %v\n", err)
		inh.Fail(err)
		return BadOption
	}
	defer access.close(logger)

	sv, err := start(ctx, o, logger, inh, access)
	if err != nil {
		fmt.Fprintf(out, "bluegreen: %v\n", err)
		inh.Fail(err)
		return Failed
	}
	sv.out = out
	// SIGHUP is caught before systemd hears READY: a reload sent right
	// after it must not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sv.ready(ctx)
	for len(usr2) > 0 { // a SIGUSR2 that reached this process while it started was the old one's
		<-usr2
	}
	res := sv.run(ctx, hup, usr2)
	sv.stop()
	sv.st.Close()
	if sv.standIn.active() {
		access.close(logger)
		sv.standIn.stand(func() { out.Close() }) // does not return
	}
	return res
}

// newLogger builds the slog logger of serve.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
