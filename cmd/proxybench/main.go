// Command proxybench measures the bluegreen proxy side by side with nginx
// and HAProxy (when installed) on 127.0.0.1: requests/s and p50/p99 latency
// at 1 and at 50 keep-alive connections (with wrk), the proxy's CPU time and
// context switches per request (from /proc), and WebSocket echo round trips.
// Targets run as separate processes; rounds interleave them so that drift of
// the machine hits all alike; the table shows medians over rounds.
//
//	go run ./cmd/proxybench [-d 5s] [-rounds 3] [-gomaxprocs 1] [-baseline path]
//
// With -baseline, a proxybench binary built from another checkout (say,
// main before a change) runs its bluegreen proxy as the target "baseline",
// interleaved with this one, so that both see the same machine load.
//
// With -accesslog (the default), bluegreen also runs as "bluegreen-log",
// writing an access log record per request to a file through
// internal/logsink as serve does, and nginx as "nginx-log" with its
// access_log to a file; their CPU per request against the targets without
// a log is the log's cost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/bluegreen/bluegreen/internal/logsink"
	"github.com/bluegreen/bluegreen/proxy"
	"github.com/coder/websocket"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "backend":
			serveBackend(os.Args[2])
			return
		case "bluegreen":
			serveBluegreen(os.Args[2], os.Args[3], os.Args[4:]...)
			return
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

type config struct {
	duration   time.Duration
	rounds     int
	gomaxprocs string
	threads    int
	wsTrips    int
	only       string
	baseline   string
	accessLog  bool
	logWrite   int
}

func run() error {
	c := parseFlags()
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	targets, stopTargets, err := startTargets(ctx, c, dir)
	defer stopTargets()
	if err != nil {
		return err
	}
	if c.only != "" {
		keep := strings.Split(c.only, ",")
		targets = slices.DeleteFunc(targets, func(t *target) bool { return !slices.Contains(keep, t.name) })
	}
	for _, t := range targets {
		if err := waitHTTP(ctx, t.addr); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if err := measureRounds(ctx, c, targets); err != nil {
		return err
	}
	printTable(os.Stdout, targets)
	return nil
}

// parseFlags reads the command's flags.
func parseFlags() config {
	var c config
	flag.DurationVar(&c.duration, "d", 5*time.Second, "duration of one wrk run")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds")
	flag.StringVar(&c.gomaxprocs, "gomaxprocs", "", "GOMAXPROCS of the bluegreen proxy process (empty: Go's default)")
	flag.IntVar(&c.threads, "t", 1, "wrk threads")
	flag.IntVar(&c.wsTrips, "ws", 2000, "WebSocket echo round trips per target and round")
	flag.StringVar(&c.only, "only", "", "comma-separated targets to run (direct,bluegreen,bluegreen-log,baseline,nginx,nginx-log,haproxy)")
	flag.StringVar(&c.baseline, "baseline", "", "a proxybench binary of another checkout whose proxy runs as the target \"baseline\"")
	flag.BoolVar(&c.accessLog, "accesslog", true, "also run bluegreen and nginx with an access log to a file (bluegreen-log, nginx-log)")
	flag.IntVar(&c.logWrite, "logwrite", 0, "bytes per write of bluegreen-log's log output at most (0: internal/logsink's default, as serve's)")
	flag.Parse()
	return c
}

// startTargets starts the backend and every proxy in front of it: this
// bluegreen proxy, the baseline's with -baseline, nginx and HAProxy when
// installed. stop ends every process started, also when err is not nil.
func startTargets(ctx context.Context, c config, dir string) (targets []*target, stop func(), err error) {
	var procs []*proc
	stop = func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, stop, err
	}
	add := func(t *target, err error) error {
		if err == nil {
			procs = append(procs, t.proc)
			targets = append(targets, t)
		}
		return err
	}
	backendAddr := freeAddr()
	if err := add(startTarget(ctx, dir, "backend", nil, self, "backend", backendAddr)); err != nil {
		return nil, stop, err
	}
	targets[0].name, targets[0].direct = "direct", true // the backend without a proxy in front
	env := []string{}
	if c.gomaxprocs != "" {
		env = append(env, "GOMAXPROCS="+c.gomaxprocs)
	}
	if err := add(startTarget(ctx, dir, "bluegreen", env, self, "bluegreen", freeAddr(), backendAddr)); err != nil {
		return nil, stop, err
	}
	if c.accessLog {
		logFile := filepath.Join(dir, "bluegreen-access.log")
		if err := add(startTarget(ctx, dir, "bluegreen-log", env, self, "bluegreen", freeAddr(), backendAddr, logFile, strconv.Itoa(c.logWrite))); err != nil {
			return nil, stop, err
		}
	}
	if c.baseline != "" {
		if err := add(startTarget(ctx, dir, "baseline", env, c.baseline, "bluegreen", freeAddr(), backendAddr)); err != nil {
			return nil, stop, err
		}
	}
	others := []struct {
		name, bin string
		start     func(ctx context.Context, dir, path, backend string) (*target, error)
	}{{"nginx", "nginx", startNginx}, {"nginx-log", "nginx", startNginxLog}, {"haproxy", "haproxy", startHAProxy}}
	for _, other := range others {
		if other.name == "nginx-log" && !c.accessLog {
			continue
		}
		path, err := exec.LookPath(other.bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, other.bin+" not installed: "+other.name+" skipped")
			continue
		}
		if err := add(other.start(ctx, dir, path, backendAddr)); err != nil {
			return nil, stop, err
		}
	}
	return targets, stop, nil
}

