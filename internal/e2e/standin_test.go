package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/sdnotify"
)

// The stand-in (docs/upgrades.md, "The stand-in"): serve run without a
// service manager (NOTIFY_SOCKET unset), as a terminal, docker run or a
// script runs it, and a log output that goes away or stops reading.

// TestStandIn_Upgrades upgrades a foreground serve twice under load (ctl
// upgrade, then SIGUSR2 to the process the test started): that process
// stays as the stand-in, without sockets, parent of each serving process;
// SIGHUP to it reloads the serving process; no request fails; SIGINT to it
// stops the serving process (drain, supervisor.stopped) and the stand-in
// exits 0.
func TestStandIn_Upgrades(t *testing.T) {
	images(t)
	t.Setenv(sdnotify.SocketEnv, "")
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	standIn := s.startedPID()
	l := startLoad(t, a, 4, 0)
	waitFor(t, 10*time.Second, "traffic", func() (bool, string) { return l.ok.Load() > 100, l.String() })

	s.install(bin2)
	if code, out, errOut := s.ctl("upgrade", "--wait"); code != 0 || !strings.Contains(out, version2) {
		t.Fatalf("ctl upgrade --wait: exit %d\n%s%s", code, out, errOut)
	}
	p1 := s.pid()
	if p1 == standIn || p1 == 0 {
		t.Fatalf("/health pid %d after the upgrade; the stand-in is %d", p1, standIn)
	}
	s.waitLog(`standing in`, 30*time.Second)
	if gone(standIn) {
		t.Fatal("the process the test started exited after the upgrade")
	}
	if pp := ppid(t, p1); pp != standIn {
		t.Fatalf("the serving process's parent is %d, want the stand-in %d", pp, standIn)
	}
	if ls := listening(t, standIn); len(ls) > 0 {
		t.Fatalf("the stand-in still holds listening sockets: %v", ls)
	}

	// SIGUSR2 to the stand-in: the serving process upgrades; the new one
	// becomes the stand-in's child once its parent exits.
	s.install(bin1)
	s.signal(syscall.SIGUSR2)
	var p2 int
	waitFor(t, 40*time.Second, "a second serving process", func() (bool, string) {
		h, err := s.health()
		p2 = h.PID
		return err == nil && h.PID != p1 && h.Version == version1, fmt.Sprintf("%+v %v", h, err)
	})
	waitFor(t, 30*time.Second, "the second serving process under the stand-in", func() (bool, string) {
		pp := ppid(t, p2)
		return pp == standIn, fmt.Sprintf("parent %d", pp)
	})

	// SIGHUP to the stand-in: the serving process reloads.
	last := s.events("", 0)
	after := last[len(last)-1].ID
	s.signal(syscall.SIGHUP)
	s.event("", deploy.EventConfigReloaded, after, 10*time.Second)
	if pid := s.pid(); pid != p2 {
		t.Fatalf("/health pid %d after SIGHUP, want %d", pid, p2)
	}
	n := l.ok.Load()
	waitFor(t, 10*time.Second, "traffic after the upgrades", func() (bool, string) { return l.ok.Load() > n+100, l.String() })
	l.halt()
	t.Logf("two upgrades under the stand-in: %s", l)
	if l.failed.Load() != 0 {
		t.Fatalf("failed requests: %s", l)
	}

	// SIGINT to the stand-in: the serving process stops, the stand-in exits 0.
	s.signal(syscall.SIGINT)
	code, ok := s.exited(30 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("the stand-in after SIGINT: exit %d, exited %v", code, ok)
	}
	if !gone(p2) {
		t.Fatalf("the serving process %d outlived the stand-in", p2)
	}
	if _, _, err := get(a.url("/")); err == nil {
		t.Fatal("the proxy still answers after the stop")
	}
	s.restartFindsStopped(a)
}

