// Command upgradebench measures bluegreen's zero-downtime promises for
// itself (docs/upgrades.md, docs/faults.md) against the real Docker daemon, on 127.0.0.1:
//
//   - failed requests across -upgrades upgrades (SIGUSR2) under load: 8
//     keep-alive HTTP clients (half of them GET, half POST a -body of
//     2 KiB) and 2 WebSockets through one app's proxy
//     (the WebSockets of the old process get 1001 at websocket_drain_timeout
//     and are opened again);
//   - restart to first answer after kill -9 of serve, -kills times;
//   - after docker kill of the active container, -dockerkills times: the
//     detection time (container.exited after the exit as Docker recorded it)
//     and the outage window seen by a client asking every 10ms.
//
// It builds bluegreen twice (two versions) and the demo images, runs serve
// with one app, and prints the numbers.
//
//	go run ./cmd/upgradebench [-upgrades 10] [-kills 5] [-dockerkills 3] [-body 2048]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
)

func main() {
	upgrades := flag.Int("upgrades", 10, "upgrades under load")
	kills := flag.Int("kills", 5, "kill -9 and restart of serve")
	dockerKills := flag.Int("dockerkills", 3, "docker kill of the active container")
	clients := flag.Int("clients", 8, "keep-alive HTTP clients")
	sockets := flag.Int("websockets", 2, "WebSockets")
	bodySize := flag.Int("body", 2048, "bytes of each POST's body (0: GETs only)")
	flag.Parse()
	b, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "upgradebench:", err)
		os.Exit(1)
	}
	defer b.cleanup()
	for _, step := range []func() error{
		func() error { return b.upgrades(*upgrades, *clients, *sockets, *bodySize) },
		func() error { return b.kills(*kills) },
		func() error { return b.dockerKills(*dockerKills) },
	} {
		if err := step(); err != nil {
			fmt.Fprintln(os.Stderr, "upgradebench:", err)
			b.cleanup()
			os.Exit(1)
		}
	}
}

// bench is serve with one app, and its two builds.
type bench struct {
	dir, bin       string
	builds         [2]string // the two builds, versions ub-1 and ub-2
	app            string
	proxy          int
	apiAddr        string
	client         *api.Client
	log            *os.File
	mu             sync.Mutex
	cmd            *exec.Cmd
	pids           map[int]bool
	cleanupOnce    sync.Once
	websocketDrain time.Duration
}

func setup() (*bench, error) {
	// Orphaned serve processes (those an upgrade started) become ours.
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return nil, fmt.Errorf("prctl: %v", errno)
	}
	dir, err := os.MkdirTemp("", "upgradebench")
	if err != nil {
		return nil, err
	}
	b := &bench{dir: dir, bin: filepath.Join(dir, "bluegreen"), app: fmt.Sprintf("ub-%d", os.Getpid()), pids: map[int]bool{},
		websocketDrain: 2 * time.Second}
	if out, err := exec.Command("scripts/demo-images.sh").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("demo images (run from the repo root): %v\n%s", err, out)
	}
	for i := range b.builds {
		b.builds[i] = filepath.Join(dir, fmt.Sprintf("bluegreen-%d", i+1))
		out, err := exec.Command("go", "build", "-o", b.builds[i], "-ldflags",
			fmt.Sprintf("-X github.com/bluegreen/bluegreen/cli.Version=ub-%d", i+1), ".").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("build: %v\n%s", err, out)
		}
	}
	if err := b.install(b.builds[0]); err != nil {
		return nil, err
	}
	ports := freePorts(4)
	b.proxy, b.apiAddr = ports[0], fmt.Sprintf("127.0.0.1:%d", ports[3])
	b.client = api.NewClient(b.apiAddr)
	cfg := fmt.Sprintf(`name: %s
image: bluegreen-demo:v1
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, interval: 250ms, timeout: 1s, healthy_threshold: 2}
docker: {expose_port: 3000, memory_limit: 64m}
deployment: {drain_timeout: 5s, websocket_drain_timeout: %s, stop_timeout: 2s}
`, b.app, ports[0], ports[1], ports[2], b.websocketDrain)
	if err := os.MkdirAll(filepath.Join(dir, "apps.d"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "apps.d", b.app+".yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if b.log, err = os.Create(filepath.Join(dir, "serve.log")); err != nil {
		return nil, err
	}
	if _, err := b.start(); err != nil {
		return nil, err
	}
	return b, b.stable(90 * time.Second)
}

