package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// FuzzProxy feeds arbitrary bytes through the whole proxy: a client sends
// the fuzzer's client bytes, and the upstream answers the requests with
// the fuzzer's upstream bytes: templates separated by templateSep, the
// k-th request getting the k-th (round robin), in which each '$' becomes a
// marker naming the request. Then a second, well-behaved client sends one
// GET. The invariants:
//
//   - The upstream never sees a request the proxy did not answer for:
//     every request it reads carries the proxy's own forwarding fields, and
//     the first client's requests are no more than net/http finds in its
//     bytes (counting once a safe request the proxy may send again after an
//     upstream closed without a byte of an answer).
//   - A client never gets another request's bytes: markers of bytes beyond
//     the framing of an answer (as net/http reads it) reach no client, and
//     the second client gets exactly its own answer.
//   - When the upstream bytes begin with fuzzRefuse or fuzzNone, the first
//     client's requests meet a refused connect or no active color: the
//     proxy answers them itself (502, 503), and gives no more such answers
//     than net/http finds request heads in the client's bytes (a body read
//     as a request would add one; the body invariant, body.go). With
//     fuzzMaintenance the app is in maintenance for the first client (503,
//     and the upstream sees none of its requests); with fuzzLimit its
//     bodies may have 16 bytes at most (413); with fuzzCanary a canary
//     step splits its requests by their bluegreen_canary cookie between
//     two routes to the upstream (Set-Cookie on the answers of those
//     without one).
//
// go test runs the seeds only; fuzz with
//
//	go test ./proxy -run '^$' -fuzz '^FuzzProxy$' -fuzztime 10m
func FuzzProxy(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, client, upstream []byte) {
		fz := fuzzProxy(t)
		fz.run(t, client, upstream)
	})
}

// templateSep separates the upstream's answer templates.
const templateSep = "\x00|"

// Upstream bytes that begin with these route the first client to a port
// nothing listens on, or to no color.
const (
	fuzzRefuse      = "\x00refuse|"
	fuzzNone        = "\x00none|"
	fuzzMaintenance = "\x00maintenance|"
	fuzzLimit       = "\x00limit|"
	fuzzCanary      = "\x00canary|"
)

// Modes of the first client's run, besides its route.
const (
	fuzzPlain = iota
	fuzzInMaintenance
	fuzzLimited
)

