package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestProxy_Shutdown: a stop with the app's bounds lets the request in
// flight finish, closes the WebSocket with 1001 at its own bound, and serves
// the first request of a connection it accepted just before.
func TestProxy_Shutdown(t *testing.T) {
	var started atomic.Int32
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/ws", wsEcho(t, "blue"))
	mux.Handle("/", slowUpstream("blue", &started, release))
	_, blue := upstream(t, mux)
	p := startProxy(t, Options{})
	p.SetTarget("blue", blue)
	c := newClient(t)
	slow := goGet(c, proxyURL(p)+"/slow")
	waitFor(t, 5*time.Second, "slow request upstream", func() bool { return started.Load() == 1 })
	ws := dialWS(t, p)
	if got := echo(t, ws, "hi"); got != "blue: hi" {
		t.Fatalf("echo %q", got)
	}
	// A client connected, its request not yet sent.
	fresh, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	waitFor(t, 5*time.Second, "the new connection accepted", func() bool {
		p.connMu.Lock()
		defer p.connMu.Unlock()
		return len(p.conns) == 3
	})

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- p.Shutdown(context.Background(), 5*time.Second, 300*time.Millisecond) }()
	// The listener is closed at once.
	waitFor(t, 5*time.Second, "the listener closed", func() bool {
		c, err := net.DialTimeout("tcp", p.Addr().String(), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if _, err := fmt.Fprintf(fresh, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(fresh)
	if !strings.HasPrefix(string(b), "HTTP/1.1 200") || !strings.HasSuffix(string(b), "blue") {
		t.Fatalf("the first request of a connection accepted before the stop: %q", b)
	}
	// The WebSocket is closed with 1001 at its bound, the request goes on.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("WebSocket ended with %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond || took > 2*time.Second {
		t.Fatalf("WebSocket closed after %s, want about 300ms", took)
	}
	close(release)
	if r := <-slow; r.err != nil || r.status != 200 || r.body != "blue" {
		t.Fatalf("the request in flight: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestProxy_ShutdownCutsAtDrainTimeout: a request longer than the bound is cut.
func TestProxy_ShutdownCutsAtDrainTimeout(t *testing.T) {
	var started atomic.Int32
	_, blue := upstream(t, slowUpstream("blue", &started, make(chan struct{})))
	p := startProxy(t, Options{})
	p.SetTarget("blue", blue)
	slow := goGet(newClient(t), proxyURL(p)+"/slow")
	waitFor(t, 5*time.Second, "slow request upstream", func() bool { return started.Load() == 1 })
	start := time.Now()
	if err := p.Shutdown(context.Background(), 200*time.Millisecond, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %s", took)
	}
	if r := <-slow; r.err == nil {
		t.Fatalf("a request past drain_timeout was not cut: %+v", r)
	}
}

// TestProxy_Listener serves a listener opened elsewhere (one handed over).
func TestProxy_Listener(t *testing.T) {
	_, blue := upstream(t, slowUpstream("blue", new(atomic.Int32), nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, Options{Listener: ln, Port: 1})
	p.SetTarget("blue", blue)
	if p.Addr().String() != ln.Addr().String() {
		t.Fatalf("listens on %s, want %s", p.Addr(), ln.Addr())
	}
	if _, body := get(t, newClient(t), mustReq(t, proxyURL(p)+"/")); body != "blue" {
		t.Fatalf("answered %q", body)
	}
}
