package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bluegreen/bluegreen/actors"
	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/docker"
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
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	appsDir := fs.String("apps", DefaultAppsDir, "folder of app configs (*.yaml, *.yml)")
	dbPath := fs.String("db", DefaultDB, "SQLite database file")
	apiAddr := fs.String("api", DefaultAPI, "management API address: host:port on loopback, or unix:/path/to.sock")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	reconcile := fs.Duration("reconcile-interval", actors.DefaultReconcileInterval, "how often each app re-reads its containers from Docker")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bluegreen serve [--apps DIR] [--db FILE] [--api ADDR] [--log-format text|json] [--log-level L]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve takes no arguments, got %q\n", fs.Args())
		fs.Usage()
		return 2
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	slog.SetDefault(logger) // hollywood logs through the default logger

	load := func() ([]*config.App, error) { return config.LoadDir(*appsDir) }
	if _, err := load(); err != nil {
		fmt.Fprintf(stderr, "bluegreen: the app configs in %s are invalid, nothing started:\n%v\n", *appsDir, err)
		return 1
	}

	rt, err := docker.New()
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen: docker client: %v\n", err)
		return 1
	}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	if err := rt.Ping(pctx); err != nil {
		logger.Warn("docker unreachable: serving from the last known state until it answers", "err", err)
	}
	pcancel()

	st, err := store.Open(*dbPath)
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen: %v\n", err)
		return 1
	}
	defer st.Close()

	ln, err := api.Listen(*apiAddr)
	if err != nil {
		fmt.Fprintf(stderr, "bluegreen: %v\n", err)
		return 1
	}

	sys, err := actors.Start(actors.Options{
		Load:              load,
		Store:             st,
		Runtime:           rt,
		Logger:            logger,
		ReconcileInterval: *reconcile,
	})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "bluegreen: %v\n", err)
		return 1
	}

	srv := &http.Server{Handler: api.NewServer(sys, logger), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("bluegreen serving", "api", *apiAddr, "apps", *appsDir, "db", *dbPath, "docker", rt.Endpoint())

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if _, err := sys.Reload(ctx); err != nil { // a reload that worked is logged by the supervisor
				logger.Error("reload (SIGHUP)", "err", err)
			}
		case err := <-serveErr:
			logger.Error("management API stopped", "err", err)
			code = 1
			break loop
		}
	}
	logger.Info("shutting down: containers keep running")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := sys.Stop(sctx); err != nil {
		logger.Error("stop", "err", err)
	}
	return code
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
