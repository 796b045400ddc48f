package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// newRecorderAt starts a recording upstream on addr (a port that refused
// connections until now: the container came back).
func newRecorderAt(t *testing.T, addr string, answer func(*upReq) (string, bool)) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if answer == nil {
		answer = answerEcho
	}
	rec := &recorder{ln: ln, answer: answer}
	rec.wg.Add(1)
	go rec.accept()
	t.Cleanup(rec.close)
	return rec
}

// checkCount checks that p counted n answers with code for color, waiting
// a moment for the last (an answer is counted once it went out).
func checkCount(t *testing.T, p *Proxy, color string, code int, n uint64) {
	t.Helper()
	count := func() (got uint64) {
		p.Stats().Color(color).Codes(func(c int, k uint64) {
			if c == code {
				got = k
			}
		})
		return got
	}
	for deadline := time.Now().Add(5 * time.Second); count() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := count(); got != n {
		t.Errorf("%d answers %d for %s, want %d", got, code, color, n)
	}
}

// TestProxy_outageHold: a request of which nothing reached the container
// waits while the container refuses connections or is said to be down,
// and goes once it passed a health check (or the route moved); past
// outage_hold it gets 502; a request already sent is never sent again.
func TestProxy_outageHold(t *testing.T) {
	hold := Options{Settings: Settings{OutageHold: 10 * time.Second}}
	t.Run("refused, then healthy", func(t *testing.T) {
		addr := refusedAddr(t)
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, addr)
		get := openClient(t, p, getReq("/x"))
		waitHeld(t, p, 1)
		post := openClient(t, p, postLength("/post", "payload"))
		waitHeld(t, p, 2)
		rec := newRecorderAt(t, addr, nil) // Docker started it again; no health check passed yet
		time.Sleep(50 * time.Millisecond)
		if n := rec.bytes.Load(); n != 0 || p.Held() != 2 {
			t.Fatalf("sent before a health check passed: %d bytes, held %d", n, p.Held())
		}
		p.ContainerHealthy(ColorBlue, time.Now())
		if resp, body := get.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /x" {
			t.Errorf("GET: %d %q", resp.StatusCode, body)
		}
		if resp, body := post.answer(t, "POST", 5*time.Second); resp.StatusCode != 200 || body != "POST /post" {
			t.Errorf("POST: %d %q", resp.StatusCode, body)
		}
		up := rec.requests()
		if len(up) != 2 || up[1].Body != "payload" && up[0].Body != "payload" {
			t.Errorf("the container saw %v", up)
		}
	})
	t.Run("said to be down", func(t *testing.T) {
		rec := newRecorder(t, nil) // Docker's port proxy accepts: that proves nothing
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, rec.addr())
		p.ContainerDown(ColorBlue)
		cl := openClient(t, p, getReq("/down"))
		waitHeld(t, p, 1)
		if n := rec.bytes.Load(); n != 0 {
			t.Fatalf("%d bytes sent to a container said to be down", n)
		}
		p.ContainerHealthy(ColorBlue, time.Now())
		if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /down" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("a switch sends them to the new route", func(t *testing.T) {
		rec := newRecorder(t, nil)
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, refusedAddr(t))
		cl := openClient(t, p, getReq("/moved"))
		waitHeld(t, p, 1)
		p.SetTarget(ColorGreen, rec.addr())
		if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /moved" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("past outage_hold: 502", func(t *testing.T) {
		p := startProxy(t, Options{Settings: Settings{OutageHold: 300 * time.Millisecond}})
		p.SetTarget(ColorBlue, refusedAddr(t))
		start := time.Now()
		cl := openClient(t, p, postLength("/late", smuggledEcho))
		resp, _ := cl.answer(t, "POST", 5*time.Second)
		if d := time.Since(start); resp.StatusCode != 502 || d < 300*time.Millisecond {
			t.Fatalf("%d after %s", resp.StatusCode, d)
		}
		cl.send(t, getReq("/next")) // the body was read and thrown away: the connection goes on
		if resp, _ := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 502 {
			t.Fatalf("next: %d", resp.StatusCode)
		}
		checkCount(t, p, ColorBlue, 502, 2)
	})
	t.Run("off: 502 at once", func(t *testing.T) {
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, refusedAddr(t))
		start := time.Now()
		if resp, _ := openClient(t, p, getReq("/x")).answer(t, "GET", 5*time.Second); resp.StatusCode != 502 || time.Since(start) > 2*time.Second {
			t.Fatalf("%d after %s", resp.StatusCode, time.Since(start))
		}
	})
	t.Run("a POST whose body was sent is never sent again", func(t *testing.T) {
		rec := newRecorder(t, answerBy(map[string]string{"/once": closeMark})) // reads it whole, closes without an answer
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, rec.addr())
		if resp, _ := openClient(t, p, postLength("/once", "body")).answer(t, "POST", 5*time.Second); resp.StatusCode != 502 {
			t.Fatalf("%d", resp.StatusCode)
		}
		p.ContainerHealthy(ColorBlue, time.Now())
		time.Sleep(50 * time.Millisecond)
		if got := pathsSeen(rec); !slices.Equal(got, []string{"/once"}) || p.Held() != 0 {
			t.Fatalf("the container saw %q, held %d", got, p.Held())
		}
	})
}

