// Command testapp is the small static HTTP app that bluegreen's tests deploy
// in containers. Its behaviour is steered by the environment:
//
//	PORT           port to listen on (default 3000)
//	VERSION        version reported by GET / and X-App-Version (default "dev")
//	HEALTH_MODE    ok (default) | fail (GET /health answers 500) |
//	               hang (GET /health never answers) |
//	               crash (print "crashing as asked" to stderr and exit 1 at start)
//	CRASH_AFTER    a Go duration: exit 1 after it
//	STARTUP_DELAY  a Go duration: sleep before listening
//	FAIL_RATE      a percent 0-100 (default 0): GET / answers 500 for that
//	               share of requests, spread evenly, while /health passes
//
// Routes are documented on newApp.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// shutdownGrace bounds how long in-flight requests may finish after SIGTERM.
const shutdownGrace = 30 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func run() error {
	// As PID 1 in a container the process gets no default signal handling,
	// so SIGTERM must be handled here for `docker stop` to be quick; first
	// thing, so an early stop is still a clean exit.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	logger := log.New(os.Stdout, "", log.LstdFlags|log.Lmicroseconds)
	port := envOr("PORT", "3000")
	version := envOr("VERSION", "dev")
	mode := envOr("HEALTH_MODE", healthOK)

	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "crashing as asked")
		os.Exit(1)
	}
	if !validMode(mode) {
		return fmt.Errorf("HEALTH_MODE %q: use ok, fail, hang or crash", mode)
	}
	crashAfter, startupDelay, failRate, err := faults()
	if err != nil {
		return err
	}

	logger.Printf("testapp %s starting (port=%s health=%s startup_delay=%s crash_after=%s fail_rate=%d%%)",
		version, port, mode, startupDelay, crashAfter, failRate)
	if crashAfter > 0 {
		time.AfterFunc(crashAfter, func() {
			fmt.Fprintf(os.Stderr, "crashing as asked after %s\n", crashAfter)
			os.Exit(1)
		})
	}

	if startupDelay > 0 {
		select {
		case <-time.After(startupDelay):
		case <-ctx.Done():
			return nil
		}
	}

	a := newApp(version, mode, logger)
	a.failRate = failRate
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("testapp %s listening on %s", version, ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Printf("testapp %s shutting down", version)
	a.close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// faults reads the misbehaviours asked for: CRASH_AFTER, STARTUP_DELAY
// and FAIL_RATE.
func faults() (crashAfter, startupDelay time.Duration, failRate uint64, err error) {
	if crashAfter, err = envDuration("CRASH_AFTER"); err != nil {
		return
	}
	if startupDelay, err = envDuration("STARTUP_DELAY"); err != nil {
		return
	}
	failRate, err = envPercent("FAIL_RATE")
	return
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envDuration(key string) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration (use e.g. 2s)", key, v)
	}
	return d, nil
}

// envPercent reads a whole percent, 0-100; 0 when unset.
func envPercent(key string) (uint64, error) {
	v := os.Getenv(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > 100 {
		return 0, fmt.Errorf("%s %q is not a percent (use 0-100, e.g. 30)", key, v)
	}
	return n, nil
}
