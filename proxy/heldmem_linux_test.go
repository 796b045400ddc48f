package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// heldMemoryN is how many requests BenchmarkProxy_heldMemory holds: a
// paused app's default max_held_requests.
const heldMemoryN = DefaultMaxHeldRequests

// heldRequest is the request each client sends: a browser's head of about
// 450 bytes (user agent, accept fields, a cookie).
var heldRequest = "GET /products/42?ref=home HTTP/1.1\r\nHost: shop.example\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
	"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; consent=yes\r\n" +
	"Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n\r\n"

// BenchmarkProxy_heldMemory measures what a paused proxy holds per held
// request, with heldMemoryN requests held at once: KiB/held is live heap
// plus goroutine stacks after a full collection, RSS-KiB/held the growth
// of the resident set, goroutines/held the goroutines added. The clients
// run in a child process (the file descriptors of both ends of 10,000
// connections would not fit one process's limit), so what this process
// gains is the proxy's. release-ms is how long the resume took until every
// client had its answer. Run with -benchtime=1x.
func BenchmarkProxy_heldMemory(b *testing.B) {
	var r heldMemResult
	for b.Loop() {
		r = heldMemory(b)
	}
	b.ReportMetric(r.perHeld/1024, "KiB/held")
	b.ReportMetric(r.rssPerHeld/1024, "RSS-KiB/held")
	b.ReportMetric(r.goroutinesPerHeld, "goroutines/held")
	b.ReportMetric(float64(r.release.Milliseconds()), "release-ms")
}

type heldMemResult struct {
	perHeld, rssPerHeld, goroutinesPerHeld float64
	release                                time.Duration
}

func heldMemory(b *testing.B) heldMemResult {
	p := New(Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	defer p.Stop(context.Background())
	p.SetTarget(ColorBlue, rawUpstream(b))
	c := dialProxy(b, p) // warm up the pools
	exchange(b, c, getReq("/warm"))
	c.Close()
	waitConns(b, p, 0)
	p.Pause(10 * time.Minute)
	heap0, rss0, g0 := liveBytes(), rssBytes(), runtime.NumGoroutine()

	child := startHeldClients(b, p.Addr().String(), heldMemoryN)
	defer child.stop()
	child.expect(b, "sent")
	for deadline := time.Now().Add(60 * time.Second); p.Held() != heldMemoryN; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d held, want %d", p.Held(), heldMemoryN)
		}
	}
	time.Sleep(connSettle) // the connections that waited for their first bytes have parked
	heap1, rss1, g1 := liveBytes(), rssBytes(), runtime.NumGoroutine()

	start := time.Now()
	if n := p.Resume(); n != heldMemoryN {
		b.Fatalf("resumed %d", n)
	}
	child.expect(b, "answered "+strconv.Itoa(heldMemoryN))
	release := time.Since(start)
	return heldMemResult{
		perHeld:           float64(int64(heap1)-int64(heap0)) / heldMemoryN,
		rssPerHeld:        float64(rss1-rss0) / heldMemoryN,
		goroutinesPerHeld: float64(g1-g0) / heldMemoryN,
		release:           release,
	}
}

// heldClients is the child process that plays the clients.
type heldClients struct {
	cmd   *exec.Cmd
	out   *bufio.Reader
	stdin io.WriteCloser
}

func startHeldClients(tb testing.TB, addr string, n int) *heldClients {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHeldClients$", "-test.v")
	cmd.Env = append(os.Environ(), "BLUEGREEN_HELD_CLIENTS="+addr+" "+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return &heldClients{cmd: cmd, out: bufio.NewReader(out), stdin: stdin}
}

// expect reads the child's lines until one is want.
func (h *heldClients) expect(tb testing.TB, want string) {
	for {
		line, err := h.out.ReadString('\n')
		if err != nil {
			tb.Fatalf("the clients ended before %q: %v", want, err)
		}
		if line == want+"\n" {
			return
		}
	}
}

func (h *heldClients) stop() {
	h.stdin.Close()
	h.cmd.Wait()
}

// TestHeldClients is BenchmarkProxy_heldMemory's child: it opens n raw
// connections to addr, sends heldRequest on each, says "sent", reads one
// answer on each, says "answered n", and waits for its stdin to close.
func TestHeldClients(t *testing.T) {
	spec := os.Getenv("BLUEGREEN_HELD_CLIENTS")
	if spec == "" {
		t.Skip("the child process of BenchmarkProxy_heldMemory")
	}
	var addr string
	var n int
	fmt.Sscan(spec, &addr, &n)
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fds := make([]int, n)
	for i := range fds {
		fds[i] = rawDial(t, tcp)
		rawWrite(t, fds[i], heldRequest)
	}
	fmt.Println("sent")
	for _, fd := range fds {
		rawReadUntil(t, fd, "\r\n\r\nok")
	}
	fmt.Println("answered", n)
	io.Copy(io.Discard, os.Stdin)
	for _, fd := range fds {
		syscall.Close(fd)
	}
}
