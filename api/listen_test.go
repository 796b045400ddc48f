package api

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListen(t *testing.T) {
	t.Run("loopback tcp", func(t *testing.T) {
		for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
			ln, err := Listen(addr)
			if err != nil {
				t.Fatalf("listen %s: %v", addr, err)
			}
			host, _, _ := net.SplitHostPort(ln.Addr().String())
			ln.Close()
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				t.Fatalf("%s bound %s", addr, ln.Addr())
			}
		}
	})
	t.Run("ipv6 loopback", func(t *testing.T) {
		ln, err := Listen("[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback here: %v", err)
		}
		ln.Close()
	})
	t.Run("refuses non-loopback addresses", func(t *testing.T) {
		for _, addr := range []string{"0.0.0.0:7070", ":7070", "[::]:7070", "10.0.0.5:7070", "example.com:7070", "7070"} {
			ln, err := Listen(addr)
			if err == nil {
				ln.Close()
				t.Fatalf("%s: listened on %s", addr, ln.Addr())
			}
			if addr != "7070" && !strings.Contains(err.Error(), "not a loopback address") {
				t.Errorf("%s: error %q does not say why", addr, err)
			}
		}
	})
	t.Run("unix socket replaces a stale file and is 0660", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bg.sock")
		stale, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		stale.(*net.UnixListener).SetUnlinkOnClose(false)
		stale.Close() // leaves the socket file behind, as a crash would
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("stale socket missing: %v", err)
		}
		ln, err := Listen("unix:" + path)
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		t.Cleanup(func() { ln.Close() })
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o660 {
			t.Fatalf("mode %o", perm)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.Close()
	})
	t.Run("unix socket in use is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bg.sock")
		ln, err := Listen("unix:" + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		if ln2, err := Listen("unix:" + path); err == nil {
			ln2.Close()
			t.Fatal("second listener on a live socket")
		}
	})
	t.Run("a regular file is not removed", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data")
		if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		if ln, err := Listen("unix:" + path); err == nil {
			ln.Close()
			t.Fatal("listened over a regular file")
		}
		if b, _ := os.ReadFile(path); string(b) != "keep" {
			t.Fatal("regular file changed")
		}
	})
}
