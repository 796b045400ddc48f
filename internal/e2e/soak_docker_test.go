package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Restarting the local Docker daemon for the soak's -soak.docker-restart
// (docs/faults.md, "Docker restarts or is unreachable"). How depends on what
// started dockerd: systemd, Debian's init script (start-stop-daemon, which
// keeps a pid file of its own), or a shell, as scripts/ensure-docker.sh does
// where there is no systemd (`nohup dockerd >/var/log/dockerd.log 2>&1 &`).
// `service docker restart` is no restart of a dockerd the init script did
// not start: it finds no pid file of its own, and the dockerd it starts
// exits at once (the running one holds the pid file), while the command
// says it worked. So the soak picks the way by what it finds, and checks
// that a daemon with another pid answers afterwards.

// Where dockerd and Debian's init script keep their pid files, and where
// scripts/ensure-docker.sh logs a dockerd it starts.
const (
	dockerPIDFile    = "/var/run/docker.pid"
	dockerSSDPIDFile = "/var/run/docker-ssd.pid"
	dockerdLog       = "/var/log/dockerd.log"
	systemdRunDir    = "/run/systemd/system"
)

// Ways to restart dockerd.
const (
	restartSystemd = "systemctl restart docker"
	restartService = "service docker restart"
	restartByHand  = "SIGTERM to dockerd (its pid file), then dockerd started as scripts/ensure-docker.sh does"
)

// restartWay picks how to restart the dockerd of pid: with systemd when it
// runs, with the init script when its pid file names pid, else by hand.
func restartWay(systemd bool, pid, ssdPID int) string {
	switch {
	case systemd:
		return restartSystemd
	case ssdPID == pid:
		return restartService
	}
	return restartByHand
}

// restartDocker restarts the local Docker daemon, waits until a daemon with
// another pid answers, and returns how it restarted it.
func restartDocker(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("DOCKER_HOST"); h != "" && h != "unix:///var/run/docker.sock" {
		t.Fatalf("restart Docker: DOCKER_HOST=%s is not the local daemon", h)
	}
	pid, err := readPIDFile(dockerPIDFile)
	if err != nil {
		t.Fatalf("restart Docker: %v", err)
	}
	ssdPID, _ := readPIDFile(dockerSSDPIDFile)
	_, serr := os.Stat(systemdRunDir)
	way := restartWay(serr == nil, pid, ssdPID)
	switch way {
	case restartSystemd:
		err = runCmd("systemctl", "restart", "docker")
	case restartService:
		err = runCmd("service", "docker", "restart")
	default:
		err = restartByHandAt(pid, dockerdLog, 2*time.Minute)
	}
	if err != nil {
		t.Fatalf("restart Docker (%s): %v", way, err)
	}
	waitFor(t, 2*time.Minute, "a new Docker daemon answers", func() (bool, string) {
		now, err := readPIDFile(dockerPIDFile)
		if err != nil || now == pid {
			return false, fmt.Sprintf("pid %d (was %d), %v", now, pid, err)
		}
		out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
		return err == nil, string(out)
	})
	return way
}

// restartByHandAt stops the dockerd of pid with SIGTERM, waits up to
// timeout for it to exit (it stops its containers first), and starts
// dockerd as scripts/ensure-docker.sh does, its output appended to logPath,
// in a session of its own (nohup's part: no terminal's hangup reaches it).
// This process reaps it should it exit while the test runs.
func restartByHandAt(pid int, logPath string, timeout time.Duration) error {
	if os.Geteuid() != 0 {
		return errors.New("dockerd was started by hand: only root may restart it")
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
		return fmt.Errorf("pid %d of %s is not dockerd (%q, %v)", pid, dockerPIDFile, comm, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM to dockerd %d: %w", pid, err)
	}
	if !pidExited(pid, timeout) {
		return fmt.Errorf("dockerd %d still runs %s after SIGTERM", pid, timeout)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("dockerd")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	go cmd.Wait() // it outlives the test; reaped here if it ends before
	return nil
}

// pidExited waits up to timeout for the process pid, which is not this
// process's child, to exit (a zombie counts as exited).
func pidExited(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return true
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// "pid (comm) S ...": the state follows the command's closing parenthesis.
			if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
				return true
			}
		}
	}
	return false
}

// readPIDFile reads the pid in path.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds no pid: %q", path, b)
	}
	return pid, nil
}

// runCmd runs a command and returns its error with its output.
func runCmd(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TestSoakDocker_RestartWay: the soak restarts dockerd by what started it;
// it reads pid files strictly, and waits for a process to exit (a zombie
// counts). It restarts nothing.
func TestSoakDocker_RestartWay(t *testing.T) {
	for _, tc := range []struct {
		systemd     bool
		pid, ssdPID int
		want        string
	}{
		{true, 2704, 0, restartSystemd},
		{true, 2704, 2704, restartSystemd},
		{false, 2704, 2704, restartService},
		{false, 2704, 0, restartByHand},    // nohup dockerd &: no pid file of the init script
		{false, 2704, 1999, restartByHand}, // a stale one
	} {
		if got := restartWay(tc.systemd, tc.pid, tc.ssdPID); got != tc.want {
			t.Errorf("systemd %v, pid %d, init script's pid %d: %q, want %q", tc.systemd, tc.pid, tc.ssdPID, got, tc.want)
		}
	}
	dir := t.TempDir()
	for content, want := range map[string]int{"2704\n": 2704, "2704": 2704, "": 0, "x": 0, "-3": 0} {
		path := filepath.Join(dir, "pid")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := readPIDFile(path); got != want || (err == nil) != (want != 0) {
			t.Errorf("pid file %q: %d, %v", content, got, err)
		}
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if pidExited(cmd.Process.Pid, 200*time.Millisecond) {
		t.Fatal("a running process counted as exited")
	}
	cmd.Process.Kill() // a zombie until reaped
	if !pidExited(cmd.Process.Pid, 5*time.Second) {
		t.Fatal("a killed process did not count as exited")
	}
	cmd.Wait()
}
