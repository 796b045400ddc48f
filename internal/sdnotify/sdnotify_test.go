package sdnotify

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a unixgram socket at addr (a path, or @name for an abstract
// one), points NOTIFY_SOCKET at it and returns it.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv(SocketEnv, addr)
	return conn
}

// receive reads one datagram, failing the test after a deadline.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

func abstractName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "@bluegreen-sdnotify-test-" + hex.EncodeToString(b)
}

func TestNotify(t *testing.T) {
	t.Run("unset is a no-op", func(t *testing.T) {
		t.Setenv(SocketEnv, "")
		sent, err := Ready()
		if sent || err != nil {
			t.Fatalf("Ready() without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
		}
	})

	for _, tc := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"path socket", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify.sock") }},
		{"abstract socket", abstractName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := listen(t, tc.addr(t))
			sent, err := Notify("READY=1\nSTATUS=up")
			if !sent || err != nil {
				t.Fatalf("Notify = %v, %v; want true, nil", sent, err)
			}
			if got := receive(t, conn); got != "READY=1\nSTATUS=up" {
				t.Fatalf("datagram %q", got)
			}
		})
	}

	t.Run("helpers send their states", func(t *testing.T) {
		conn := listen(t, filepath.Join(t.TempDir(), "notify.sock"))
		for _, tc := range []struct {
			send func() (bool, error)
			want string
		}{
			{Ready, "READY=1"},
			{Stopping, "STOPPING=1"},
			{func() (bool, error) { return ReadyWithMainPID(4242) }, "MAINPID=4242\nREADY=1"},
			{func() (bool, error) { return Status("serving 3 apps\nAPI 127.0.0.1:7070") }, "STATUS=serving 3 apps API 127.0.0.1:7070"},
		} {
			if sent, err := tc.send(); !sent || err != nil {
				t.Fatalf("send %q = %v, %v", tc.want, sent, err)
			}
			if got := receive(t, conn); got != tc.want {
				t.Fatalf("datagram %q, want %q", got, tc.want)
			}
		}
	})

	t.Run("reloading carries a monotonic timestamp", func(t *testing.T) {
		conn := listen(t, filepath.Join(t.TempDir(), "notify.sock"))
		before, err := monotonicUsec()
		if err != nil {
			t.Fatal(err)
		}
		if sent, err := Reloading(); !sent || err != nil {
			t.Fatalf("Reloading = %v, %v", sent, err)
		}
		got := receive(t, conn)
		first, second, ok := strings.Cut(got, "\n")
		if first != "RELOADING=1" || !ok || !strings.HasPrefix(second, "MONOTONIC_USEC=") {
			t.Fatalf("datagram %q, want RELOADING=1 and MONOTONIC_USEC=", got)
		}
		us, err := strconv.ParseUint(strings.TrimPrefix(second, "MONOTONIC_USEC="), 10, 64)
		if err != nil || us < before || us > before+uint64(time.Minute/time.Microsecond) {
			t.Fatalf("MONOTONIC_USEC %q: want a time just after %d", second, before)
		}
	})

	t.Run("bad pid", func(t *testing.T) {
		listen(t, filepath.Join(t.TempDir(), "notify.sock"))
		if sent, err := ReadyWithMainPID(0); sent || err == nil {
			t.Fatalf("ReadyWithMainPID(0) = %v, %v; want an error", sent, err)
		}
	})

	t.Run("unsupported address", func(t *testing.T) {
		for _, addr := range []string{"relative/notify.sock", "vsock:2:1234"} {
			t.Setenv(SocketEnv, addr)
			if sent, err := Ready(); sent || !errors.Is(err, ErrUnsupportedSocket) {
				t.Fatalf("Ready() with NOTIFY_SOCKET=%q = %v, %v; want ErrUnsupportedSocket", addr, sent, err)
			}
		}
	})

	t.Run("nobody listening", func(t *testing.T) {
		t.Setenv(SocketEnv, filepath.Join(t.TempDir(), "missing.sock"))
		if sent, err := Ready(); sent || err == nil {
			t.Fatalf("Ready() to a missing socket = %v, %v; want an error", sent, err)
		}
	})
}
