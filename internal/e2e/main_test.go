package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// Versions the two builds of the binary report (GET /health): an upgrade
// goes from the first to the second.
const (
	version1 = "e2e-1"
	version2 = "e2e-2"
)

var (
	binDir string // the two builds, made once by TestMain
	bin1   string
	bin2   string
)

func TestMain(m *testing.M) {
	// Orphans of the serve processes (the process an upgrade starts, once the
	// old one exited) become this process's children, so the tests can wait
	// for them and kill them at the end.
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "e2e: prctl(PR_SET_CHILD_SUBREAPER):", errno)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "bluegreen-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// binaries builds bluegreen twice (versions 1 and 2) from this module,
// once per test process.
func binaries(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		for _, b := range []struct{ path, version string }{{filepath.Join(binDir, "bluegreen-1"), version1}, {filepath.Join(binDir, "bluegreen-2"), version2}} {
			cmd := exec.Command("go", "build", "-o", b.path, "-ldflags", "-X github.com/bluegreen/bluegreen/cli.Version="+b.version, ".")
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
				return
			}
		}
		bin1, bin2 = filepath.Join(binDir, "bluegreen-1"), filepath.Join(binDir, "bluegreen-2")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// Images every test shares, built once per process from the test app.
var (
	imagesOnce sync.Once
	imgV1      = "bluegreen-test-e2e:v1"
	imgV2      = "bluegreen-test-e2e:v2"
	imgSick    = "bluegreen-test-e2e:sick"
	imgCrashes = "bluegreen-test-e2e:crashes"
)

func images(t *testing.T) {
	t.Helper()
	testimage.RequireDocker(t)
	imagesOnce.Do(func() {
		testimage.Build(t, imgV1, map[string]string{"VERSION": "v1"})
		testimage.Build(t, imgV2, map[string]string{"VERSION": "v2"})
		testimage.Build(t, imgSick, map[string]string{"VERSION": "sick", "HEALTH_MODE": "fail"})
		testimage.Build(t, imgCrashes, map[string]string{"VERSION": "crashes", "CRASH_AFTER": "4s"})
	})
}

// app is one app config of a test.
type app struct {
	name                    string
	image                   string
	proxy, blue, green      int
	pullPolicy              string
	restartPolicy           string
	drain, websocketDrain   string
	healthTimeout, stopWait string
	proxyExtra              string // more keys of its proxy section, e.g. "outage_hold: 0s, response_timeout: 2s"
	verify                  string // more keys of the deployment section, e.g. "verify: {window: 30s}"
}

var appSeq atomic.Int64

func newApp(t *testing.T, image string) *app {
	t.Helper()
	name := fmt.Sprintf("bge2e-%d-%d", os.Getpid()%100000, appSeq.Add(1))
	testimage.Cleanup(t, name)
	ports := distinctPorts(t, 3)
	return &app{name: name, image: image, proxy: ports[0], blue: ports[1], green: ports[2],
		pullPolicy: "if-not-present", restartPolicy: "unless-stopped", drain: "5s", websocketDrain: "2s",
		healthTimeout: "30s", stopWait: "2s"}
}

// distinctPorts returns n free ports, all different (the kernel may hand
// the same free port out twice in a row).
func distinctPorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		if p := testimage.FreePort(t); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

