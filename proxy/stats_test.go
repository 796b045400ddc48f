package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// codesOf returns the answers counted for color, by status code.
func codesOf(s *Stats, color string) map[int]uint64 {
	m := map[int]uint64{}
	s.Color(color).Codes(func(code int, n uint64) { m[code] = n })
	return m
}

// waitCodes waits until the answers counted for color are want. An answer
// is counted once its last byte is written, which may be just after the
// client read it.
func waitCodes(t *testing.T, s *Stats, color string, want map[int]uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := codesOf(s, color)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			if n := s.Color(color).Durations().Count(); n != total(want) {
				t.Fatalf("%s: %d durations for %d answers", color, n, total(want))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: answers counted %v, want %v", color, got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func total(m map[int]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func TestProxy_stats(t *testing.T) {
	quiet := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/slow":
			time.Sleep(30 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	})

	t.Run("answers by color and code", func(t *testing.T) {
		_, blue := upstream(t, quiet)
		_, green := upstream(t, quiet)
		p := startProxy(t, Options{})
		c := newClient(t)
		for range 5 {
			get(t, c, mustRequest(t, "GET", proxyURL(p)+"/"))
		}
		if resp, _ := get(t, c, mustRequest(t, "GET", proxyURL(p)+"/")); resp.StatusCode != 503 {
			t.Fatalf("no active color: status %d", resp.StatusCode)
		}
		waitCodes(t, p.Stats(), ColorNone, map[int]uint64{503: 6})

		p.SetTarget(ColorBlue, blue)
		for range 7 {
			get(t, c, mustRequest(t, "GET", proxyURL(p)+"/"))
		}
		get(t, c, mustRequest(t, "GET", proxyURL(p)+"/teapot"))
		waitCodes(t, p.Stats(), ColorBlue, map[int]uint64{200: 7, 418: 1})

		// A switch keeps what blue counted; green counts from there.
		p.SetTarget(ColorGreen, green)
		for range 3 {
			get(t, c, mustRequest(t, "GET", proxyURL(p)+"/"))
		}
		waitCodes(t, p.Stats(), ColorGreen, map[int]uint64{200: 3})
		p.SetTarget(ColorBlue, blue)
		get(t, c, mustRequest(t, "GET", proxyURL(p)+"/"))
		waitCodes(t, p.Stats(), ColorBlue, map[int]uint64{200: 8, 418: 1})
		waitCodes(t, p.Stats(), ColorNone, map[int]uint64{503: 6})
	})

	t.Run("502 counts as the color routed to", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		p := startProxy(t, Options{})
		p.SetTarget(ColorGreen, dead)
		if resp, _ := get(t, newClient(t), mustRequest(t, "GET", proxyURL(p)+"/")); resp.StatusCode != 502 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		waitCodes(t, p.Stats(), ColorGreen, map[int]uint64{502: 1})
	})

	t.Run("refused before routing counts as none", func(t *testing.T) {
		_, blue := upstream(t, quiet)
		p := startProxyTimeouts(t, Options{}, timeouts{head: 200 * time.Millisecond})
		p.SetTarget(ColorBlue, blue)
		for _, tc := range []struct {
			req  string
			want int
		}{
			{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
			{"GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417},
			{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", 70<<10) + "\r\n\r\n", 431},
			{"GET / HTTP/1.1\r\nHost: a\r\n", 408}, // the head never ends
			{"", 408},                              // nothing at all
		} {
			got, _ := parseAnswers(sendOpen(t, p, tc.req), nil)
			if len(got) != 1 || got[0].Status != tc.want {
				t.Fatalf("%.40q: answers %v, want one %d", tc.req, statuses(got), tc.want)
			}
		}
		waitCodes(t, p.Stats(), ColorNone, map[int]uint64{400: 1, 408: 2, 417: 1, 431: 1})
		waitCodes(t, p.Stats(), ColorBlue, map[int]uint64{})
	})

	t.Run("a WebSocket counts its 101 once", func(t *testing.T) {
		_, blue := upstream(t, wsEcho(t, "blue"))
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, blue)
		ws := dialWS(t, p)
		if got := echo(t, ws, "hi"); got != "blue: hi" {
			t.Fatalf("echo %q", got)
		}
		waitCodes(t, p.Stats(), ColorBlue, map[int]uint64{101: 1})
		ws.CloseNow()
	})

	t.Run("durations", func(t *testing.T) {
		_, blue := upstream(t, quiet)
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, blue)
		get(t, newClient(t), mustRequest(t, "GET", proxyURL(p)+"/slow"))
		waitCodes(t, p.Stats(), ColorBlue, map[int]uint64{200: 1})
		s := p.Stats().Color(ColorBlue).Durations().Snapshot()
		if s.Sum < 0.030 || s.Buckets[0.025] != 0 || s.Count != 1 {
			t.Fatalf("a request of at least 30 ms: %+v", s)
		}
	})

	t.Run("shared by the proxies of one app", func(t *testing.T) {
		_, blue := upstream(t, quiet)
		stats := NewStats()
		for range 2 { // as after a reload that changed the port
			p := startProxy(t, Options{Stats: stats})
			p.SetTarget(ColorBlue, blue)
			get(t, newClient(t), mustRequest(t, "GET", proxyURL(p)+"/"))
		}
		waitCodes(t, stats, ColorBlue, map[int]uint64{200: 2})
	})
}

func TestColorStats_Observe(t *testing.T) {
	s := NewStats()
	c := s.Color(ColorBlue)
	for _, code := range []int{99, 100, 200, 200, 599, 999, 1000, -1} {
		c.Observe(code, time.Millisecond)
	}
	if got := fmt.Sprint(codesOf(s, ColorBlue)); got != "map[100:1 200:2 599:1 999:1]" {
		t.Fatalf("codes %s", got)
	}
	if n := c.Durations().Count(); n != 5 {
		t.Fatalf("%d durations", n)
	}
	if s.Color("") != s.Color(ColorNone) || s.Color("purple") != s.Color(ColorNone) {
		t.Fatal("an unknown color is not none")
	}
	if n := testing.AllocsPerRun(1000, func() { c.Observe(200, 3*time.Millisecond) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
}

// sendOpen sends data on a new client connection, keeps it open, and
// returns what the proxy sent until it closed the connection.
func sendOpen(t *testing.T, p *Proxy, data string) string {
	t.Helper()
	c := dialProxy(t, p)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, data) // the proxy may close before all of a large head is sent
	got, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read the answer: %v (got %q)", err, got)
	}
	return string(got)
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
