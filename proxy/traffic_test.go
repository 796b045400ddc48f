package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// client is a raw client connection with its reader.
type client struct {
	c  net.Conn
	br *bufio.Reader
}

// openClient connects to p and sends data (no half-close: a held
// request's client that closes its sending side gives up).
func openClient(t *testing.T, p *Proxy, data string) *client {
	t.Helper()
	c := dialProxy(t, p)
	if data != "" {
		if _, err := io.WriteString(c, data); err != nil {
			t.Fatal(err)
		}
	}
	return &client{c: c, br: bufio.NewReader(c)}
}

func (cl *client) send(t *testing.T, data string) {
	t.Helper()
	if _, err := io.WriteString(cl.c, data); err != nil {
		t.Fatal(err)
	}
}

// answer reads one answer to a request with method (within d) and its body.
func (cl *client) answer(t *testing.T, method string, d time.Duration) (*http.Response, string) {
	t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(cl.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the body: %v", err)
	}
	return resp, string(body)
}

// closed reports whether the proxy closed the connection without sending
// anything more, within d.
func (cl *client) closed(d time.Duration) bool {
	cl.c.SetReadDeadline(time.Now().Add(d))
	b, err := cl.br.ReadByte()
	_ = b
	return err != nil && !isTimeoutErr(err)
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// waitHeld waits until p holds n requests.
func waitHeld(t *testing.T, p *Proxy, n int) {
	t.Helper()
	waitFor(t, 5*time.Second, "the held requests", func() bool { return p.Held() == n })
}

// pathsSeen returns the paths of the requests rec saw, in order.
func pathsSeen(rec *recorder) []string {
	var ps []string
	for _, r := range rec.requests() {
		ps = append(ps, r.Req.URL.RequestURI())
	}
	return ps
}

// TestProxy_pauseResume: requests held on new and open keep-alive
// connections (a POST with its body, a WebSocket handshake) reach nothing
// until the resume, then go to the color active then, in the order they
// came, and their connections go on.
func TestProxy_pauseResume(t *testing.T) {
	blue, green := newRecorder(t, nil), newRecorder(t, answerClosing)
	p := startProxy(t, Options{})
	p.SetTarget(ColorBlue, blue.addr())
	kept := openClient(t, p, getReq("/before"))
	kept.answer(t, "GET", 5*time.Second)

	p.Pause(time.Minute)
	if tr := p.Traffic(); tr.Mode != ModePaused || tr.MaxWait != time.Minute {
		t.Fatalf("traffic %+v", tr)
	}
	var held []*client
	sends := []string{getReq("/1"), postLength("/2", "a body of 21 bytes..."), postChunked("/3", "chunked"), getReq("/4"),
		"GET /5 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"}
	for i, s := range sends {
		if i == 3 {
			kept.send(t, s) // on the keep-alive connection opened before the pause
			held = append(held, kept)
		} else {
			held = append(held, openClient(t, p, s))
		}
		waitHeld(t, p, i+1)
	}
	p.SetTarget(ColorGreen, green.addr()) // a deployment while paused
	time.Sleep(50 * time.Millisecond)
	if n := green.bytes.Load(); n != 0 {
		t.Fatalf("%d bytes reached the container while paused", n)
	}
	if n := p.Resume(); n != len(sends) {
		t.Fatalf("Resume sent %d, want %d", n, len(sends))
	}
	for i, cl := range held[:4] {
		resp, body := cl.answer(t, "GET", 5*time.Second)
		if resp.StatusCode != 200 || !strings.HasSuffix(body, []string{"/1", "/2", "/3", "/4"}[i]) {
			t.Errorf("request %d: %d %q", i+1, resp.StatusCode, body)
		}
	}
	if resp, _ := held[4].answer(t, "GET", 5*time.Second); resp.StatusCode != 101 {
		t.Errorf("the WebSocket handshake got %d", resp.StatusCode)
	}
	// Green closes every connection after its answer: each request went
	// out on a connection of its own, dialed as it was sent, so the order
	// in which green accepted them is the order they were sent in.
	up := green.requests()
	slices.SortFunc(up, func(a, b *upReq) int { return a.Conn - b.Conn })
	var got []string
	for _, r := range up {
		got = append(got, r.Req.URL.Path)
	}
	if !slices.Equal(got, []string{"/1", "/2", "/3", "/4", "/5"}) {
		t.Errorf("green accepted %q, want the held requests in the order they came", got)
	}
	if got := pathsSeen(blue); !slices.Equal(got, []string{"/before"}) {
		t.Errorf("blue saw %q", got)
	}
	if len(up) == 5 && (up[1].Body != "a body of 21 bytes..." || up[2].Body != "chunked") {
		t.Errorf("bodies %q, %q", up[1].Body, up[2].Body)
	}
	kept.send(t, getReq("/after")) // the connection goes on
	if resp, body := kept.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /after" {
		t.Errorf("after the resume: %d %q", resp.StatusCode, body)
	}
}