// TestProxy_outageHoldLost: with the outage hold on, a GET, HEAD or
// OPTIONS without a body whose connection to the container is lost before
// a byte of its answer came (the container died under it) waits for a
// health check that began after the loss and passed, and is sent once
// more; lost again, it gets 502. Other requests get 502 at once: a request
// that may have done something is never sent twice (docs/proxy.md,
// "Retries").
func TestProxy_outageHoldLost(t *testing.T) {
	hold := Options{Settings: Settings{OutageHold: 10 * time.Second}}
	t.Run("sent again after a passed check, pipelined request behind it", func(t *testing.T) {
		rec := newRecorder(t, onceThenEcho("/lost", closeMark)) // reads it, closes without an answer
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, rec.addr())
		before := time.Now()
		cl := openClient(t, p, getReq("/lost")+getReq("/next"))
		waitHeld(t, p, 1)
		p.ContainerHealthy(ColorBlue, before) // began before the loss: it says nothing of the container now
		time.Sleep(50 * time.Millisecond)
		if got := pathsSeen(rec); !slices.Equal(got, []string{"/lost"}) || p.Held() != 1 {
			t.Fatalf("released by a check from before the loss: the container saw %q, held %d", got, p.Held())
		}
		p.ContainerHealthy(ColorBlue, time.Now())
		for _, path := range []string{"/lost", "/next"} {
			if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET "+path {
				t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
			}
		}
		if got := pathsSeen(rec); !slices.Equal(got, []string{"/lost", "/lost", "/next"}) {
			t.Fatalf("the container saw %q", got)
		}
		checkCount(t, p, ColorBlue, 200, 2)
	})
	t.Run("HEAD sent again", func(t *testing.T) {
		rec := newRecorder(t, onceThenEcho("/lost", closeMark))
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, rec.addr())
		cl := openClient(t, p, "HEAD /lost HTTP/1.1\r\nHost: x\r\n\r\n")
		waitHeld(t, p, 1)
		p.ContainerHealthy(ColorBlue, time.Now())
		if resp, _ := cl.answer(t, "HEAD", 5*time.Second); resp.StatusCode != 200 {
			t.Fatalf("%d", resp.StatusCode)
		}
		if got := pathsSeen(rec); !slices.Equal(got, []string{"/lost", "/lost"}) {
			t.Fatalf("the container saw %q", got)
		}
	})
	t.Run("lost twice: 502, never a third time", func(t *testing.T) {
		rec := newRecorder(t, answerBy(map[string]string{"/lost": closeMark}))
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, rec.addr())
		cl := openClient(t, p, getReq("/lost"))
		waitHeld(t, p, 1)
		p.ContainerHealthy(ColorBlue, time.Now())
		if resp, _ := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 502 {
			t.Fatalf("%d", resp.StatusCode)
		}
		p.ContainerHealthy(ColorBlue, time.Now())
		time.Sleep(50 * time.Millisecond)
		if got := pathsSeen(rec); !slices.Equal(got, []string{"/lost", "/lost"}) || p.Held() != 0 {
			t.Fatalf("the container saw %q, held %d", got, p.Held())
		}
	})
	t.Run("at most three sends: at once on a reused connection, then after the hold", func(t *testing.T) {
		rec := newRecorder(t, answerBy(map[string]string{"/lost": closeMark}))
		p := startProxy(t, hold)
		p.SetTarget(ColorBlue, rec.addr())
		cl := openClient(t, p, getReq("/warm"))
		cl.answer(t, "GET", 5*time.Second)
		cl.send(t, getReq("/lost")) // on the pooled connection, then at once on a new one
		waitHeld(t, p, 1)
		openClient(t, p, getReq("/warm")).answer(t, "GET", 5*time.Second) // a pooled connection for the third
		p.ContainerHealthy(ColorBlue, time.Now())
		if resp, _ := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 502 {
			t.Fatalf("%d", resp.StatusCode)
		}
		if got := pathsSeen(rec); !slices.Equal(got, []string{"/warm", "/lost", "/lost", "/warm", "/lost"}) {
			t.Fatalf("the container saw %q", got)
		}
	})
	for _, req := range []string{
		"DELETE /lost HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /lost HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		postLength("/lost", "body"),
		"GET /lost HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
	} {
		method, _, _ := strings.Cut(req, " ")
		t.Run(method+" never held: 502 at once", func(t *testing.T) {
			rec := newRecorder(t, answerBy(map[string]string{"/lost": closeMark}))
			p := startProxy(t, hold)
			p.SetTarget(ColorBlue, rec.addr())
			if resp, _ := openClient(t, p, req).answer(t, method, 5*time.Second); resp.StatusCode != 502 {
				t.Fatalf("%d", resp.StatusCode)
			}
			if got := pathsSeen(rec); len(got) != 1 || p.Held() != 0 {
				t.Fatalf("the container saw %q, held %d", got, p.Held())
			}
		})
	}
	t.Run("every pooled connection found closed: held as nothing went out", func(t *testing.T) {
		var arrived sync.WaitGroup
		arrived.Add(4)
		rec := newRecorder(t, func(r *upReq) (string, bool) {
			arrived.Done()
			arrived.Wait() // four requests at once: four pooled connections
			return answerEcho(r)
		})
		p := startProxy(t, hold)
		addr := rec.addr()
		p.SetTarget(ColorBlue, addr)
		var warm sync.WaitGroup
		for range 4 {
			cl := openClient(t, p, getReq("/warm"))
			warm.Add(1)
			go func() {
				defer warm.Done()
				cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				http.ReadResponse(cl.br, nil)
			}()
		}
		warm.Wait()
		rec.close()                        // the container died: its connections closed, its port refuses
		time.Sleep(100 * time.Millisecond) // their FINs came
		cl := openClient(t, p, getReq("/x"))
		waitHeld(t, p, 1)
		newRecorderAt(t, addr, nil)
		p.ContainerHealthy(ColorBlue, time.Now())
		if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /x" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("off: 502 at once", func(t *testing.T) {
		rec := newRecorder(t, answerBy(map[string]string{"/lost": closeMark}))
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, rec.addr())
		if resp, _ := openClient(t, p, getReq("/lost")).answer(t, "GET", 5*time.Second); resp.StatusCode != 502 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
}

