package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/actors"
	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/handover"
	"github.com/bluegreen/bluegreen/internal/sdnotify"
	"github.com/bluegreen/bluegreen/store"
)

// Defaults of `bluegreen serve`.
const (
	DefaultAppsDir = "./apps.d"
	DefaultDB      = "./bluegreen.db"
	DefaultAPI     = "127.0.0.1:7070"
)

// The supervisor serves the management API.
var _ api.Backend = (*actors.System)(nil)

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

// runServe runs the supervisor until ctx ends (SIGINT/SIGTERM). SIGHUP
// reloads the configs; SIGUSR2 upgrades it (upgrade.go).
//
// Readiness (systemd's READY=1, and an upgrade's ready): every app's proxy
// listens and its first adoption of the containers answered, or
// readyTimeout passed.
func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) int {
	// SIGUSR2 would kill the process by default: it is caught first thing.
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	o.argv = os.Args[1:] // the process's own arguments ("serve" and its flags)
	// A process started by an upgrade inherits the old one's sockets.
	inh, err := handover.FromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen: %v\n", err)
		return ExitFailed
	}
	logger, err := newLogger(inh.LogWriter(stderr), o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		inh.Fail(err)
		return ExitUsage
	}
	slog.SetDefault(logger) // hollywood logs through the default logger

	sv, err := startServing(ctx, o, logger, inh)
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen: %v\n", err)
		inh.Fail(err)
		return ExitFailed
	}
	defer sv.st.Close()
	// SIGHUP is caught before systemd hears READY: a reload sent right
	// after it must not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sv.ready(ctx)
	for len(usr2) > 0 { // a SIGUSR2 that reached this process while it started was the old one's
		<-usr2
	}
	code := sv.run(ctx, hup, usr2)
	sv.stop()
	return code
}

// serveOptions are the flags of serve.
type serveOptions struct {
	appsDir, dbPath, apiAddr string
	logFormat, logLevel      string
	reconcile                time.Duration
	argv                     []string // serve's arguments, for the process an upgrade starts
}

// newServeCmd is `bluegreen serve` with its flags.
func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--apps DIR] [--db FILE] [--api ADDR] [--log-format text|json] [--log-level L]",
		Short: "run the supervisor: deployments, proxies and the management API",
		Long: `bluegreen serve runs the supervisor until SIGINT or SIGTERM (in-flight requests finish; the
containers keep running). SIGHUP re-reads the app configs. SIGUSR2 upgrades it onto the binary
now at its path without dropping a request. DOCKER_HOST picks the Docker daemon.`,
		Args: argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return exit(runServe(cmd.Context(), o, stdout, stderr))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.appsDir, "apps", DefaultAppsDir, "`DIR` of app configs (*.yaml, *.yml)")
	fs.StringVar(&o.dbPath, "db", DefaultDB, "SQLite database `FILE`")
	fs.StringVar(&o.apiAddr, "api", DefaultAPI, "`ADDR` of the management API: host:port on loopback, or unix:/path/to.sock")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.DurationVar(&o.reconcile, "reconcile-interval", actors.DefaultReconcileInterval, "how often each app re-reads its containers from Docker")
	_ = cmd.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("apps")
	return cmd
}

// serving is a running `bluegreen serve`: the store, the supervisor, the
// management API's HTTP server and the sockets it listens on.
type serving struct {
	log      *slog.Logger
	st       *store.Store
	sys      *actors.System
	srv      *http.Server
	serveErr chan error
	lns      *handover.Listeners
	inh      *handover.Inherited // what an upgrade handed over; nil on a normal start
	argv     []string
	ctx      context.Context // serve's: its end cancels an upgrade under way

	upgrade upgradeState // upgrade.go
}

// startServing checks the configs, then opens the store and the API
// listener and starts the supervisor and the API. Invalid configs start
// nothing. The listeners are taken over from the old process after an
// upgrade (inh), and opened otherwise.
func startServing(ctx context.Context, o serveOptions, logger *slog.Logger, inh *handover.Inherited) (*serving, error) {
	load := func() ([]*config.App, error) { return config.LoadDir(o.appsDir) }
	if _, err := load(); err != nil {
		return nil, fmt.Errorf("the app configs in %s are invalid, nothing started:\n%v", o.appsDir, err)
	}
	rt, err := docker.New()
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := rt.Ping(pctx); err != nil {
		logger.Warn("docker unreachable: serving from the last known state until it answers", "err", err)
	}
	pcancel()
	st, err := store.Open(o.dbPath)
	if err != nil {
		return nil, err
	}
	lns := inh.Listeners()
	ln, err := lns.Listen(apiKey(o.apiAddr), func() (net.Listener, error) { return api.Listen(o.apiAddr) })
	if err != nil {
		lns.CloseUnclaimed()
		st.Close()
		return nil, err
	}
	listen := func(network, addr string) (net.Listener, error) {
		return lns.Listen(handover.TCPKey(addr), func() (net.Listener, error) { return net.Listen(network, addr) })
	}
	sys, err := actors.Start(actors.Options{Load: load, Store: st, Runtime: rt, Logger: logger,
		ReconcileInterval: o.reconcile, Listen: listen, Version: Version})
	if err != nil {
		ln.Close()
		lns.CloseUnclaimed()
		st.Close()
		return nil, err
	}
	sv := &serving{log: logger, st: st, sys: sys, serveErr: make(chan error, 1), lns: lns, inh: inh, argv: o.argv, ctx: ctx}
	sv.upgrade.done = make(chan error, 1)
	sv.srv = &http.Server{Handler: api.NewServer(backend{System: sys, sv: sv}, logger), ReadHeaderTimeout: 10 * time.Second}
	go func() { sv.serveErr <- sv.srv.Serve(ln) }()
	logger.Info("bluegreen serving", "api", o.apiAddr, "apps", o.appsDir, "db", o.dbPath, "docker", rt.Endpoint(),
		"version", Version, "pid", os.Getpid(), "sockets_taken_over", inh != nil)
	return sv, nil
}

