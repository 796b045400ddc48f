package proxy

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsEcho is an upstream that answers every message with "<color>: <msg>"
// and, on the message "push", sends two messages of its own.
func wsEcho(t *testing.T, color string) http.Handler {
	t.Helper()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"chat"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := r.Context()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if string(msg) == "push" {
				for i := range 2 {
					if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "%s: pushed %d", color, i)); err != nil {
						return
					}
				}
				continue
			}
			if err := c.Write(ctx, typ, append([]byte(color+": "), msg...)); err != nil {
				return
			}
		}
	})
}

// dialWS opens a WebSocket through p and closes it at cleanup.
func dialWS(t *testing.T, p *Proxy) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+p.Addr().String()+"/ws", &websocket.DialOptions{Subprotocols: []string{"chat"}})
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	return c
}

// echo sends msg and returns the answer.
func echo(t *testing.T, c *websocket.Conn, msg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %d bytes: %v", len(msg), err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read answer to %d bytes: %v", len(msg), err)
	}
	return string(b)
}

func TestProxy_serveUpgrade(t *testing.T) {
	_, blue := upstream(t, wsEcho(t, "blue"))
	p := startProxy(t, Options{})
	p.SetTarget("blue", blue)

	t.Run("echo both ways", func(t *testing.T) {
		c := dialWS(t, p)
		if c.Subprotocol() != "chat" {
			t.Errorf("subprotocol %q, want chat", c.Subprotocol())
		}
		if got := echo(t, c, "hello"); got != "blue: hello" {
			t.Fatalf("echo = %q", got)
		}
		big := strings.Repeat("x", 100<<10) // a 64-bit frame length
		if got := echo(t, c, big); got != "blue: "+big {
			t.Fatalf("big echo: %d bytes", len(got))
		}
		if got := echo(t, c, "push"); got != "blue: pushed 0" {
			t.Fatalf("push = %q", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, b, err := c.Read(ctx); err != nil || string(b) != "blue: pushed 1" {
			t.Fatalf("second push = %q, %v", b, err)
		}
		waitFor(t, 5*time.Second, "one open websocket", func() bool {
			return p.Connections()["blue"] == Connections{HTTP: 0, WebSocket: 1}
		})
		if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
		waitFor(t, 5*time.Second, "no open websocket", func() bool {
			return p.Connections()["blue"] == Connections{}
		})
	})

	t.Run("refused upgrade passes the answer through", func(t *testing.T) {
		_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no websockets here", http.StatusForbidden)
		}))
		q := startProxy(t, Options{})
		q.SetTarget("green", up)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws://"+q.Addr().String()+"/ws", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial: err %v, resp %v; want the upstream's 403", err, resp)
		}
	})
}

func TestFrameScanner_scan(t *testing.T) {
	frame := func(n int, masked bool) []byte {
		var h []byte
		b1 := byte(0)
		if masked {
			b1 = 0x80
		}
		switch {
		case n < 126:
			h = []byte{0x82, b1 | byte(n)}
		case n < 1<<16:
			h = []byte{0x82, b1 | 126, 0, 0}
			binary.BigEndian.PutUint16(h[2:], uint16(n))
		default:
			h = make([]byte, 10)
			h[0], h[1] = 0x82, b1|127
			binary.BigEndian.PutUint64(h[2:], uint64(n))
		}
		if masked {
			h = append(h, 1, 2, 3, 4)
		}
		return append(h, make([]byte, n)...)
	}
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"empty frame", [][]byte{frame(0, false)}},
		{"small", [][]byte{frame(5, false), frame(125, false)}},
		{"16-bit length", [][]byte{frame(126, false), frame(65535, false)}},
		{"64-bit length", [][]byte{frame(70000, false)}},
		{"masked", [][]byte{frame(10, true), frame(300, true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stream []byte
			var bounds []int
			for _, f := range tt.frames {
				stream = append(stream, f...)
				bounds = append(bounds, len(stream))
			}
			// Byte by byte, the scanner is at a boundary exactly at frame ends.
			var fs frameScanner
			at := map[int]bool{0: true}
			for _, b := range bounds {
				at[b] = true
			}
			for i := range stream {
				fs.scan(stream[i:i+1], false)
				if got := fs.atBoundary(); got != at[i+1] {
					t.Fatalf("after %d bytes atBoundary = %v, want %v", i+1, got, at[i+1])
				}
			}
			// With stop, a chunk is consumed up to the first boundary.
			var fs2 frameScanner
			if n := fs2.scan(stream, true); n != 0 {
				t.Fatalf("stop at start consumed %d", n)
			}
			fs2.scan(stream[:1], false)
			if n := fs2.scan(stream[1:], true); 1+n != bounds[0] {
				t.Fatalf("stop consumed up to %d, want %d", 1+n, bounds[0])
			}
		})
	}
}

func TestCloseGoingAway(t *testing.T) {
	var fs frameScanner
	fs.scan(closeGoingAway, false)
	if !fs.atBoundary() || closeGoingAway[0] != 0x88 || binary.BigEndian.Uint16(closeGoingAway[2:4]) != 1001 {
		t.Fatalf("bad close frame % x", closeGoingAway)
	}
}
