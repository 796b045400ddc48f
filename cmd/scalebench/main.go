// Command scalebench measures bluegreen with many apps on one machine, with
// real containers of the test app (testdata/testapp) on 127.0.0.1: the time
// until all are stable, the supervisor's resident memory and CPU with no
// traffic, GET /api/apps latency, the SQLite WAL's size over time (with the
// API read meanwhile, as the dashboard does), the memory an idle keep-alive
// client connection and an open WebSocket cost, the memory after such a
// burst, the log lines of a dead container under traffic, and a batch of
// concurrent deployments while the other apps are probed. It prints a table.
//
//	go run ./cmd/scalebench [-apps 100] [-interval 500ms] [-wal 5m] [-conns 2000] [-ws 2000] [-deploys 20] [-bin path]
//	go run ./cmd/scalebench -stable-only [-startup-timeout 60s] [-docker-concurrency N] [-bin path]
//
// Run it from the repository root with Docker running. It builds the
// bluegreen binary from the working tree and two images of the test app
// with a tag of its own, and removes every container and image it created
// when it ends (also on Ctrl-C).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type config struct {
	apps        int
	interval    time.Duration
	idle        time.Duration
	apiRequests int
	wal         time.Duration
	conns       int
	ws          int
	deploys     int
	stopTimeout time.Duration
	logWindow   time.Duration
	keep        bool
	bin         string
	idleOnly    bool
	stableOnly  bool
	startup     time.Duration
	concurrency int
}

func main() {
	var c config
	flag.IntVar(&c.apps, "apps", 100, "apps to run, each with its own container")
	flag.DurationVar(&c.interval, "interval", 500*time.Millisecond, "health_check.interval of every app")
	flag.DurationVar(&c.idle, "idle", 30*time.Second, "how long the idle CPU is measured")
	flag.IntVar(&c.apiRequests, "api", 200, "GET /api/apps requests timed")
	flag.DurationVar(&c.wal, "wal", 5*time.Minute, "how long the WAL's size is followed")
	flag.IntVar(&c.conns, "conns", 2000, "idle keep-alive client connections opened on one app")
	flag.IntVar(&c.ws, "ws", 2000, "WebSockets opened on one app")
	flag.IntVar(&c.deploys, "deploys", 20, "apps deployed at the same time")
	flag.DurationVar(&c.stopTimeout, "stop-timeout", 5*time.Second, "deployment.stop_timeout of every app")
	flag.DurationVar(&c.logWindow, "log-window", 20*time.Second, "how long a dead container's app gets traffic")
	flag.StringVar(&c.bin, "bin", "", "bluegreen binary to measure (default: built from the working tree)")
	flag.BoolVar(&c.idleOnly, "idle-only", false, "measure only the time to stable and the idle CPU and memory, then stop")
	flag.BoolVar(&c.stableOnly, "stable-only", false, "measure only the time until all apps are stable (the cold start), then stop")
	flag.DurationVar(&c.startup, "startup-timeout", 60*time.Second, "deployment.startup_timeout of every app (the config's default)")
	flag.IntVar(&c.concurrency, "docker-concurrency", -1, "serve's --docker-concurrency (0: no bound); -1: serve's default (a binary without the flag too)")
	flag.BoolVar(&c.keep, "keep", false, "leave the temporary folder (configs, database, log) in place")
	flag.Parse()
	if c.apps < c.deploys+3 {
		fmt.Fprintf(os.Stderr, "scalebench: -apps %d is too few for -deploys %d (need deploys+3)\n", c.apps, c.deploys)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := setUp(ctx, c)
	if err == nil {
		err = b.run(ctx)
	}
	if b != nil {
		b.tearDown()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

// run measures, in an order where each step disturbs the next one least:
// nothing before the idle CPU, deployments last.
func (b *bench) run(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"all apps stable", b.waitAllStable},
		{"idle CPU and memory", b.measureIdle},
		{"GET /api/apps", b.measureAPI},
		{"WAL", b.measureWAL},
		{"idle connections", b.measureIdleConns},
		{"WebSockets", b.measureWebSockets},
		{"memory after the burst", b.measureAfterBurst},
		{"dead container's logs", b.measureLogs},
		{"concurrent deployments", b.measureDeploys},
	}
	switch {
	case b.c.stableOnly:
		steps = steps[:1]
	case b.c.idleOnly:
		steps = steps[:2]
	}
	for _, s := range steps {
		b.logf("%s ...", s.name)
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			b.print()
			return fmt.Errorf("%s: %w", s.name, err)
		}
		b.logf("%s: done in %s", s.name, time.Since(start).Round(100*time.Millisecond))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.print()
	return nil
}

// logf reports progress on stderr.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s scalebench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