// install puts src at the serve's path as a new file.
func (b *bench) install(src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.bin+".new", data, 0o755); err != nil {
		return err
	}
	return os.Rename(b.bin+".new", b.bin)
}

func (b *bench) start() (time.Time, error) {
	cmd := exec.Command(b.bin, "serve", "--apps", filepath.Join(b.dir, "apps.d"), "--db", filepath.Join(b.dir, "bg.db"),
		"--api", b.apiAddr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = b.log, b.log
	at := time.Now()
	if err := cmd.Start(); err != nil {
		return at, err
	}
	go cmd.Wait()
	b.mu.Lock()
	b.cmd = cmd
	b.pids[cmd.Process.Pid] = true
	b.mu.Unlock()
	return at, nil
}

func (b *bench) health() (deploy.Overall, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := b.client.Overall(ctx)
	if err == nil {
		b.mu.Lock()
		b.pids[h.PID] = true
		b.mu.Unlock()
	}
	return h, err
}

func (b *bench) stable(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := b.client.App(ctx, b.app)
		cancel()
		if ct := st.Containers.Of(st.ActiveColor); err == nil && st.Status == deploy.AppStable && ct != nil && ct.Health == deploy.Healthy {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not stable within %s (serve log: %s)", b.app, timeout, b.log.Name())
}

func (b *bench) cleanup() {
	b.cleanupOnce.Do(func() {
		b.mu.Lock()
		for pid := range b.pids {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
				p.Wait()
			}
		}
		b.mu.Unlock()
		exec.Command("docker", "rm", "-f", b.app+"-blue", b.app+"-green").Run()
		os.RemoveAll(b.dir)
	})
}

// upgrades upgrades serve n times under load, alternating the two builds.
func (b *bench) upgrades(n, clients, sockets, bodySize int) error {
	if n == 0 {
		return nil
	}
	l := startLoad(b.proxy, clients, bodySize)
	var ws []*socket
	open := func() error {
		for range sockets {
			s, err := openSocket(b.proxy)
			if err != nil {
				return err
			}
			ws = append(ws, s)
		}
		return nil
	}
	if err := open(); err != nil {
		return err
	}
	time.Sleep(time.Second) // traffic before the first upgrade
	var took []float64
	for i := range n {
		ms, err := b.upgradeOnce(i)
		if err != nil {
			return err
		}
		took = append(took, ms)
		if err := open(); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	l.halt()
	going, other, otherErr := socketEnds(ws)
	fmt.Printf("%d upgrades (SIGUSR2) under %d keep-alive clients and %d WebSockets:\n", n, clients, sockets)
	fmt.Printf("  GET answered %d, failed %d; POST (%d B body) answered %d, failed %d; sent twice by Go's client %d (%.0f requests/s)\n",
		l.ok[kindGET].Load(), l.failed[kindGET].Load(), bodySize, l.ok[kindPOST].Load(), l.failed[kindPOST].Load(), l.retried.Load(), l.rate())
	for _, e := range l.errs {
		fmt.Printf("    %s\n", e)
	}
	fmt.Printf("  new process on /health after: median %.0f ms, p95 %.0f ms\n", pct(took, 50), pct(took, 95))
	fmt.Printf("  old WebSockets closed with 1001 at websocket_drain_timeout: %d, ended otherwise: %d %v\n\n", going, other, otherErr)
	return nil
}

// upgradeOnce installs the other build, sends serve SIGUSR2 and returns
// the milliseconds until /health answers from a new process; then it waits
// for the old one to drain its WebSockets and exit. i counts the upgrades
// from 0.
func (b *bench) upgradeOnce(i int) (float64, error) {
	h, err := b.health()
	if err != nil {
		return 0, err
	}
	if err := b.install(b.builds[(i+1)%2]); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := syscall.Kill(h.PID, syscall.SIGUSR2); err != nil {
		return 0, err
	}
	for {
		nh, err := b.health()
		if err == nil && nh.PID != h.PID {
			break
		}
		if time.Since(start) > 40*time.Second {
			return 0, fmt.Errorf("upgrade %d: no new process within 40s (serve log: %s)", i+1, b.log.Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := float64(time.Since(start).Milliseconds())
	// The old process drains its WebSockets, then exits; the one this bench
	// started stays as the stand-in of the serving processes, its sockets
	// closed (docs/upgrades.md, "The stand-in"), and the later ones are its
	// children, not this process's.
	b.mu.Lock()
	standIn := b.cmd.Process.Pid
	b.mu.Unlock()
	for h.PID != standIn && running(h.PID) {
		time.Sleep(20 * time.Millisecond)
	}
	return took, nil
}

// running reports whether pid runs: it exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// socketEnds counts the WebSockets that ended with 1001 (going away) and
// those that ended otherwise, with their errors; the ones still open are
// the last process's.
func socketEnds(ws []*socket) (going, other int, otherErr []string) {
	for _, s := range ws {
		select {
		case <-s.done:
			if websocket.CloseStatus(s.err) == websocket.StatusGoingAway {
				going++
			} else {
				other++
				otherErr = append(otherErr, s.err.Error())
			}
		default: // still open: the last ones
		}
	}
	return going, other, otherErr
}

// kills kills serve with SIGKILL n times and times the restart to the
// proxy's first answer.
func (b *bench) kills(n int) error {
	if n == 0 {
		return nil
	}
	var took []float64
	for i := range n {
		h, err := b.health()
		if err != nil {
			return err
		}
		p, _ := os.FindProcess(h.PID)
		p.Kill()
		p.Wait()
		started, err := b.start()
		if err != nil {
			return err
		}
		for {
			if code, err := get(fmt.Sprintf("http://127.0.0.1:%d/", b.proxy)); err == nil && code == 200 {
				took = append(took, float64(time.Since(started).Microseconds())/1000)
				break
			}
			if time.Since(started) > 10*time.Second {
				return fmt.Errorf("kill %d: no answer within 10s of the restart", i+1)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := b.stable(30 * time.Second); err != nil {
			return err
		}
	}
	fmt.Printf("kill -9 of serve, then a new serve, %d times: restart to first answer median %.0f ms, max %.0f ms\n\n",
		n, pct(took, 50), pct(took, 100))
	return nil
}

// dockerKills kills the active container n times.
func (b *bench) dockerKills(n int) error {
	if n == 0 {
		return nil
	}
	var detect, outage []float64
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := b.client.App(ctx, b.app)
		var after int64
		if evs, err := b.client.Events(ctx, b.app, 0, api.MaxLimit); err == nil && len(evs) > 0 {
			after = evs[len(evs)-1].ID
		}
		cancel()
		if err != nil {
			return err
		}
		name := b.app + "-" + string(st.ActiveColor)
		w := startWatch(b.proxy)
		if out, err := exec.Command("docker", "kill", name).CombinedOutput(); err != nil {
			return fmt.Errorf("docker kill: %v %s", err, out)
		}
		var exited deploy.Event
		for deadline := time.Now().Add(10 * time.Second); exited.ID == 0; {
			if time.Now().After(deadline) {
				return fmt.Errorf("docker kill %d: no container.exited within 10s", i+1)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			evs, _ := b.client.Events(ctx, b.app, after, api.MaxLimit)
			cancel()
			for _, e := range evs {
				if e.Type == deploy.EventContainerExited {
					exited = e
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.FinishedAt}}", name).CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker inspect: %v %s", err, out)
		}
		at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
		if err != nil {
			return err
		}
		detect = append(detect, float64(exited.At.Sub(at).Milliseconds()))
		if err := b.stable(30 * time.Second); err != nil {
			return err
		}
		outage = append(outage, float64(w.halt().Milliseconds()))
	}
	fmt.Printf("docker kill of the active container, %d times:\n", n)
	fmt.Printf("  container.exited after the exit: median %.0f ms, max %.0f ms (target < 1000)\n", pct(detect, 50), pct(detect, 100))
	fmt.Printf("  outage window (first to last failed answer, polled every 10ms): median %.0f ms, max %.0f ms (target < 3000)\n",
		pct(outage, 50), pct(outage, 100))
	return nil
}