// startTarget starts a process of this binary (or another's) in the role
// args[0] that listens on args[1], and returns it as the target name.
func startTarget(ctx context.Context, dir, name string, env []string, path string, args ...string) (*target, error) {
	p, err := startProc(ctx, dir, name, env, path, args...)
	if err != nil {
		return nil, err
	}
	return &target{name: name, addr: args[1], proc: p}, nil
}

// measureRounds runs wrk at 1 and 50 connections and the WebSocket round
// trips against every target, c.rounds times, and keeps the results in
// each target.
func measureRounds(ctx context.Context, c config, targets []*target) error {
	fmt.Fprintf(os.Stderr, "%d rounds of %s per load, targets %d, gomaxprocs %q\n", c.rounds, c.duration, len(targets), c.gomaxprocs)
	for round := range c.rounds {
		// Rotate the order each round so no target always runs first.
		order := slices.Clone(targets)
		for range round % len(order) {
			order = append(order[1:], order[0])
		}
		for _, t := range order {
			for _, conns := range []int{1, 50} {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r, err := measure(ctx, c, t, conns)
				if err != nil {
					return fmt.Errorf("%s c%d: %w", t.name, conns, err)
				}
				t.add(conns, r)
				fmt.Fprintf(os.Stderr, "round %d %-9s c%-2d %8.0f req/s p50 %6.0fµs p99 %6.0fµs cpu %5.1fµs/req cs %.2f/req\n",
					round+1, t.name, conns, r.rps, r.p50, r.p99, r.cpuPerReq, r.csPerReq)
			}
			ws, err := wsRoundTrips(ctx, t.addr, c.wsTrips)
			if err != nil {
				return fmt.Errorf("%s websocket: %w", t.name, err)
			}
			t.ws = append(t.ws, ws)
		}
	}
	return nil
}

// printTable prints medians over rounds, with ratios against nginx.
func printTable(w io.Writer, targets []*target) {
	var ref *target
	for _, t := range targets {
		if t.name == "nginx" {
			ref = t
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tconns\treq/s\t× direct\t× nginx\tp50 µs\tp99 µs\tCPU µs/req\tctx sw/req\tws p50 µs\tws p99 µs\t")
	direct := targets[0]
	for _, t := range targets {
		for _, conns := range []int{1, 50} {
			m := t.median(conns)
			xd := m.rps / direct.median(conns).rps
			xn := "-"
			if ref != nil {
				xn = fmt.Sprintf("%.2f", m.rps/ref.median(conns).rps)
			}
			cpu, cs := fmt.Sprintf("%.1f", m.cpuPerReq), fmt.Sprintf("%.2f", m.csPerReq)
			if t.direct {
				cpu, cs = "-", "-"
			}
			wsp50, wsp99 := "", ""
			if conns == 1 {
				ws := medianWS(t.ws)
				wsp50, wsp99 = fmt.Sprintf("%.0f", ws.p50), fmt.Sprintf("%.0f", ws.p99)
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t\n",
				t.name, conns, m.rps, xd, xn, m.p50, m.p99, cpu, cs, wsp50, wsp99)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "CPU and context switches are the proxy process tree's (all threads and worker processes) during the wrk run, per request served.")
}

// serveBackend is the benchmark's upstream: 13 bytes per request, and a
// WebSocket echo at /ws.
func serveBackend(addr string) {
	body := []byte("Hello, World!")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	srv := &http.Server{Addr: addr, Handler: mux}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// serveBluegreen runs the bluegreen proxy on addr routed to target; with
// an access log file, it writes a record per request there (text, through
// a logsink, as serve --access-log does), in writes of at most the given
// bytes (0: the logsink's default).
func serveBluegreen(addr, target string, accessLog ...string) {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	o := proxy.Options{App: "bench", ListenAddress: host, Port: p,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// serve's defaults (docs/traffic.md): an access log off unless asked.
		Settings: proxy.Settings{OutageHold: proxy.DefaultOutageHold, ResponseTimeout: proxy.DefaultResponseTimeout}}
	if len(accessLog) > 0 {
		var maxWrite int
		if len(accessLog) > 1 {
			maxWrite, _ = strconv.Atoi(accessLog[1])
		}
		sink, err := logsink.OpenFile(accessLog[0], logsink.Options{MaxWrite: maxWrite})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bluegreen:", err)
			os.Exit(1)
		}
		defer sink.Close()
		o.AccessLogSink, o.AccessLog = sink, true
	}
	px := proxy.New(o)
	if err := px.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bluegreen:", err)
		os.Exit(1)
	}
	px.SetTarget("blue", target)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	px.Stop(sctx)
}

// freeAddr returns a free 127.0.0.1 port (closed again for the child to bind).
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHTTP waits until addr answers an HTTP request.
func waitHTTP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not answering on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proc is a child process of the bench.
type proc struct {
	cmd *exec.Cmd
}

func startProc(ctx context.Context, dir, name string, env []string, path string, args ...string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &proc{cmd: cmd}, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