// answerClosing answers a WebSocket handshake with 101, all others like
// answerEcho with Connection: close, and closes the connection.
func answerClosing(r *upReq) (string, bool) {
	if r.Req.Header.Get("Upgrade") == "websocket" {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", true
	}
	body := r.String()
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body), true
}

// TestProxy_pauseLimits: max_wait, max_held_requests, a client that gives
// up, requests in flight and pipelined ones.
func TestProxy_pauseLimits(t *testing.T) {
	rec := newRecorder(t, nil)
	t.Run("max_wait", func(t *testing.T) {
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, rec.addr())
		p.Pause(300 * time.Millisecond)
		start := time.Now()
		cl := openClient(t, p, getReq("/late"))
		resp, _ := cl.answer(t, "GET", 5*time.Second)
		if d := time.Since(start); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || d < 300*time.Millisecond {
			t.Fatalf("%d Retry-After %q after %s", resp.StatusCode, resp.Header.Get("Retry-After"), d)
		}
		p.Resume()
		cl.send(t, getReq("/next")) // the connection goes on
		if resp, _ := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 {
			t.Fatalf("next: %d", resp.StatusCode)
		}
		checkNoneCount(t, p, 503, 1)
	})
	t.Run("max_held_requests", func(t *testing.T) {
		p := startProxy(t, Options{Settings: Settings{MaxHeldRequests: 2}})
		p.SetTarget(ColorBlue, rec.addr())
		p.Pause(time.Minute)
		openClient(t, p, getReq("/1"))
		openClient(t, p, getReq("/2"))
		waitHeld(t, p, 2)
		start := time.Now()
		resp, _ := openClient(t, p, getReq("/3")).answer(t, "GET", 5*time.Second)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || time.Since(start) > 2*time.Second {
			t.Fatalf("the third: %d after %s", resp.StatusCode, time.Since(start))
		}
	})
	t.Run("a client that gives up frees its slot", func(t *testing.T) {
		p := startProxy(t, Options{Settings: Settings{MaxHeldRequests: 1}})
		p.SetTarget(ColorBlue, rec.addr())
		p.Pause(time.Minute)
		cl := openClient(t, p, getReq("/gone"))
		waitHeld(t, p, 1)
		cl.c.Close()
		waitHeld(t, p, 0)
		openClient(t, p, getReq("/next"))
		waitHeld(t, p, 1)
		if n := p.Resume(); n != 1 {
			t.Fatalf("resumed %d", n)
		}
	})
	t.Run("pipelined requests behind a held one", func(t *testing.T) {
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, rec.addr())
		p.Pause(time.Minute)
		cl := openClient(t, p, getReq("/p1")+getReq("/p2"))
		waitHeld(t, p, 1)
		p.Resume()
		for _, want := range []string{"GET /p1", "GET /p2"} {
			if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != want {
				t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
			}
		}
	})
}

