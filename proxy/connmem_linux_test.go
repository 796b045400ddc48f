package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProxy_connMemory measures what the proxy holds per open client
// connection, with connMemoryN connections on 127.0.0.1: idle keep-alive
// ones after one request each, and WebSockets after one small frame each
// way. The clients and the WebSocket upstream are raw sockets (no Go
// connection, no goroutine), so that what the process gains is the
// proxy's: KiB/conn is live heap plus goroutine stacks after a full
// collection, RSS-KiB/conn the growth of the resident set. RSS-MiB-left is
// how far the resident set still is above its level before the
// connections, 3 s after they all closed. Run with -benchtime=1x.
func BenchmarkProxy_connMemory(b *testing.B) {
	for _, ws := range []bool{false, true} {
		name := "idle"
		if ws {
			name = "websocket"
		}
		b.Run(fmt.Sprintf("%s-%d", name, connMemoryN), func(b *testing.B) {
			var r connMemResult
			for b.Loop() {
				r = connMemory(b, ws)
			}
			b.ReportMetric(r.perConn/1024, "KiB/conn")
			b.ReportMetric(r.rssPerConn/1024, "RSS-KiB/conn")
			b.ReportMetric(r.rssLeft/(1<<20), "RSS-MiB-left")
		})
	}
}

const connMemoryN = 2000

// connSettle is how long the connections are left before they are
// measured: longer than the second after which an idle one parks.
const connSettle = 2 * time.Second

type connMemResult struct{ perConn, rssPerConn, rssLeft float64 }

func connMemory(b *testing.B, ws bool) connMemResult {
	p := New(Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	defer p.Stop(context.Background())
	req, want := getReqHead("/mem"), "\r\n\r\nok"
	if ws {
		p.SetTarget("blue", rawWSUpstream(b))
		req = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		want = "\x81\x03hey"
	} else {
		p.SetTarget("blue", rawUpstream(b))
	}
	addr := p.Addr().(*net.TCPAddr)
	open := func() int {
		fd := rawDial(b, addr)
		rawWrite(b, fd, req)
		rawReadUntil(b, fd, want)
		if ws {
			rawWrite(b, fd, "\x81\x83\x01\x02\x03\x04"+string([]byte{'y' ^ 1, 'o' ^ 2, 'u' ^ 3}))
		}
		return fd
	}
	for range 3 { // warm up the pools and the upstream side
		syscall.Close(open())
	}
	waitConns(b, p, 0)
	heap0, rss0 := liveBytes(), rssBytes()
	fds := make([]int, connMemoryN)
	for i := range fds {
		fds[i] = open()
	}
	waitConns(b, p, connMemoryN)
	time.Sleep(connSettle)
	heap1, rss1 := liveBytes(), rssBytes()
	for _, fd := range fds {
		syscall.Close(fd)
	}
	waitConns(b, p, 0)
	// The supervisor goes on working after a burst (health checks,
	// requests of other apps): light traffic for 3 s, so that the
	// collector runs as it would there.
	p.SetTarget("blue", rawUpstream(b))
	fd := rawDial(b, addr)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		rawWrite(b, fd, getReqHead("/after"))
		rawReadUntil(b, fd, "\r\n\r\nok")
	}
	syscall.Close(fd)
	rss2 := rssBytes()
	return connMemResult{
		perConn:    float64(int64(heap1)-int64(heap0)) / connMemoryN,
		rssPerConn: float64(rss1-rss0) / connMemoryN,
		rssLeft:    float64(rss2 - rss0),
	}
}

func getReqHead(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

func waitConns(tb testing.TB, p *Proxy, n int) {
	tb.Helper()
	for deadline := time.Now().Add(20 * time.Second); p.openConns() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%d client connections open, want %d", p.openConns(), n)
		}
	}
}

// rssBytes returns the process's resident set.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// rawDial connects a blocking socket without Go's network poller.
func rawDial(tb testing.TB, addr *net.TCPAddr) int {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tv := syscall.Timeval{Sec: 10}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	sa := &syscall.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := syscall.Connect(fd, sa); err != nil {
		tb.Fatal(err)
	}
	return fd
}

func rawWrite(tb testing.TB, fd int, s string) {
	tb.Helper()
	for b := []byte(s); len(b) > 0; {
		n, err := syscall.Write(fd, b)
		if err != nil {
			tb.Fatal(err)
		}
		b = b[n:]
	}
}

// rawReadUntil reads until what came ends with suffix.
func rawReadUntil(tb testing.TB, fd int, suffix string) []byte {
	tb.Helper()
	var got []byte
	var buf [512]byte
	for !bytes.HasSuffix(got, []byte(suffix)) {
		n, err := syscall.Read(fd, buf[:])
		if err != nil || n == 0 {
			tb.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	return got
}

// rawWSUpstream accepts connections on a raw socket, answers each
// handshake with 101 and a 3-byte text frame, and keeps the socket open,
// unread, until the test ends; it holds no Go connection or goroutine per
// connection.
func rawWSUpstream(tb testing.TB) string {
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Bind(lfd, sa); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Listen(lfd, 4096); err != nil {
		tb.Fatal(err)
	}
	lsa, _ := syscall.Getsockname(lfd)
	port := lsa.(*syscall.SockaddrInet4).Port
	done := make(chan []int)
	go func() {
		var fds []int
		defer func() { done <- fds }()
		for {
			fd, _, err := syscall.Accept4(lfd, syscall.SOCK_CLOEXEC)
			if err != nil {
				return
			}
			fds = append(fds, fd)
			tv := syscall.Timeval{Sec: 10}
			syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
			var got []byte
			var buf [512]byte
			for !bytes.Contains(got, []byte("\r\n\r\n")) {
				n, err := syscall.Read(fd, buf[:])
				if err != nil || n == 0 {
					break
				}
				got = append(got, buf[:n]...)
			}
			syscall.Write(fd, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x03hey"))
		}
	}()
	tb.Cleanup(func() {
		syscall.Shutdown(lfd, syscall.SHUT_RDWR)
		for _, fd := range <-done {
			syscall.Close(fd)
		}
		syscall.Close(lfd)
	})
	runtime.Gosched()
	return fmt.Sprintf("127.0.0.1:%d", port)
}
