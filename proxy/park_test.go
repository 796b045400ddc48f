package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// parkTimeouts make connections park after 20 ms; the other timeouts are
// far enough not to matter unless a test waits for them.
var parkTimeouts = timeouts{head: 2 * time.Second, idle: 5 * time.Second, body: 2 * time.Second, park: 20 * time.Millisecond}

// parked returns how many of p's connections are parked.
func parked(p *Proxy) int {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	n := 0
	for cc := range p.conns {
		if s := cc.state.Load(); s == connParked || s == connParkedNew {
			n++
		}
	}
	return n
}

func waitParked(t *testing.T, p *Proxy, n int) {
	t.Helper()
	if !canParkHere() {
		t.Skip("connections do not park on this system")
	}
	waitFor(t, 5*time.Second, "parked connections", func() bool { return parked(p) == n })
}

// readOK reads one answer from br and checks it is the upstream's 200 "ok".
func readOK(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("answer %d %q, want 200 \"ok\"", resp.StatusCode, b)
	}
}

func TestProxy_park(t *testing.T) {
	t.Run("woken by its next request", func(t *testing.T) {
		p := startProxyTimeouts(t, Options{}, parkTimeouts)
		p.SetTarget("blue", rawUpstream(t))
		c := dialProxy(t, p)
		br := bufio.NewReader(c)
		for range 3 {
			io.WriteString(c, getReq("/"))
			readOK(t, c, br)
			waitParked(t, p, 1)
		}
	})
	t.Run("pipelined requests arriving while parked", func(t *testing.T) {
		p := startProxyTimeouts(t, Options{}, parkTimeouts)
		p.SetTarget("blue", rawUpstream(t))
		c := dialProxy(t, p)
		br := bufio.NewReader(c)
		io.WriteString(c, getReq("/"))
		readOK(t, c, br)
		waitParked(t, p, 1)
		io.WriteString(c, strings.Repeat(getReq("/p"), 20))
		for range 20 {
			readOK(t, c, br)
		}
	})
	t.Run("a head sent a byte at a time after parking", func(t *testing.T) {
		p := startProxyTimeouts(t, Options{}, parkTimeouts)
		p.SetTarget("blue", rawUpstream(t))
		c := dialProxy(t, p)
		br := bufio.NewReader(c)
		waitParked(t, p, 1) // parked before its first request
		req := getReq("/slow")
		for i := range len(req) {
			if _, err := io.WriteString(c, req[i:i+1]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		readOK(t, c, br)
	})
	t.Run("Stop closes parked connections", func(t *testing.T) {
		p := startProxyTimeouts(t, Options{}, parkTimeouts)
		p.SetTarget("blue", rawUpstream(t))
		var conns []net.Conn
		for range 5 {
			c := dialProxy(t, p)
			io.WriteString(c, getReq("/"))
			readOK(t, c, bufio.NewReader(c))
			conns = append(conns, c)
		}
		conns = append(conns, dialProxy(t, p)) // parked before its first request
		waitParked(t, p, 6)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		for i, c := range conns {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(c)
			if err != nil && !isReset(err) {
				t.Fatalf("connection %d: %v", i, err)
			}
			if i < 5 && len(rest) > 0 {
				t.Errorf("idle connection %d got %q at stop, want nothing", i, rest)
			}
		}
		if n := p.openConns(); n != 0 {
			t.Errorf("%d connections open after Stop", n)
		}
	})
	t.Run("a drain leaves parked connections to the new color", func(t *testing.T) {
		p := startProxyTimeouts(t, Options{}, parkTimeouts)
		p.SetTarget("blue", rawUpstream(t))
		c := dialProxy(t, p)
		br := bufio.NewReader(c)
		io.WriteString(c, getReq("/"))
		readOK(t, c, br)
		waitParked(t, p, 1)
		p.SetTarget("green", rawUpstream(t))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if r := p.Drain(ctx, "blue", time.Second, time.Second); r.HTTPCut != 0 {
			t.Errorf("drain cut %d requests, want 0", r.HTTPCut)
		}
		if got := p.Connections(); got["green"].HTTP != 1 {
			t.Errorf("Connections() = %v, want the parked connection on green", got)
		}
		io.WriteString(c, getReq("/after"))
		readOK(t, c, br)
	})
}