// TestProxy_responseTimeout: no answer's head within response_timeout
// gets 504 and the upstream connection is closed; an answer's body and a
// WebSocket are not bounded.
func TestProxy_responseTimeout(t *testing.T) {
	const tmo = 300 * time.Millisecond
	o := Options{Settings: Settings{ResponseTimeout: tmo}}
	t.Run("a hung container", func(t *testing.T) {
		rec := newRecorder(t, answerBy(map[string]string{"/hang": ""})) // reads the request, never answers
		p := startProxy(t, o)
		p.SetTarget(ColorBlue, rec.addr())
		start := time.Now()
		cl := openClient(t, p, postLength("/hang", "body"))
		resp, body := cl.answer(t, "POST", 5*time.Second)
		if d := time.Since(start); resp.StatusCode != 504 || d < tmo || d > tmo+2*time.Second {
			t.Fatalf("%d %q after %s", resp.StatusCode, body, d)
		}
		cl.send(t, getReq("/next"))
		if resp, body := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "GET /next" {
			t.Fatalf("next: %d %q", resp.StatusCode, body)
		}
		if up := rec.requests(); len(up) != 2 || up[0].Conn == up[1].Conn {
			t.Fatalf("the timed out upstream connection was used again: %v", up)
		}
		checkCount(t, p, ColorBlue, 504, 1)
	})
	t.Run("a slow body is not bounded", func(t *testing.T) {
		_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "6")
			io.WriteString(w, "abc")
			w.(http.Flusher).Flush()
			time.Sleep(2 * tmo)
			io.WriteString(w, "def")
		}))
		p := startProxy(t, o)
		p.SetTarget(ColorBlue, up)
		if resp, body := openClient(t, p, getReq("/slow")).answer(t, "GET", 5*time.Second); resp.StatusCode != 200 || body != "abcdef" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("a WebSocket is not bounded", func(t *testing.T) {
		up := quietWSUpstream(t, 2*tmo)
		p := startProxy(t, o)
		p.SetTarget(ColorBlue, up)
		cl := openClient(t, p, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		if resp, _ := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 101 {
			t.Fatalf("%d", resp.StatusCode)
		}
		frame := make([]byte, 4)
		cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(cl.br, frame); err != nil || string(frame) != "\x81\x02hi" {
			t.Fatalf("frame %q: %v", frame, err)
		}
	})
}

