package release

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServe_Notify runs the release binary's serve as systemd does with
// Type=notify: READY=1 once it serves, RELOADING=1 then READY=1 around a
// SIGHUP, STOPPING=1 on SIGTERM.
func TestServe_Notify(t *testing.T) {
	bin := releaseBinary(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	next := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
				t.Fatal(err)
			}
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				t.Fatalf("waiting for %s from serve: %v", want, err)
			}
			if strings.Contains("\n"+string(buf[:n])+"\n", "\n"+want+"\n") {
				return
			}
		}
	}
	t.Setenv("NOTIFY_SOCKET", sockPath) // startServe's child inherits the environment
	s := startServe(t, bin, t.TempDir(), "unix:"+filepath.Join(dir, "api.sock"))
	next("READY=1")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	next("RELOADING=1")
	next("READY=1")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1")
}
