package probe

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
)

// rawUpstream is a TCP server on 127.0.0.1 whose answer to each request is
// written by serve, byte by byte as the test wants; it counts the
// connections it accepted.
type rawUpstream struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

// newRawUpstream serves every connection with serve(conn, request number
// on that connection, reader); serve returns false to close the connection.
func newRawUpstream(t *testing.T, serve func(c net.Conn, n int, br *bufio.Reader) bool) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					req.Body.Close()
					if !serve(c, n, br) {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); u.wg.Wait() })
	return u
}

func (u *rawUpstream) port() int { return u.ln.Addr().(*net.TCPAddr).Port }

func testProber(t *testing.T, port int, timeout time.Duration) *Prober {
	t.Helper()
	p := New(port, config.HealthCheck{Path: "/health", Method: http.MethodGet, Timeout: timeout,
		Interval: time.Second, ExpectedStatus: []int{200}})
	t.Cleanup(p.Close)
	return p
}

// okAnswer is a whole, framed answer that passes.
const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// checkTests are containers' ways of answering, and what three checks of
// each make of them.
var checkTests = []struct {
	name    string
	serve   func(c net.Conn, n int, br *bufio.Reader) bool
	success bool
	errText string // part of the error, when !success
	conns   int    // connections three checks take
}{
	{name: "keep-alive", success: true, conns: 1,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool { io.WriteString(c, okAnswer); return true }},
	{name: "chunked body kept", success: true, conns: 1,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
			return true
		}},
	{name: "chunked body with a trailer kept", success: true, conns: 1,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=1\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n")
			return true
		}},
	{name: "HTTP/1.0 keep-alive kept", success: true, conns: 1,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
			return true
		}},
	{name: "HTTP/1.0 closes", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		}},
	{name: "bare LF answer passes", success: true, conns: 1,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
			return true
		}},
	{name: "connection close", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			return false
		}},
	{name: "closed after each answer, unannounced", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool { io.WriteString(c, okAnswer); return false }},
	{name: "closed on the second request before answering: retried once", success: true, conns: 3,
		serve: func(c net.Conn, n int, _ *bufio.Reader) bool {
			if n == 1 {
				return false
			}
			io.WriteString(c, okAnswer)
			return true
		}},
	{name: "body without a length is not read, connection not kept", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nstreaming on and on")
			return true // and never closes
		}},
	{name: "stray bytes after the answer", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, okAnswer+"HTTP/1.1 200 OK\r\n")
			return true
		}},
	{name: "huge body not read", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
			c.Write(make([]byte, 256<<10))
			return true
		}},
	{name: "endless chunked body", success: true, conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := "1000\r\n" + strings.Repeat("x", 0x1000) + "\r\n"
			for range 64 {
				if _, err := io.WriteString(c, chunk); err != nil {
					return false
				}
			}
			return true
		}},
	{name: "huge head", success: false, errText: "answer head larger than 64 KiB", conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for range 2000 {
				if _, err := io.WriteString(c, "X-Pad: "+strings.Repeat("p", 100)+"\r\n"); err != nil {
					return false
				}
			}
			return true
		}},
	{name: "slow bytes", success: false, errText: "no answer within 100ms", conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			for _, b := range []byte("HTTP/1.1 200 OK\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return false
				}
				time.Sleep(20 * time.Millisecond)
			}
			return true
		}},
	{name: "garbage", success: false, errText: "malformed HTTP", conns: 3,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "SSH-2.0-OpenSSH\r\n"+strings.Repeat("\x00\xff", 2000)+"\r\n\r\n")
			return true
		}},
	{name: "bad status", success: false, errText: "status 503", conns: 1,
		serve: func(c net.Conn, _ int, _ *bufio.Reader) bool {
			io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
			return true
		}},
}

func TestProber_Check(t *testing.T) {
	for _, tt := range checkTests {
		t.Run(tt.name, func(t *testing.T) {
			u := newRawUpstream(t, tt.serve)
			p := testProber(t, u.port(), 100*time.Millisecond)
			for i := range 3 {
				c := p.Check(context.Background())
				if c.Success != tt.success || (!tt.success && !strings.Contains(c.Error, tt.errText)) {
					t.Fatalf("check %d: %+v; want success %v, error with %q", i, c, tt.success, tt.errText)
				}
				if len(c.Error) > maxError+3 {
					t.Errorf("check %d: error of %d bytes", i, len(c.Error))
				}
			}
			if got := u.accepted.Load(); got != int64(tt.conns) {
				t.Errorf("three checks took %d connections, want %d", got, tt.conns)
			}
		})
	}
}

// A POST is not sent again when the kept connection fails under it: the
// check fails, and the next one dials anew.
func TestProber_Check_noResend(t *testing.T) {
	u := newRawUpstream(t, func(c net.Conn, n int, _ *bufio.Reader) bool {
		if n == 1 {
			return false // closed on the second request before answering
		}
		io.WriteString(c, okAnswer)
		return true
	})
	p := New(u.port(), config.HealthCheck{Path: "/health", Method: http.MethodPost, Timeout: time.Second,
		Interval: time.Second, ExpectedStatus: []int{200}})
	t.Cleanup(p.Close)
	var got []bool
	for range 3 {
		got = append(got, p.Check(context.Background()).Success)
	}
	if !slices.Equal(got, []bool{true, false, true}) {
		t.Fatalf("checks passed: %v, want [true false true]", got)
	}
	if n := u.accepted.Load(); n != 2 {
		t.Errorf("three checks took %d connections, want 2", n)
	}
}

func TestProber_Close(t *testing.T) {
	u := newRawUpstream(t, func(c net.Conn, _ int, _ *bufio.Reader) bool {
		time.Sleep(time.Second) // hang past the close
		return false
	})
	p := testProber(t, u.port(), 5*time.Second)
	done := make(chan string, 1)
	go func() { done <- p.Check(context.Background()).Error }()
	deadline := time.Now().Add(5 * time.Second)
	for u.accepted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	p.Close()
	select {
	case e := <-done:
		if e == "" {
			t.Fatal("a check cut by close succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("close did not end the running check")
	}
	if e := p.Check(context.Background()).Error; !strings.Contains(e, "health checks stopped") {
		t.Errorf("check after close: %q", e)
	}
}

// BenchmarkProber_Check is one health check against a local server, over
// the kept connection.
func BenchmarkProber_Check(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	p := New(port, config.HealthCheck{Path: "/health", Method: http.MethodGet, Timeout: time.Second,
		Interval: time.Second, ExpectedStatus: []int{200}})
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		if c := p.Check(context.Background()); !c.Success {
			b.Fatal(c.Error)
		}
	}
}