// TestStandIn_Kill9 kills the stand-in with SIGKILL: the serving process
// ends with it and a new serve takes over the containers. Then, the other
// way round, a SIGKILL of the serving process ends the stand-in by the
// same signal.
func TestStandIn_Kill9(t *testing.T) {
	images(t)
	t.Setenv(sdnotify.SocketEnv, "")
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	upgraded := func() (standIn, serving int) {
		t.Helper()
		s.start()
		s.stable(a, imgV1, 60*time.Second)
		if code, out, errOut := s.ctl("upgrade", "--wait"); code != 0 {
			t.Fatalf("ctl upgrade --wait: exit %d\n%s%s", code, out, errOut)
		}
		s.waitLog(`standing in`, 30*time.Second)
		return s.startedPID(), s.pid()
	}
	standIn, serving := upgraded()
	ids := containers(t, a.name)
	s.kill9()
	waitFor(t, 10*time.Second, "the serving process ends with the stand-in", func() (bool, string) {
		return gone(serving), fmt.Sprintf("pid %d", serving)
	})
	if _, _, err := get(a.url("/")); err == nil {
		t.Fatal("the proxy still answers after kill -9 of the stand-in")
	}
	t.Logf("kill -9 of the stand-in %d ended the serving process %d", standIn, serving)
	if got := containers(t, a.name); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("containers changed: %v, were %v", got, ids)
	}

	s.logMark()
	standIn, serving = upgraded()
	if err := syscall.Kill(serving, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.exited(20 * time.Second); !ok {
		t.Fatal("the stand-in outlived the serving process")
	}
	st := s.state()
	if ws, _ := st.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the stand-in ended with %s, want killed as the serving process was", st)
	}
	t.Logf("kill -9 of the serving process %d: the stand-in %d ended with %s", serving, standIn, st)
}

