package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
	"github.com/bluegreen/bluegreen/docker"
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

// shutdownTimeout bounds a graceful stop of the API and the actors.
const shutdownTimeout = 15 * time.Second

// runServe runs the supervisor until ctx ends (SIGINT/SIGTERM). SIGHUP reloads the configs.
func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) int {
	logger, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	slog.SetDefault(logger) // hollywood logs through the default logger

	sv, err := startServing(ctx, o, logger)
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen: %v\n", err)
		return ExitFailed
	}
	defer sv.st.Close()
	// SIGHUP is caught before systemd hears READY: a reload sent right
	// after it must not end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sv.notify(sdnotify.Ready)
	code := sv.run(ctx, hup)
	sv.notify(sdnotify.Stopping)
	sv.stop()
	return code
}

// serveOptions are the flags of serve.
type serveOptions struct {
	appsDir, dbPath, apiAddr string
	logFormat, logLevel      string
	reconcile                time.Duration
}

// newServeCmd is `bluegreen serve` with its flags.
func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--apps DIR] [--db FILE] [--api ADDR] [--log-format text|json] [--log-level L]",
		Short: "run the supervisor: deployments, proxies and the management API",
		Long: `bluegreen serve runs the supervisor until SIGINT or SIGTERM (the containers keep running).
SIGHUP re-reads the app configs. DOCKER_HOST picks the Docker daemon.`,
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

// serving is a running `bluegreen serve`: the store, the supervisor and the
// management API's HTTP server.
type serving struct {
	log      *slog.Logger
	st       *store.Store
	sys      *actors.System
	srv      *http.Server
	serveErr chan error
}

// startServing checks the configs, then opens the store and the API
// listener and starts the supervisor and the API. Invalid configs start nothing.
func startServing(ctx context.Context, o serveOptions, logger *slog.Logger) (*serving, error) {
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
	ln, err := api.Listen(o.apiAddr)
	if err != nil {
		st.Close()
		return nil, err
	}
	sys, err := actors.Start(actors.Options{Load: load, Store: st, Runtime: rt, Logger: logger, ReconcileInterval: o.reconcile})
	if err != nil {
		ln.Close()
		st.Close()
		return nil, err
	}
	sv := &serving{log: logger, st: st, sys: sys, serveErr: make(chan error, 1),
		srv: &http.Server{Handler: api.NewServer(sys, logger), ReadHeaderTimeout: 10 * time.Second}}
	go func() { sv.serveErr <- sv.srv.Serve(ln) }()
	logger.Info("bluegreen serving", "api", o.apiAddr, "apps", o.appsDir, "db", o.dbPath, "docker", rt.Endpoint())
	return sv, nil
}

// run serves until ctx ends or the API stops, reloading on SIGHUP, and
// returns the exit status.
func (sv *serving) run(ctx context.Context, hup <-chan os.Signal) int {
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

// stop ends the API and the supervisor; the containers keep running.
func (sv *serving) stop() {
	sv.log.Info("shutting down: containers keep running")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = sv.srv.Shutdown(sctx)
	if err := sv.sys.Stop(sctx); err != nil {
		sv.log.Error("stop", "err", err)
	}
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
