package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// idleMemory opens n client connections to a proxy, sends one request
// with a head of about headSize bytes (many short fields) on each, reads
// the answer, leaves the connections idle and returns the live heap plus
// goroutine stacks they hold, per connection. The requests run one after
// another, so the proxy keeps a single upstream connection throughout.
func idleMemory(tb testing.TB, n, headSize int) (perConn float64) {
	up := rawUpstream(tb)
	p := New(Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	defer p.Stop(context.Background())
	p.SetTarget("blue", up)
	small := bigHead(0)
	big := bigHead(headSize)

	// Warm up: the upstream connection, the pools, the goroutines' stacks.
	for range 3 {
		c := dialProxy(tb, p)
		exchange(tb, c, small)
		c.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); p.openConns() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal("warm-up connections not closed")
		}
	}
	before := liveBytes()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialProxy(tb, p)
		exchange(tb, conns[i], big)
	}
	after := liveBytes()
	for _, c := range conns {
		c.Close()
	}
	return float64(int64(after)-int64(before)) / float64(n)
}

// openConns returns how many client connections the proxy serves.
func (p *Proxy) openConns() int {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return len(p.conns)
}

// liveBytes returns the live heap and stack bytes after a full collection.
func liveBytes() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// bigHead returns a GET request whose head is about size bytes of short
// fields (at least a minimal head).
func bigHead(size int) string {
	var b strings.Builder
	b.WriteString("GET /mem HTTP/1.1\r\nHost: x\r\n")
	for i := 0; b.Len() < size-2; i++ {
		fmt.Fprintf(&b, "X-F%d: v\r\n", i)
	}
	b.WriteString("\r\n")
	return b.String()
}

func dialProxy(tb testing.TB, p *Proxy) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// exchange sends req on c and reads one 200 answer.
func exchange(tb testing.TB, c net.Conn, req string) {
	tb.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("status %d", resp.StatusCode)
	}
	c.SetDeadline(time.Time{})
}

var rawAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

// rawUpstream is a minimal upstream that reads request heads and answers
// each with a 2-byte body, keeping connections open; it holds little
// memory itself, so that the proxy's share can be measured.
func rawUpstream(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 1024)
				for {
					// Read up to the empty line ending the head.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil && err != bufio.ErrBufferFull {
							return
						}
						if string(line) == "\r\n" {
							break
						}
					}
					if _, err := c.Write(rawAnswer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkProxy_idleMemory reports what an idle keep-alive client
// connection holds after it sent a 60 KiB head of short fields (KiB of
// live heap and goroutine stack per connection, over 20 connections).
func BenchmarkProxy_idleMemory(b *testing.B) {
	for _, size := range []int{0, 60 << 10} {
		b.Run(fmt.Sprintf("head=%dKiB", size>>10), func(b *testing.B) {
			var sum float64
			for b.Loop() {
				sum += idleMemory(b, 20, size)
			}
			b.ReportMetric(sum/float64(b.N)/1024, "KiB/idle-conn")
		})
	}
}

// TestProxy_idleMemory is defect 3 of the hardening issue: after a head of
// 60 KiB with thousands of fields, an idle connection kept all of it (and
// its field slice) for its life: 498 KiB each. Now it keeps only its read
// buffer and its goroutine: the bound is loose, the old behaviour far past it.
func TestProxy_idleMemory(t *testing.T) {
	if kib := idleMemory(t, 20, 60<<10) / 1024; kib > 32 {
		t.Fatalf("an idle connection holds %.1f KiB after a 60 KiB head, want at most 32", kib)
	}
}