var fuzzSeeds = [][2]string{
	{"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; bluegreen_canary=abc\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n", fuzzCanary + "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{postLength("/echo", smuggledEcho) + "GET /next HTTP/1.1\r\nHost: x\r\nCookie: bluegreen_canary=\"\"\r\n\r\n", fuzzCanary + "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n$\r\n0\r\n\r\n"},
	{"POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 32\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 204 No Content\r\nX-Id: $\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 15\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok$HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 15\r\n\r\n$$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n$"},
	{"GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n$\r\n0\r\n\r\n"},
	{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nDELETE / HTTP/1.1\r\nHost: x\r\n\r\n", ""},
	{"GET /warm HTTP/1.1\r\nHost: x\r\n\r\nPOST /once HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$" + templateSep},
	{"GET /warm HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$" + templateSep + templateSep + "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$" + templateSep + "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x02hi", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x0f$"},
	{"GET / HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\nContent-Length: 15\n\n$"},
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n$\r\n0\r\nX-Trailer: $\r\n\r\n$"},
	{postLength("/echo", smuggledEcho) + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", fuzzRefuse},
	{postChunked("/echo", smuggledEcho) + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", fuzzNone},
	{"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 44\r\n\r\n" + smuggledEcho, fuzzRefuse},
	{"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\n" + smuggledEcho, fuzzNone},
	{"POST /e HTTP/1.0\r\nContent-Length: 44\r\n\r\n" + smuggledEcho + smuggledEcho, fuzzRefuse},
	{postLength("/echo", smuggledEcho) + "GET /next HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n", fuzzMaintenance},
	{postChunked("/echo", smuggledEcho) + "HEAD /next HTTP/1.1\r\nHost: x\r\n\r\n", fuzzMaintenance},
	{postLength("/echo", smuggledEcho) + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", fuzzLimit},
	{"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n9\r\n" + smuggledEcho[:9] + "\r\n0\r\n\r\n", fuzzLimit + "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n$"},
}

// fuzzer is one proxy and one upstream listener shared by a fuzzing
// process's runs; each run gets a new routing (so a new upstream pool) and
// its own upstream state. Upstream connections end with a reset where that
// changes nothing the proxy sees, and clients come over socket pairs, so
// that thousands of runs a second leave few sockets in TIME_WAIT behind
// (only on the upstream's listening port, which blocks no other port).
type fuzzer struct {
	p       *Proxy
	port    string
	ln      net.Listener
	refused string // an address nothing listens on
	cur     atomic.Pointer[fuzzUpstream]
	nonce   string // in every marker, so that the fuzzer cannot forge one
	seq     atomic.Int64
	runs    int
}

var (
	fuzzOnce sync.Once
	theFuzz  *fuzzer
)

func fuzzProxy(t *testing.T) *fuzzer {
	fuzzOnce.Do(func() {
		var b [3]byte
		rand.Read(b[:])
		fz := &fuzzer{nonce: hex.EncodeToString(b[:])}
		// Long enough never to fire within a run: a run that waits for
		// them is a hang, which fails.
		fz.p = New(Options{App: "fuzz", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		fz.p.tmo = timeouts{head: 20 * time.Second, idle: 20 * time.Second, body: 20 * time.Second}
		if err := fz.p.Start(); err != nil {
			panic(err)
		}
		fz.port = fz.p.port[0]
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		fz.ln = ln
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		fz.refused = closed.Addr().String()
		closed.Close()
		go fz.accept()
		theFuzz = fz
	})
	return theFuzz
}

// A marker is "#" + kind + nonce + 6 digits + "#": R for bytes within an
// answer's framing, X for bytes beyond it.
func (fz *fuzzer) marker(kind byte, seq int64) string {
	return fmt.Sprintf("#%c%s%06d#", kind, fz.nonce, seq%1e6)
}

// fuzzReq is one request the fuzz upstream read.
type fuzzReq struct {
	seq      int64
	phase    int32
	req      *http.Request
	bodyless bool // no body at all
	answered bool // the upstream wrote at least a byte of an answer
	closed   bool // and closed the connection after it
}

type fuzzUpstream struct {
	fz        *fuzzer
	templates [][]byte
	phase     *atomic.Int32
	n         atomic.Int64 // first-phase requests answered so far

	mu     sync.Mutex
	reqs   []*fuzzReq
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

func (fz *fuzzer) run(t *testing.T, client, template []byte) {
	var phase atomic.Int32
	phase.Store(1)
	route, mode := routeRecorder, fuzzPlain
	if rest, ok := bytes.CutPrefix(template, []byte(fuzzRefuse)); ok {
		route, template = routeRefused, rest
	} else if rest, ok := bytes.CutPrefix(template, []byte(fuzzNone)); ok {
		route, template = routeNone, rest
	} else if rest, ok := bytes.CutPrefix(template, []byte(fuzzMaintenance)); ok {
		mode, template = fuzzInMaintenance, rest
		fz.p.Maintenance(MaintenancePage{Message: "m"})
	} else if rest, ok := bytes.CutPrefix(template, []byte(fuzzLimit)); ok {
		mode, template = fuzzLimited, rest
		fz.p.Configure(Settings{MaxRequestBody: 16})
	}
	canary := false
	if rest, ok := bytes.CutPrefix(template, []byte(fuzzCanary)); ok && route == routeRecorder {
		canary, template = true, rest
	}
	up := &fuzzUpstream{fz: fz, templates: bytes.Split(template, []byte(templateSep)), phase: &phase}
	fz.cur.Store(up)
	defer up.close()
	color, old := ColorBlue, ColorGreen
	if fz.runs%2 == 1 {
		color, old = old, color
	}
	fz.runs++
	switch route {
	case routeRecorder:
		fz.p.SetTarget(color, fz.ln.Addr().String())
		if canary {
			fz.p.SetCanary(old, fz.ln.Addr().String(), 50)
		}
	case routeRefused:
		fz.p.SetTarget(old, fz.refused) // drained with old below
	case routeNone:
		fz.p.SetTarget("", "")
	}
	defer fz.p.Drain(context.Background(), old, 0, 0)

	gotA, err := fz.exchange(client, 10*time.Second)
	if err != nil {
		t.Fatalf("first client: %v (got %.300q)", err, gotA)
	}
	fz.p.SetCanary("", "", 0)
	if route != routeRecorder || mode != fuzzPlain {
		if n, heads := ownAnswers(gotA), netHTTPHeads(client); n > heads {
			t.Fatalf("the proxy answered %d requests itself, net/http finds %d request heads: %.300q", n, heads, gotA)
		}
		fz.p.SetTarget(color, fz.ln.Addr().String())
		fz.p.Resume()
		fz.p.Configure(Settings{})
	}
	phase.Store(2)
	gotB, err := fz.exchange([]byte("GET /second HTTP/1.1\r\nHost: b\r\n\r\n"), 10*time.Second)
	if err != nil {
		t.Fatalf("second client: %v (got %.300q)", err, gotB)
	}
	up.close()

	reqs := up.requests()
	byseq := map[int64]*fuzzReq{} // by the number a marker carries: seq modulo 1e6
	var countA, countB int
	for _, r := range reqs {
		byseq[r.seq%1e6] = r
		if err := fz.fromProxy(r.req); err != nil {
			t.Fatalf("the upstream saw a request the proxy did not send (%v): %s %s %v", err, r.req.Method, r.req.RequestURI, r.req.Header)
		}
		m := r.req.Method
		resent := r.bodyless && !r.answered && r.closed && (m == "GET" || m == "HEAD" || m == "OPTIONS")
		switch {
		case r.phase == 1 && !resent:
			countA++
		case r.phase == 2:
			countB++
		}
	}
	if n := netHTTPRequests(client); countA > n || mode == fuzzInMaintenance && countA > 0 {
		t.Fatalf("the upstream saw %d requests of the first client, net/http finds %d in its bytes (mode %d)", countA, n, mode)
	}

	// No client gets bytes beyond an answer's framing, nor another
	// client's answer.
	for name, got := range map[string][]byte{"first": gotA, "second": gotB} {
		for _, m := range fz.markers(got) {
			if m.kind == 'X' {
				t.Fatalf("the %s client got bytes beyond an answer's framing (request %d): %.300q", name, m.seq, got)
			}
			r := byseq[m.seq]
			if r == nil || (name == "first") != (r.phase == 1) {
				t.Fatalf("the %s client got bytes of another client's answer (request %d): %.300q", name, m.seq, got)
			}
		}
	}
	// The second client gets exactly its own answer.
	br := bufio.NewReader(bytes.NewReader(gotB))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("second client: %v: %.300q", err, gotB)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || br.Buffered() > 0 || countB < 1 {
		t.Fatalf("second client: %d %q, err %v, %d bytes more, %d upstream requests: %.300q", resp.StatusCode, body, err, br.Buffered(), countB, gotB)
	}
	if ms := fz.markers(body); len(ms) != 1 || byseq[ms[0].seq] == nil || byseq[ms[0].seq].phase != 2 {
		t.Fatalf("second client got %q, not its own answer", body)
	}
}

// exchange sends data on a new client connection, half-closes it and
// reads until the proxy closes it; it fails past d. The connection is a
// Unix socket pair handed to the proxy as if accepted from 127.0.0.1:
// TCP clients that half-close would leave a socket in TIME_WAIT per run.
func (fz *fuzzer) exchange(data []byte, d time.Duration) ([]byte, error) {
	c, err := fz.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Write(data) // the proxy may refuse and close early
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	<-done
	if err != nil && !isReset(err) {
		return got, fmt.Errorf("the proxy kept the connection: %w", err)
	}
	return got, nil
}

// dial hands the proxy one end of a new socket pair and returns the other.
func (fz *fuzzer) dial() (*net.UnixConn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		conns[i] = c.(*net.UnixConn)
	}
	fz.p.serveConn(newRawConn(&pairConn{UnixConn: conns[1], local: fz.p.Addr()}))
	return conns[0], nil
}

// pairConn is the proxy's end of a socket pair, addressed as a TCP
// connection from 127.0.0.1 to the proxy's port.
type pairConn struct {
	*net.UnixConn
	local net.Addr
}

func (c *pairConn) LocalAddr() net.Addr  { return c.local }
func (c *pairConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// fromProxy checks that a request carries the proxy's forwarding fields.
func (fz *fuzzer) fromProxy(r *http.Request) error {
	for k, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1", "X-Forwarded-Port": fz.port, "X-Forwarded-Proto": "http"} {
		if v := r.Header[k]; len(v) != 1 || v[0] != want {
			return fmt.Errorf("%s is %q", k, v)
		}
	}
	return nil
}

type marker struct {
	kind byte
	seq  int64
}

func (fz *fuzzer) markers(b []byte) []marker {
	var ms []marker
	for {
		i := bytes.Index(b, []byte(fz.nonce))
		if i < 0 {
			return ms
		}
		if i >= 2 && b[i-2] == '#' && len(b) >= i+6+6+1 && b[i+12] == '#' {
			if n, err := strconv.ParseInt(string(b[i+6:i+12]), 10, 64); err == nil {
				ms = append(ms, marker{kind: b[i-1], seq: n})
			}
		}
		b = b[i+1:]
	}
}

// netHTTPRequests counts the requests net/http reads from data, one after
// another, until the first it cannot read whole.
func netHTTPRequests(data []byte) int {
	br := bufio.NewReader(bytes.NewReader(data))
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return n
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return n
		}
	}
}

// netHTTPHeads counts the request heads net/http reads from data, one
// request after another, up to and including the first whose body it
// cannot read whole.
func netHTTPHeads(data []byte) int {
	br := bufio.NewReader(bytes.NewReader(data))
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return n
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return n + 1
		}
	}
}

// ownAnswers counts the 502, 503 and 413 answers in what a client got
// (the proxy's own answers to requests it could not or would not send),
// reading answers until one it cannot read.
func ownAnswers(got []byte) int {
	br := bufio.NewReader(bytes.NewReader(got))
	n := 0
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return n
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode == 502 || resp.StatusCode == 503 || resp.StatusCode == 413 {
			n++
		}
	}
}

// accept hands every upstream connection to the current run.
func (fz *fuzzer) accept() {
	for {
		c, err := fz.ln.Accept()
		if err != nil {
			return
		}
		if up := fz.cur.Load(); up == nil || !up.add(c) {
			reset(c)
		}
	}
}

func (up *fuzzUpstream) add(c net.Conn) bool {
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.closed {
		return false
	}
	up.conns = append(up.conns, c)
	up.wg.Add(1)
	go up.serve(c)
	return true
}

// close resets the run's upstream connections (the proxy may still pool
// some) and waits for their goroutines.
func (up *fuzzUpstream) close() {
	up.mu.Lock()
	if !up.closed {
		up.closed = true
		for _, c := range up.conns {
			reset(c)
		}
	}
	up.mu.Unlock()
	up.wg.Wait()
}

func reset(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

func (up *fuzzUpstream) requests() []*fuzzReq {
	up.mu.Lock()
	defer up.mu.Unlock()
	return append([]*fuzzReq(nil), up.reqs...)
}

func (up *fuzzUpstream) serve(c net.Conn) {
	defer up.wg.Done()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			reset(c) // the proxy closed first, or sent what net/http refuses
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			reset(c)
			return
		}
		r := &fuzzReq{seq: up.fz.seq.Add(1), phase: up.phase.Load(), req: req,
			bodyless: req.ContentLength == 0 && len(req.TransferEncoding) == 0}
		var out []byte
		keep := true
		if r.phase == 2 {
			m := up.fz.marker('R', r.seq)
			out = fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(m), m)
		} else {
			out, keep = up.render(r)
		}
		r.answered, r.closed = len(out) > 0, !keep
		up.mu.Lock()
		up.reqs = append(up.reqs, r)
		up.mu.Unlock()
		if _, err := c.Write(out); err != nil || !keep {
			c.Close() // a close the proxy must see after the answer: not a reset
			return
		}
	}
}