// TestServe_LogOutputGone runs serve with its standard output and error on
// a pipe. A reader that exits (as tee does on Ctrl-C) does not kill serve:
// SIGINT still drains the request in flight, records supervisor.stopped
// and exits 0. A reader that stops reading does not stall serve: the API
// answers thousands of requests, each logged at debug, and SIGTERM stops it.
func TestServe_LogOutputGone(t *testing.T) {
	images(t)
	t.Setenv(sdnotify.SocketEnv, "")
	t.Run("reader exits", func(t *testing.T) {
		a := newApp(t, imgV1)
		a.drain = "10s"
		s := newServe(t, "", a)
		r := s.startPiped()
		lines := bufio.NewScanner(r)
		for lines.Scan() && !strings.Contains(lines.Text(), "bluegreen serving") {
		}
		s.stable(a, imgV1, 60*time.Second)
		res := slowRequest(a)
		waitFor(t, 5*time.Second, "the request in flight", func() (bool, string) {
			st, err := s.status(a.name)
			return err == nil && st.Connections[st.ActiveColor].HTTP == 1, fmt.Sprint(st.Connections, err)
		})
		r.Close() // the reader is gone: serve's next line meets EPIPE
		s.signal(syscall.SIGINT)
		if r := <-res; r != "200 v1" {
			t.Fatalf("the request in flight: %s", r)
		}
		code, ok := s.exited(30 * time.Second)
		if !ok || code != 0 {
			t.Fatalf("serve with its log pipe closed: exit %d (%s), exited %v", code, s.state(), ok)
		}
		s.restartFindsStopped(a)
	})
	t.Run("reader stalls", func(t *testing.T) {
		a := newApp(t, imgV1)
		s := newServe(t, "", a)
		r := s.startPiped("--log-level", "debug")
		defer r.Close() // never read: the pipe fills with the first 64 KiB
		s.stable(a, imgV1, 60*time.Second)
		c := &http.Client{Timeout: 10 * time.Second}
		const asked = 3000
		for i := range asked {
			resp, err := c.Get("http://" + s.apiAddr + "/api/apps")
			if err != nil {
				t.Fatalf("API request %d with the log stalled: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		s.signal(syscall.SIGTERM)
		code, ok := s.exited(30 * time.Second)
		if !ok || code != 0 {
			t.Fatalf("serve with its log stalled: exit %d (%s), exited %v", code, s.state(), ok)
		}
		t.Logf("%d API requests answered with serve's log output stalled", asked)
		s.restartFindsStopped(a)
	})
}

// startedPID is the pid of the serve process the test started last.
func (s *serve) startedPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// state is how the serve process the test started last ended.
func (s *serve) state() *os.ProcessState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.ProcessState
}

// startPiped starts serve (with extra flags) with its standard output and
// error on a pipe, and returns the pipe's read end: the test reads it, or
// closes it, or leaves it.
func (s *serve) startPiped(flags ...string) *os.File {
	s.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	args := append([]string{"serve", "--apps", filepath.Join(s.dir, "apps.d"), "--db", filepath.Join(s.dir, "bluegreen.db"),
		"--api", s.apiAddr, "--reconcile-interval", "1s"}, flags...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	w.Close()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.procs[cmd.Process.Pid] = cmd.Process
	s.mu.Unlock()
	return r
}

// restartFindsStopped starts serve again (its log to the test's file) and
// checks that the stop before recorded supervisor.stopped as the last
// supervisor event.
func (s *serve) restartFindsStopped(a *app) {
	s.t.Helper()
	s.start()
	s.stable(a, imgV1, 30*time.Second)
	var lastSup deploy.Event
	for _, e := range s.events("", 0) {
		if e.App == "" && strings.HasPrefix(string(e.Type), "supervisor.") && e.Type != deploy.EventSupervisorStarted {
			lastSup = e
		}
	}
	if lastSup.Type != deploy.EventSupervisorStopped {
		s.t.Fatalf("the last supervisor event before the restart is %q (%s), want supervisor.stopped", lastSup.Type, lastSup.Message)
	}
}

// logMark remembers how long serve's log file is: waitLog looks after it.
func (s *serve) logMark() {
	b, _ := os.ReadFile(filepath.Join(s.dir, "serve.log"))
	logMarks.Store(s, len(b))
}

var logMarks sync.Map // *serve → offset in its log

// waitLog waits until serve's log file (after logMark) holds want.
func (s *serve) waitLog(want string, timeout time.Duration) {
	s.t.Helper()
	from := 0
	if v, ok := logMarks.Load(s); ok {
		from = v.(int)
	}
	waitFor(s.t, timeout, "log line "+strconv.Quote(want), func() (bool, string) {
		b, _ := os.ReadFile(filepath.Join(s.dir, "serve.log"))
		return len(b) > from && bytes.Contains(b[from:], []byte(want)), ""
	})
}

// slowRequest asks the app for a 3s answer and sends "status body" or the
// error when it ends.
func slowRequest(a *app) <-chan string {
	res := make(chan string, 1)
	go func() {
		c := &http.Client{Timeout: 30 * time.Second}
		resp, err := c.Get(a.url("/slow?d=3s"))
		if err != nil {
			res <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			res <- err.Error()
			return
		}
		res <- fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}()
	return res
}

// ppid is pid's parent, from /proc (0 when pid is gone).
func ppid(t *testing.T, pid int) int {
	t.Helper()
	f := procStat(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// gone reports whether pid ended: no such process, or a zombie.
func gone(pid int) bool {
	f := procStat(pid)
	return len(f) == 0 || f[0] == "Z"
}

// procStat is the fields of /proc/pid/stat after the command's name: state,
// ppid, ...; nil when there is no such process.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// listening returns the listening TCP and unix sockets that pid holds, by
// inode.
func listening(t *testing.T, pid int) []string {
	t.Helper()
	listen := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 9 && f[3] == "0A" { // TCP_LISTEN
				listen[f[9]] = true
			}
		}
	}
	b, _ := os.ReadFile("/proc/net/unix")
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 6 && f[3] == "00010000" { // __SO_ACCEPTCON
			listen[f[6]] = true
		}
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the fds of %d: %v", pid, err)
	}
	var held []string
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join(dir, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); ok && listen[strings.TrimSuffix(inode, "]")] {
			held = append(held, "fd "+fd.Name()+" "+target)
		}
	}
	return held
}

// systemd is a stand-in for systemd's notify socket: serve run with
// NOTIFY_SOCKET set to it upgrades as under systemd (the old process exits).
type systemd struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

// fakeSystemd listens on a notify socket and sets NOTIFY_SOCKET to it for
// the processes the test starts.
func fakeSystemd(t *testing.T) *systemd {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	sd := &systemd{conn: conn}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			sd.mu.Lock()
			sd.msgs = append(sd.msgs, string(buf[:n]))
			sd.mu.Unlock()
		}
	}()
	t.Setenv(sdnotify.SocketEnv, path)
	return sd
}

// heard reports whether a datagram held want.
func (sd *systemd) heard(want string) bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	for _, m := range sd.msgs {
		if strings.Contains(m, want) {
			return true
		}
	}
	return false
}