// checkNoneCount checks that p counted n answers with code for no color.
// An answer is counted once it went out: the count may come a moment
// after the client read it.
func checkNoneCount(t *testing.T, p *Proxy, code int, n uint64) {
	t.Helper()
	count := func() (got uint64) {
		p.Stats().Color(ColorNone).Codes(func(c int, k uint64) {
			if c == code {
				got = k
			}
		})
		return got
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := count(); got != n {
		t.Errorf("%d answers %d with color none, want %d", got, code, n)
	}
}

// TestProxy_pauseInFlight: a request in flight when the pause begins
// finishes normally.
func TestProxy_pauseInFlight(t *testing.T) {
	release := make(chan struct{})
	_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	p := startProxy(t, Options{})
	p.SetTarget(ColorBlue, up)
	cl := openClient(t, p, getReq("/slow"))
	waitFor(t, 5*time.Second, "the request in flight", func() bool { return p.Connections()[ColorBlue].HTTP == 1 })
	time.Sleep(20 * time.Millisecond)
	p.Pause(time.Minute)
	close(release)
	if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "done" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if p.Held() != 0 {
		t.Fatalf("held %d", p.Held())
	}
}

// TestProxy_maintenance: new requests and held ones get the maintenance
// answer, HTML or JSON by Accept, with Retry-After; the connection goes
// on; nothing reaches the container.
func TestProxy_maintenance(t *testing.T) {
	rec := newRecorder(t, nil)
	p := startProxy(t, Options{})
	p.SetTarget(ColorBlue, rec.addr())
	p.Pause(time.Minute)
	held := openClient(t, p, "GET /held HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n")
	waitHeld(t, p, 1)
	if n := p.Maintenance(MaintenancePage{Message: "Back <soon>", RetryAfter: 2 * time.Minute}); n != 1 {
		t.Fatalf("Maintenance answered %d held, want 1", n)
	}
	resp, body := held.answer(t, "GET", 5*time.Second)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "120" || !strings.Contains(body, "Back &lt;soon&gt;") {
		t.Fatalf("held: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	cl := openClient(t, p, postLength("/json", smuggledEcho))
	resp, body = cl.answer(t, "POST", 5*time.Second)
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 503 || e.Error.Code != "maintenance" || e.Error.Message != "Back <soon>" {
		t.Fatalf("json: %d %q %v", resp.StatusCode, body, err)
	}
	cl.send(t, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n") // the body before it was no request
	if resp, body := cl.answer(t, "HEAD", 5*time.Second); resp.StatusCode != 503 || body != "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
	if tr := p.Traffic(); tr.Mode != ModeMaintenance || tr.Message != "Back <soon>" || tr.Held != 0 {
		t.Fatalf("traffic %+v", tr)
	}
	p.Resume()
	cl.send(t, getReq("/open"))
	if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /open" {
		t.Fatalf("after the resume: %d %q", resp.StatusCode, body)
	}
	if got := pathsSeen(rec); !slices.Equal(got, []string{"/open"}) {
		t.Fatalf("the container saw %q", got)
	}
	checkNoneCount(t, p, 503, 3)
}

// TestProxy_stopWithHeld: a stop ends held requests as requests in flight:
// at the drain's bound they get the answer of a hold that expired, and
// Stop closes what is left.
func TestProxy_stopWithHeld(t *testing.T) {
	rec := newRecorder(t, nil)
	t.Run("Shutdown", func(t *testing.T) {
		p := New(Options{App: "web", ListenAddress: "127.0.0.1"})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		p.SetTarget(ColorBlue, rec.addr())
		p.Pause(time.Minute)
		cl := openClient(t, p, getReq("/held"))
		waitHeld(t, p, 1)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- p.Shutdown(context.Background(), 300*time.Millisecond, 300*time.Millisecond) }()
		resp, _ := cl.answer(t, "GET", 5*time.Second)
		if d := time.Since(start); resp.StatusCode != 503 || !resp.Close || d < 300*time.Millisecond {
			t.Fatalf("%d close %v after %s", resp.StatusCode, resp.Close, d)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Stop", func(t *testing.T) {
		p := New(Options{App: "web", ListenAddress: "127.0.0.1"})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		p.SetTarget(ColorBlue, rec.addr())
		p.Pause(time.Minute)
		cl := openClient(t, p, getReq("/held"))
		waitHeld(t, p, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		p.Stop(ctx)
		if !cl.closed(5*time.Second) || p.Held() != 0 {
			t.Fatalf("the held request's connection is open after Stop; held %d", p.Held())
		}
	})
}