// render fills the next template for r: each '$' becomes an R marker when it
// lies within the first final answer's framing as net/http reads it, an
// X marker beyond it. keep is false when that answer is not framed or
// not whole, or asks for a close: the upstream then closes after it.
func (up *fuzzUpstream) render(r *fuzzReq) (out []byte, keep bool) {
	template := up.templates[int(up.n.Add(1)-1)%len(up.templates)]
	fill := func(kind func(off int) byte) []byte {
		var b []byte
		for _, c := range template {
			if c == '$' {
				b = append(b, up.fz.marker(kind(len(b)), r.seq)...)
				continue
			}
			b = append(b, c)
		}
		return b
	}
	probe := fill(func(int) byte { return 'R' })
	if len(probe) == 0 {
		return nil, false
	}
	consumed, keep := framing(probe, r.req)
	return fill(func(off int) byte {
		if off < consumed {
			return 'R'
		}
		return 'X'
	}), keep
}

// framing returns how many bytes of raw the first final answer to req
// takes by net/http's reading (all of them when it is cut, malformed,
// framed by the close, or a 101 to a WebSocket handshake), and whether
// the connection can carry another request after it.
func framing(raw []byte, req *http.Request) (consumed int, keep bool) {
	rd := bytes.NewReader(raw)
	br := bufio.NewReader(rd)
	used := func() int { return len(raw) - rd.Len() - br.Buffered() }
	upgrade := req.Header.Get("Upgrade") != ""
	for range maxInterim {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return len(raw), false
		}
		if resp.StatusCode == 101 {
			if upgrade {
				return len(raw), false
			}
			return used(), false
		}
		if resp.StatusCode >= 200 {
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return len(raw), false
			}
			framed := resp.ContentLength >= 0 || slicesHas(resp.TransferEncoding, "chunked") ||
				req.Method == "HEAD" || resp.StatusCode == 204 || resp.StatusCode == 304
			if !framed || resp.Close {
				return len(raw), false
			}
			return used(), true
		}
	}
	return len(raw), false
}

func slicesHas(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