// apiKey is the key of the API's listener among the handed-over sockets.
func apiKey(addr string) string {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return handover.UnixKey(path)
	}
	return handover.TCPKey(addr)
}

// ready waits (up to readyTimeout) until every app serves what runs, closes
// the sockets handed over for apps that are gone, and says so: to systemd,
// and after an upgrade also to the old process (which then stops accepting
// and exits), with the event supervisor.upgraded.
func (sv *serving) ready(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	late := sv.sys.WaitReady(rctx)
	cancel()
	if len(late) > 0 {
		sv.log.Warn("apps not adopted within the start's bound: serving anyway", "apps", late, "bound", readyTimeout.String())
	}
	if keys := sv.lns.CloseUnclaimed(); len(keys) > 0 {
		sv.log.Info("closed the sockets handed over for apps no longer configured", "listeners", keys)
	}
	defer func() {
		sv.upgrade.mu.Lock()
		sv.upgrade.ready = true
		sv.upgrade.mu.Unlock()
	}()
	if sv.inh == nil {
		sv.notify(sdnotify.Ready)
		return
	}
	pid := os.Getpid()
	sv.notify(func() (bool, error) { return sdnotify.ReadyWithMainPID(pid) })
	sv.sys.Record(deploy.EventSupervisorUpgraded,
		fmt.Sprintf("supervisor upgraded: pid %d (%s) serves in place of pid %d (%s)", pid, Version, sv.inh.ParentPID, sv.inh.ParentVersion),
		map[string]any{"old_pid": sv.inh.ParentPID, "new_pid": pid, "old_version": sv.inh.ParentVersion, "new_version": Version})
	if err := sv.inh.Ready(); err != nil {
		sv.log.Warn("upgrade: the old process did not hear that this one is ready", "err", err)
	}
	sv.log.Info("upgraded: serving in place of the old process", "old_pid", sv.inh.ParentPID, "old_version", sv.inh.ParentVersion)
}

// run serves until ctx ends, the API stops or an upgrade handed over,
// reloading on SIGHUP and upgrading on SIGUSR2, and returns the exit status.
func (sv *serving) run(ctx context.Context, hup, usr2 <-chan os.Signal) int {
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case <-hup:
			sv.notify(sdnotify.Reloading)
			if _, err := sv.sys.Reload(ctx); err != nil { // a reload that worked is logged by the supervisor
				sv.log.Error("reload (SIGHUP)", "err", err)
			}
			sv.notify(sdnotify.Ready)
		case <-usr2:
			if _, err := sv.startUpgrade("SIGUSR2"); err != nil {
				sv.log.Warn("upgrade (SIGUSR2) refused", "err", err)
			}
		case err := <-sv.upgrade.done:
			if err == nil {
				return ExitOK // handed over: the new process serves
			}
		case err := <-sv.serveErr:
			sv.log.Error("management API stopped", "err", err)
			return ExitFailed
		}
	}
}

// notify tells systemd (Type=notify) about the state of serve; outside
// systemd it does nothing. A failure is only logged: serving goes on.
func (sv *serving) notify(state func() (bool, error)) {
	if _, err := state(); err != nil {
		sv.log.Warn("systemd notify", "err", err)
	}
}

// stop stops accepting on every socket at once and lets what is in flight
// finish: API calls for apiShutdownTimeout, each app's proxied requests up to
// its drain_timeout and WebSockets until its websocket_drain_timeout (then
// 1001). The containers keep running. After an upgrade handed over, the
// sockets live on in the new process: nothing tells systemd the service
// stops (the new process is its main one now), no unix socket file is
// removed and nothing is written to the store.
func (sv *serving) stop() {
	child := sv.upgradeWait()
	if child != nil {
		sv.log.Info("handed over: draining, then exiting", "new_pid", child.Pid)
		sv.lns.MarkHandedOver()
		sv.sys.MarkHandedOver()
	} else {
		sv.notify(sdnotify.Stopping)
		sv.log.Info("shutting down: containers keep running")
	}
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		actx, cancel := context.WithTimeout(context.Background(), apiShutdownTimeout)
		defer cancel()
		if err := sv.srv.Shutdown(actx); err != nil {
			sv.srv.Close()
		}
	}()
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := sv.sys.Stop(sctx); err != nil {
		sv.log.Error("stop", "err", err)
	}
	<-apiDone
	sv.log.Info("stopped")
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