func (a *app) yaml() string {
	proxy := "listen_address: 127.0.0.1"
	if a.proxyExtra != "" {
		proxy += ", " + a.proxyExtra
	}
	return fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
proxy: {%s}
health_check: {path: /health, timeout: 1s, interval: 200ms, healthy_threshold: 2, unhealthy_threshold: 2}
docker: {expose_port: 3000, pull_policy: %s, restart_policy: %s, memory_limit: 64m}
deployment: {drain_timeout: %s, websocket_drain_timeout: %s, startup_timeout: 20s, health_check_timeout: %s, stop_timeout: %s%s}
`, a.name, a.image, a.proxy, a.blue, a.green, proxy, a.pullPolicy, a.restartPolicy, a.drain, a.websocketDrain, a.healthTimeout, a.stopWait, a.more())
}

// more is what the deployment section's flow mapping holds after its
// timeouts.
func (a *app) more() string {
	if a.verify == "" {
		return ""
	}
	return ", " + a.verify
}

func (a *app) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", a.proxy, path) }

// serve is a `bluegreen serve` process, and the ones an upgrade starts.
type serve struct {
	t       *testing.T
	dir     string // the test's folder: the binary, apps.d, the database, the log
	bin     string // the executable at dir/bluegreen, which an upgrade runs
	apiAddr string
	client  *api.Client
	log     *os.File // serve's stdout and stderr; upgraded processes inherit it

	env  []string // added to serve's environment (e.g. DOCKER_HOST)
	args []string // added to serve's flags (e.g. --log-format json)

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}       // closed when cmd exited
	procs map[int]*os.Process // every serve process seen, to kill at the end
	apps  []string
}

// newServe prepares a serve of apps with the first build at dir/bluegreen;
// apiAddr "" is a free loopback port, "unix" a socket in dir.
func newServe(t *testing.T, apiAddr string, apps ...*app) *serve {
	t.Helper()
	binaries(t)
	dir := t.TempDir()
	s := &serve{t: t, dir: dir, bin: filepath.Join(dir, "bluegreen"), procs: map[int]*os.Process{}}
	switch apiAddr {
	case "":
		s.apiAddr = fmt.Sprintf("127.0.0.1:%d", testimage.FreePort(t))
	case "unix":
		s.apiAddr = "unix:" + filepath.Join(dir, "api.sock")
	default:
		s.apiAddr = apiAddr
	}
	s.client = api.NewClient(s.apiAddr)
	s.install(bin1)
	if err := os.MkdirAll(filepath.Join(dir, "apps.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		s.writeApp(a)
	}
	f, err := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s.log = f
	t.Cleanup(s.cleanup)
	return s
}

func (s *serve) writeApp(a *app) {
	s.t.Helper()
	s.apps = append(s.apps, a.name)
	if err := os.WriteFile(filepath.Join(s.dir, "apps.d", a.name+".yaml"), []byte(a.yaml()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// install puts the executable src at the serve's path, replacing the file
// (as `install` or a package manager does: a new inode).
func (s *serve) install(src string) {
	s.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		s.t.Fatal(err)
	}
	s.installBytes(b)
}

func (s *serve) installBytes(b []byte) {
	s.t.Helper()
	tmp := s.bin + ".new"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.bin); err != nil {
		s.t.Fatal(err)
	}
}

// start starts serve and returns when it was started (not when it serves).
// Its access log goes to its own file (accessLog), so that serve.log, which
// a failed test prints, holds serve's own lines.
func (s *serve) start() time.Time {
	s.t.Helper()
	args := []string{"serve", "--apps", filepath.Join(s.dir, "apps.d"), "--db", filepath.Join(s.dir, "bluegreen.db"),
		"--api", s.apiAddr, "--reconcile-interval", "1s", "--access-log", s.accessLog()}
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.procs[cmd.Process.Pid] = cmd.Process
	s.mu.Unlock()
	return started
}

// accessLog is the file serve writes its access log to (docs/traffic.md,
// "Access log").
func (s *serve) accessLog() string { return filepath.Join(s.dir, "access.log") }

// pid is the process that answers GET /health now (0: none).
func (s *serve) pid() int {
	h, err := s.health()
	if err != nil {
		return 0
	}
	return h.PID
}

func (s *serve) health() (deploy.Overall, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := s.client.Overall(ctx)
	if err == nil && h.PID != 0 {
		s.process(h.PID)
	}
	return h, err
}

// process returns the serve process pid, which answered a moment ago. Its
// handle is taken once, while it runs (a pidfd on Linux), so that a signal
// sent through it never reaches another process that reuses the pid.
func (s *serve) process(pid int) *os.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[pid]; ok {
		return p
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	s.procs[pid] = p
	return p
}

// kill9 kills the serve process started last and waits for it.
func (s *serve) kill9() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	cmd.Process.Kill()
	<-done
}

// signal sends sig to the serve process started last.
func (s *serve) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// exited waits for the serve process started last to exit and returns its status.
func (s *serve) exited(timeout time.Duration) (int, bool) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

func (s *serve) cleanup() {
	s.health() // the process serving now, if one is not known yet
	s.mu.Lock()
	procs := slices.Collect(maps.Values(s.procs))
	s.mu.Unlock()
	for _, p := range procs {
		if p != nil {
			p.Kill()
			p.Wait() // reaps it: a child, or an orphan this process adopted (subreaper)
		}
	}
	s.removeContainers()
	s.log.Close()
	if s.t.Failed() {
		b, _ := os.ReadFile(filepath.Join(s.dir, "serve.log"))
		if len(b) > 64<<10 {
			b = b[len(b)-64<<10:]
		}
		s.t.Logf("serve logs (end):\n%s", b)
	}
}

// removeContainers removes the containers of the serve's apps until Docker
// shows none twice in a row: a create that a killed serve had asked for may
// finish in Docker after its death.
func (s *serve) removeContainers() {
	quiet := 0
	for deadline := time.Now().Add(10 * time.Second); quiet < 2 && time.Now().Before(deadline); {
		found := false
		for _, name := range s.apps {
			out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bluegreen.app="+name).Output()
			for _, id := range strings.Fields(string(out)) {
				found = true
				exec.Command("docker", "rm", "-f", "-v", id).Run()
			}
		}
		if found {
			quiet = 0
		} else {
			quiet++
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitFor calls cond until it is true or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, timeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// status reads an app's status.
func (s *serve) status(name string) (deploy.AppStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.client.App(ctx, name)
}

// stable waits until the app serves image, stable and healthy.
func (s *serve) stable(a *app, image string, timeout time.Duration) deploy.AppStatus {
	s.t.Helper()
	var st deploy.AppStatus
	waitFor(s.t, timeout, a.name+" stable on "+image, func() (bool, string) {
		var err error
		st, err = s.status(a.name)
		active := st.Containers.Of(st.ActiveColor)
		return err == nil && st.Status == deploy.AppStable && st.CurrentImage == image && active != nil && active.Health == deploy.Healthy,
			fmt.Sprintf("%s %s %v", st.Status, st.Error, err)
	})
	return st
}

// deploy starts a deployment of image.
func (s *serve) deploy(a *app, image string) int64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.client.Deploy(ctx, a.name, deploy.Request{DesiredImage: image})
	if err != nil {
		s.t.Fatalf("deploy %s: %v", image, err)
	}
	return r.DeploymentID
}

// deployment reads a deployment.
func (s *serve) deployment(id int64) (deploy.Deployment, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.client.Deployment(ctx, id)
}

// ended waits until deployment id ended and returns it.
func (s *serve) ended(id int64, timeout time.Duration) deploy.Deployment {
	s.t.Helper()
	var d deploy.Deployment
	waitFor(s.t, timeout, fmt.Sprintf("deployment %d ended", id), func() (bool, string) {
		var err error
		d, err = s.deployment(id)
		return err == nil && d.Status.Final(), fmt.Sprintf("%s %v", d.Status, err)
	})
	return d
}

// events reads the audit trail after afterID.
func (s *serve) events(app string, afterID int64) []deploy.Event {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := s.client.Events(ctx, app, afterID, api.MaxLimit)
	if err != nil {
		s.t.Fatalf("events: %v", err)
	}
	return evs
}

// event waits for the first event of type typ (of app, "" any) after afterID.
func (s *serve) event(app string, typ deploy.EventType, afterID int64, timeout time.Duration) deploy.Event {
	s.t.Helper()
	var found deploy.Event
	waitFor(s.t, timeout, "event "+string(typ), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs, err := s.client.Events(ctx, app, afterID, api.MaxLimit)
		for _, e := range evs {
			if e.Type == typ {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprint(err)
	})
	return found
}

// ctl runs `bluegreen ctl` of the first build (the serve's path may hold
// something else) against the serve.
func (s *serve) ctl(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin1, append([]string{"ctl", "--api", s.apiAddr}, args...)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return 0, o.String(), e.String()
}

// containers lists the app's containers as Docker has them: name → ID and state.
func containers(t *testing.T, name string) map[string][2]string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--no-trunc", "--filter", "label=bluegreen.app="+name,
		"--format", "{{.Names}} {{.ID}} {{.State}}").CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	m := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			m[f[0]] = [2]string{f[1], f[2]}
		}
	}
	return m
}

// get GETs url on a new connection and returns the status and trimmed body.
func get(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// load is the traffic of a test: keep-alive HTTP clients asking GET / in a
// loop, and WebSockets echoing a message every few milliseconds.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	bodies     map[string]int64
	stop       chan struct{}
	wg         sync.WaitGroup
	sockets    []*socket
}

// socket is one WebSocket of a load.
type socket struct {
	echoes   atomic.Int64 // messages echoed
	closedAt time.Time    // when it ended
	err      error        // how it ended
	done     chan struct{}
}

func startLoad(t *testing.T, a *app, clients, sockets int) *load {
	t.Helper()
	l := &load{stop: make(chan struct{}), bodies: map[string]int64{}}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.record(c.Get(a.url("/")))
			}
		}()
	}
	for range sockets {
		l.sockets = append(l.sockets, openSocket(t, a))
	}
	return l
}

func (l *load) record(resp *http.Response, err error) {
	body := ""
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		body, err = strings.TrimSpace(string(b)), rerr
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed.Add(1)
		if len(l.errs) < 10 {
			l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
		return
	}
	l.ok.Add(1)
	l.bodies[body]++
}

// halt stops the HTTP clients (the sockets run until they end).
func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d requests answered (%v), %d failed %q", l.ok.Load(), l.bodies, l.failed.Load(), l.errs)
}

// openSocket opens a WebSocket to the app's echo and keeps echoing until it ends.
func openSocket(t *testing.T, a *app) *socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", a.proxy), nil)
	if err != nil {
		t.Fatalf("open a WebSocket: %v", err)
	}
	s := &socket{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer ws.CloseNow()
		for i := 0; ; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			msg := fmt.Sprintf("echo %d", i)
			err := ws.Write(ctx, websocket.MessageText, []byte(msg))
			var b []byte
			if err == nil {
				_, b, err = ws.Read(ctx)
			}
			cancel()
			if err == nil && string(b) != msg {
				err = fmt.Errorf("echo %q, want %q", b, msg)
			}
			if err != nil {
				s.closedAt, s.err = time.Now(), err
				return
			}
			s.echoes.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return s
}

// closedWith waits for the socket to end and returns its close status.
func (s *socket) closedWith(t *testing.T, timeout time.Duration) (websocket.StatusCode, time.Time) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("the WebSocket still runs after %s", timeout)
	}
	return websocket.CloseStatus(s.err), s.closedAt
}

// dataOf decodes an event's data.
func dataOf(t *testing.T, e deploy.Event, v any) {
	t.Helper()
	if err := json.Unmarshal(e.Data, v); err != nil {
		t.Fatalf("data of %s: %v (%s)", e.Type, err, e.Data)
	}
}
