package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// app is one app the bench runs.
type app struct {
	name               string
	proxy, blue, green int
	restartPolicy      string
	containerNames     []string
}

// bench is one run: its apps, the supervisor process and what was measured.
type bench struct {
	c       config
	nonce   string
	dir     string
	bin     string
	db      string
	logPath string
	images  []string
	apps    []*app
	api     string // http://127.0.0.1:port
	serve   *exec.Cmd
	exited  chan struct{} // closed when serve ended
	res     results
	wsConns []net.Conn // the WebSockets measureWebSockets leaves open for measureAfterBurst
}

// setUp builds the images and the binary, writes the configs and starts
// `bluegreen serve`. A partly set up bench is returned with the error, for
// tearDown.
func setUp(ctx context.Context, c config) (*bench, error) {
	b := &bench{c: c, nonce: fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff)}
	dir, err := os.MkdirTemp("", "scalebench")
	if err != nil {
		return nil, err
	}
	b.dir = dir
	b.logf("building the binary and the test app's images (tag %s)", b.nonce)
	if err := b.build(ctx); err != nil {
		return b, err
	}
	if err := b.writeApps(); err != nil {
		return b, err
	}
	return b, b.start()
}

// build makes the bluegreen binary and two images of the test app.
func (b *bench) build(ctx context.Context) error {
	if b.c.bin != "" {
		b.bin = b.c.bin
	} else {
		b.bin = filepath.Join(b.dir, "bluegreen")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.bin, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("build bluegreen (run from the repository root): %v\n%s", err, out)
		}
	}
	ctxDir := filepath.Join(b.dir, "image")
	if err := os.Mkdir(ctxDir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(ctxDir, "testapp"), "./testdata/testapp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the test app: %v\n%s", err, out)
	}
	for _, v := range []string{"v1", "v2"} {
		tag := fmt.Sprintf("bluegreen-scalebench:%s-%s", b.nonce, v)
		df := fmt.Sprintf("FROM scratch\nCOPY testapp /testapp\nENV VERSION=%s\nEXPOSE 3000\nENTRYPOINT [\"/testapp\"]\n", v)
		if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
			return err
		}
		if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, ctxDir).CombinedOutput(); err != nil {
			return fmt.Errorf("docker build %s: %v\n%s", tag, err, out)
		}
		b.images = append(b.images, tag)
	}
	return nil
}

// writeApps writes one config per app. The second app (the one whose
// container measureLogs kills) has restart_policy no, so that its container
// stays dead.
func (b *bench) writeApps() error {
	apps := filepath.Join(b.dir, "apps.d")
	if err := os.Mkdir(apps, 0o755); err != nil {
		return err
	}
	ports, err := freePorts(3 * b.c.apps)
	if err != nil {
		return err
	}
	for i := range b.c.apps {
		a := &app{name: fmt.Sprintf("sb%s-%03d", b.nonce, i), proxy: ports[3*i], blue: ports[3*i+1], green: ports[3*i+2],
			restartPolicy: "unless-stopped"}
		memory := "32m"
		switch i {
		case 0: // the app that gets the connections and WebSockets
			memory = "512m"
		case 1:
			a.restartPolicy = "no"
		}
		a.containerNames = []string{a.name + "-blue", a.name + "-green"}
		cfg := fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, interval: %s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 3}
docker: {expose_port: 3000, memory_limit: %s, restart_policy: %s, keep_images: 0}
deployment: {drain_timeout: 5s, stop_timeout: %s, health_check_timeout: 120s, startup_timeout: %s}
`, a.name, b.images[0], a.proxy, a.blue, a.green, b.c.interval, memory, a.restartPolicy, b.c.stopTimeout, b.c.startup)
		if err := os.WriteFile(filepath.Join(apps, a.name+".yaml"), []byte(cfg), 0o644); err != nil {
			return err
		}
		b.apps = append(b.apps, a)
	}
	return nil
}

// start runs `bluegreen serve` with its log in a file.
func (b *bench) start() error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	b.api = "http://" + apiAddr
	b.db = filepath.Join(b.dir, "bluegreen.db")
	b.logPath = filepath.Join(b.dir, "serve.log")
	logf, err := os.Create(b.logPath)
	if err != nil {
		return err
	}
	args := []string{"serve", "--apps", filepath.Join(b.dir, "apps.d"), "--db", b.db, "--api", apiAddr, "--log-level", "warn"}
	if b.c.concurrency >= 0 {
		args = append(args, "--docker-concurrency", fmt.Sprint(b.c.concurrency))
	}
	b.serve = exec.Command(b.bin, args...)
	b.serve.Stdout, b.serve.Stderr = logf, logf
	b.serve.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.serve.Start(); err != nil {
		logf.Close()
		return err
	}
	logf.Close()
	b.res.started = time.Now()
	b.exited = make(chan struct{})
	go func() { b.serve.Wait(); close(b.exited) }()
	return nil
}

// tearDown stops the supervisor and removes every container and image the
// bench created, and its folder.
func (b *bench) tearDown() {
	if b.exited != nil {
		b.serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(60 * time.Second):
			b.serve.Process.Kill()
			<-b.exited
		}
	}
	var names []string
	for _, a := range b.apps {
		names = append(names, a.containerNames...)
	}
	for len(names) > 0 {
		n := min(len(names), 50)
		exec.Command("docker", append([]string{"rm", "-f"}, names[:n]...)...).Run()
		names = names[n:]
	}
	if len(b.images) > 0 {
		exec.Command("docker", append([]string{"rmi", "-f"}, b.images...)...).Run()
	}
	if b.c.keep {
		b.logf("kept %s", b.dir)
		return
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// freePorts returns n distinct free ports on 127.0.0.1, below Linux's
// ephemeral range (32768 and up by default), so that no outgoing
// connection of another program takes one between this check and serve's
// bind.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("found only %d free ports of %d in 20000-32767", len(out), n)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12768)))
		if err != nil {
			continue
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// serveLog returns the supervisor's log so far.
func (b *bench) serveLog() (string, error) {
	data, err := os.ReadFile(b.logPath)
	return string(data), err
}

// countLines counts the lines of log containing all of words.
func countLines(log string, words ...string) int {
	n := 0
	for line := range strings.SplitSeq(log, "\n") {
		ok := line != ""
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok {
			n++
		}
	}
	return n
}

// alive fails when the supervisor exited.
func (b *bench) alive() error {
	select {
	case <-b.exited:
		return errors.New("bluegreen serve exited; its log: " + b.logPath)
	default:
		return nil
	}
}
