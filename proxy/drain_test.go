package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// slowUpstream answers "<color>" after release is closed; started counts
// requests that reached it.
func slowUpstream(color string, started *atomic.Int32, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			io.WriteString(w, color)
			return
		}
		started.Add(1)
		w.Header().Set("Content-Length", "4")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-release:
			io.WriteString(w, color[:4])
		case <-r.Context().Done():
		}
	})
}

type result struct {
	status int
	body   string
	err    error
}

func goGet(c *http.Client, url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := c.Get(url)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}

func goDrain(p *Proxy, ctx context.Context, color string, httpT, wsT time.Duration) <-chan DrainResult {
	ch := make(chan DrainResult, 1)
	go func() { ch <- p.Drain(ctx, color, httpT, wsT) }()
	return ch
}

func TestProxy_Drain(t *testing.T) {
	t.Run("slow request started before the switch finishes on the old color", func(t *testing.T) {
		var started atomic.Int32
		release := make(chan struct{})
		_, blue := upstream(t, slowUpstream("blue", &started, release))
		_, green := upstream(t, slowUpstream("green", &started, nil))
		p := startProxy(t, Options{})
		p.SetTarget("blue", blue)
		c := newClient(t)
		slow := goGet(c, proxyURL(p)+"/slow")
		waitFor(t, 5*time.Second, "slow request upstream", func() bool { return started.Load() == 1 })

		p.SetTarget("green", green)
		drained := goDrain(p, context.Background(), "blue", 10*time.Second, 10*time.Second)
		if _, body := get(t, c, mustReq(t, proxyURL(p)+"/")); body != "green" {
			t.Fatalf("new request went to %q", body)
		}
		if got := p.Connections()["blue"].HTTP; got != 1 {
			t.Fatalf("blue in flight = %d, want 1", got)
		}
		close(release)
		r := <-slow
		if r.err != nil || r.status != 200 || r.body != "blue" {
			t.Fatalf("slow request: %+v", r)
		}
		res := <-drained
		if res.Color != "blue" || res.HTTPCut != 0 || res.WebSocketsClosed != 0 || res.Duration > 5*time.Second {
			t.Fatalf("drain = %+v", res)
		}
	})

	t.Run("request still running at drain_timeout is cut", func(t *testing.T) {
		var started atomic.Int32
		_, blue := upstream(t, slowUpstream("blue", &started, make(chan struct{})))
		p := startProxy(t, Options{})
		p.SetTarget("blue", blue)
		slow := goGet(newClient(t), proxyURL(p)+"/slow")
		waitFor(t, 5*time.Second, "slow request upstream", func() bool { return started.Load() == 1 })
		p.SetTarget("green", "127.0.0.1:1")
		start := time.Now()
		res := <-goDrain(p, context.Background(), "blue", 300*time.Millisecond, time.Minute)
		if res.HTTPCut != 1 {
			t.Fatalf("drain = %+v, want one request cut", res)
		}
		if el := time.Since(start); el < 300*time.Millisecond || el > 3*time.Second {
			t.Fatalf("drain took %s, want about 300ms", el)
		}
		if r := <-slow; r.err == nil {
			t.Fatalf("cut request ended cleanly: %+v", r)
		}
		if got := p.Connections()["blue"]; got != (Connections{}) {
			t.Fatalf("blue after drain = %+v", got)
		}
	})

	t.Run("canceling ctx cuts now", func(t *testing.T) {
		var started atomic.Int32
		_, blue := upstream(t, slowUpstream("blue", &started, make(chan struct{})))
		p := startProxy(t, Options{})
		p.SetTarget("blue", blue)
		slow := goGet(newClient(t), proxyURL(p)+"/slow")
		waitFor(t, 5*time.Second, "slow request upstream", func() bool { return started.Load() == 1 })
		p.SetTarget("green", "127.0.0.1:1")
		ctx, cancel := context.WithCancel(context.Background())
		drained := goDrain(p, ctx, "blue", time.Minute, time.Minute)
		cancel()
		select {
		case res := <-drained:
			if res.HTTPCut != 1 {
				t.Fatalf("drain = %+v", res)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("drain did not end after cancel")
		}
		<-slow
	})

	t.Run("websocket keeps echoing from the old color and gets 1001 at the cutoff", func(t *testing.T) {
		_, blue := upstream(t, wsEcho(t, "blue"))
		_, green := upstream(t, wsEcho(t, "green"))
		p := startProxy(t, Options{})
		p.SetTarget("blue", blue)
		old := dialWS(t, p)
		if got := echo(t, old, "a"); got != "blue: a" {
			t.Fatalf("echo = %q", got)
		}

		p.SetTarget("green", green)
		const cutoff = 1500 * time.Millisecond
		start := time.Now()
		drained := goDrain(p, context.Background(), "blue", 200*time.Millisecond, cutoff)

		fresh := dialWS(t, p)
		if got := echo(t, fresh, "b"); got != "green: b" {
			t.Fatalf("websocket opened after the switch: %q", got)
		}
		for range 3 {
			if got := echo(t, old, "c"); got != "blue: c" {
				t.Fatalf("old websocket during drain: %q", got)
			}
			if got := p.Connections()["blue"].WebSocket; got != 1 {
				t.Fatalf("blue websockets = %d", got)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _, err := old.Read(ctx)
		at := time.Since(start)
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Fatalf("old websocket ended with %v (code %d), want 1001", err, code)
		}
		if d := at - cutoff; d < -500*time.Millisecond || d > 500*time.Millisecond {
			t.Fatalf("close frame after %s, want %s ± 500ms", at, cutoff)
		}
		res := <-drained
		if res.WebSocketsClosed != 1 || res.HTTPCut != 0 {
			t.Fatalf("drain = %+v", res)
		}
		if got := echo(t, fresh, "d"); got != "green: d" {
			t.Fatalf("new websocket after drain: %q", got)
		}
	})

	t.Run("returns early when the last websocket closes", func(t *testing.T) {
		_, blue := upstream(t, wsEcho(t, "blue"))
		p := startProxy(t, Options{})
		p.SetTarget("blue", blue)
		c := dialWS(t, p)
		echo(t, c, "x")
		p.SetTarget("green", "127.0.0.1:1")
		drained := goDrain(p, context.Background(), "blue", time.Minute, time.Minute)
		select {
		case res := <-drained:
			t.Fatalf("drain ended with a websocket open: %+v", res)
		default:
		}
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-drained:
			if res.WebSocketsClosed != 0 || res.Duration > 10*time.Second {
				t.Fatalf("drain = %+v", res)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("drain still waiting after the websocket closed")
		}
	})

	t.Run("nothing in flight returns at once and closes idle upstream connections", func(t *testing.T) {
		var open atomic.Int32
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "blue") }))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		blue := srv.Listener.Addr().String()
		p := startProxy(t, Options{})
		p.SetTarget("blue", blue)
		c := newClient(t)
		for range 3 {
			get(t, c, mustReq(t, proxyURL(p)+"/"))
		}
		if open.Load() == 0 {
			t.Fatal("no upstream connection kept open")
		}
		p.SetTarget("green", "127.0.0.1:1")
		res := <-goDrain(p, context.Background(), "blue", time.Minute, time.Minute)
		if res.Duration > time.Second {
			t.Fatalf("empty drain took %s", res.Duration)
		}
		waitFor(t, 5*time.Second, "upstream connections closed", func() bool { return open.Load() == 0 })
	})
}

func mustReq(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