// quietWSUpstream answers a WebSocket handshake with 101, then sends one
// frame after quiet.
func quietWSUpstream(t *testing.T, quiet time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
				time.Sleep(quiet)
				io.WriteString(c, "\x81\x02hi")
				time.Sleep(time.Second)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestProxy_maxRequestBody: a body at the limit goes; one over it gets
// 413 with nothing sent (Content-Length) or is cut (chunked).
func TestProxy_maxRequestBody(t *testing.T) {
	rec := newRecorder(t, nil)
	p := startProxy(t, Options{Settings: Settings{MaxRequestBody: 10}})
	p.SetTarget(ColorBlue, rec.addr())
	if resp, _ := openClient(t, p, postLength("/ten", "0123456789")).answer(t, "POST", 5*time.Second); resp.StatusCode != 200 {
		t.Fatalf("a body at the limit: %d", resp.StatusCode)
	}
	if resp, _ := openClient(t, p, postChunked("/ten", "0123456789")).answer(t, "POST", 5*time.Second); resp.StatusCode != 200 {
		t.Fatalf("a chunked body at the limit: %d", resp.StatusCode)
	}
	resp, body := openClient(t, p, postLength("/eleven", "0123456789A")).answer(t, "POST", 5*time.Second)
	if resp.StatusCode != 413 || !resp.Close || !strings.Contains(body, "at most 10") {
		t.Fatalf("%d close %v %q", resp.StatusCode, resp.Close, body)
	}
	if got := pathsSeen(rec); !slices.Equal(got, []string{"/ten", "/ten"}) {
		t.Fatalf("the container saw %q", got)
	}
}
