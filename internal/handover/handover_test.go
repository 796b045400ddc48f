package handover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as the new process of a handover (see
// TestMain): its value says how it behaves.
const childEnv = "HANDOVER_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child is the new process: it takes over the listener keyed by
// HANDOVER_TEST_KEY and answers "child <pid>" on it (serve), or fails in
// the way mode names.
func child(mode string) int {
	in, err := FromEnv()
	if err != nil || in == nil {
		fmt.Fprintln(os.Stderr, "child: no handover:", err)
		return 3
	}
	log := in.LogWriter(io.Discard)
	fmt.Fprintf(log, "child %d starting\nsecond line\n", os.Getpid())
	switch mode {
	case "exit1":
		return 1
	case "fail":
		in.Fail(errors.New("the store is locked"))
		return 1
	case "hang":
		time.Sleep(time.Minute)
		return 0
	case "standin":
		return standInChild(in)
	}
	lns := in.Listeners()
	key := os.Getenv("HANDOVER_TEST_KEY")
	ln, err := lns.Listen(key, func() (net.Listener, error) { return nil, errors.New("not handed over") })
	if err != nil || !TakenOver(ln) {
		in.Fail(fmt.Errorf("listen %s: %v", key, err))
		return 1
	}
	if left := lns.CloseUnclaimed(); len(left) != 1 || left[0] != "tcp:unclaimed" {
		in.Fail(fmt.Errorf("unclaimed: %v", left))
		return 1
	}
	if err := in.Ready(); err != nil {
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "child %d", os.Getpid())
	})}
	go func() {
		time.Sleep(20 * time.Second) // a bound if the test dies
		os.Exit(0)
	}()
	srv.Serve(ln)
	return 0
}

// serveParent answers "parent" on ln until it is closed.
func serveParent(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "parent")
	})}
	srv.Serve(ln)
}

func spec(t *testing.T, mode, key string, files map[string]*os.File) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Path: exe, Args: []string{"-test.run=^$"},
		Env:       append(os.Environ(), childEnv+"="+mode, "HANDOVER_TEST_KEY="+key),
		Listeners: files, ParentVersion: "v-test", Timeout: 10 * time.Second}
}

// get asks the server at addr (a TCP address or a unix socket path) on a new
// connection.
func get(addr string) (string, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	host := addr
	if strings.HasPrefix(addr, "/") {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}
		host = "localhost"
	}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + host + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// handOver runs the handover of ln (keyed key) to a child while a client
// asks without pause, and checks that no request fails and that the child
// answers once the parent closed its listener.
func handOver(t *testing.T, lns *Listeners, ln net.Listener, key, addr string) {
	t.Helper()
	go serveParent(ln)
	var stop atomic.Bool
	var asked, failed atomic.Int64
	clientDone := make(chan struct{})
	defer func() {
		stop.Store(true)
		<-clientDone
	}()
	go func() {
		defer close(clientDone)
		for !stop.Load() {
			asked.Add(1)
			if _, err := get(addr); err != nil {
				failed.Add(1)
				t.Errorf("request during the handover: %v", err)
			}
		}
	}()
	unclaimed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer unclaimed.Close()
	files, err := lns.Files()
	if err != nil {
		t.Fatal(err)
	}
	uf, err := unclaimed.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	files["tcp:unclaimed"] = uf
	c, err := Start(context.Background(), spec(t, "serve", key, files))
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatalf("handover: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(c.Pid, syscall.SIGKILL)
		c.Wait()
	})
	if h, ok := ln.(interface{ HandedOver() bool }); !ok || h.HandedOver() {
		t.Fatalf("%T: HandedOver before MarkHandedOver", ln)
	}
	lns.MarkHandedOver()
	if !ln.(interface{ HandedOver() bool }).HandedOver() {
		t.Fatal("not HandedOver after MarkHandedOver")
	}
	ln.Close() // the parent stops accepting; the child goes on
	want := fmt.Sprintf("child %d", c.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := get(addr)
		if err == nil && got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the handover: %q, %v; want %q", got, err, want)
		}
	}
	t.Logf("%d requests during the handover, %d failed", asked.Load(), failed.Load())
}

func TestStart_TCP(t *testing.T) {
	lns := NewListeners()
	ln, err := lns.Listen(TCPKey("127.0.0.1:0"), func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	if TakenOver(ln) {
		t.Fatal("a new listener reported as taken over")
	}
	handOver(t, lns, ln, TCPKey("127.0.0.1:0"), ln.Addr().String())
	if keys := lns.Keys(); len(keys) != 0 {
		t.Fatalf("a closed listener is still in the set: %v", keys)
	}
}

func TestStart_UnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	lns := NewListeners()
	ln, err := lns.Listen(UnixKey(path), func() (net.Listener, error) { return net.Listen("unix", path) })
	if err != nil {
		t.Fatal(err)
	}
	handOver(t, lns, ln, UnixKey(path), path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the old process's close removed the socket file: %v", err)
	}
}

func TestStart_Failures(t *testing.T) {
	for _, tc := range []struct {
		mode, reason string
		logs         bool
		timeout      time.Duration
	}{
		{mode: "exit1", reason: "it exited before it was ready: exit status 1", logs: true},
		{mode: "fail", reason: "the store is locked", logs: true},
		{mode: "hang", reason: "not ready within 300ms: killed it", timeout: 300 * time.Millisecond},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := spec(t, tc.mode, "", nil)
			if tc.timeout > 0 {
				s.Timeout = tc.timeout
			}
			_, err := Start(context.Background(), s)
			var fe *FailedError
			if !errors.As(err, &fe) || fe.Reason != tc.reason || fe.Pid == 0 {
				t.Fatalf("err = %v, want reason %q", err, tc.reason)
			}
			if tc.logs && (len(fe.Logs) != 2 || !strings.HasPrefix(fe.Logs[0], "child ") || fe.Logs[1] != "second line") {
				t.Fatalf("logs = %q", fe.Logs)
			}
			if tc.logs && !strings.Contains(err.Error(), "its last log lines: child ") {
				t.Fatalf("message %q", err)
			}
		})
	}
	t.Run("no such executable", func(t *testing.T) {
		_, err := Start(context.Background(), Spec{Path: filepath.Join(t.TempDir(), "bluegreen")})
		var fe *FailedError
		if !errors.As(err, &fe) || fe.Pid != 0 || !strings.Contains(fe.Reason, "no such file") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFromEnv(t *testing.T) {
	t.Setenv(Env, "")
	os.Unsetenv(Env)
	if in, err := FromEnv(); in != nil || err != nil {
		t.Fatalf("no handover: %v %v", in, err)
	}
	// A nil *Inherited does nothing.
	var none *Inherited
	if none.Ready() != nil || none.Fail(errors.New("x")) != nil || none.LogWriter(io.Discard) != io.Discard || none.StandIn() != nil {
		t.Fatal("nil Inherited")
	}
	for _, bad := range []string{"{", `{"listeners": {"tcp:x": 1}}`} {
		t.Setenv(Env, bad)
		if _, err := FromEnv(); err == nil {
			t.Errorf("%q: no error", bad)
		}
		if _, set := os.LookupEnv(Env); set {
			t.Errorf("%q: %s still set", bad, Env)
		}
	}
}
