package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The differential harness: a recording upstream (raw TCP, parsing what
// the proxy sends with net/http's http.ReadRequest, as a container would)
// behind a proxy, and raw clients before it. Tests compare what the
// upstream saw with what the client got.

// recorder is the recording upstream.
type recorder struct {
	ln     net.Listener
	answer func(r *upReq) (raw string, closeAfter bool)

	mu    sync.Mutex
	open  []net.Conn // the connections accepted, by number
	reqs  []*upReq   // complete requests, in arrival order
	bad   []string   // what ended a connection other than EOF: a parse or body error
	bytes atomic.Int64
	wg    sync.WaitGroup
}

// upReq is one complete request the upstream read.
type upReq struct {
	Conn int // the upstream connection it came on (from 0)
	Seq  int // its place among all requests (from 0)
	Req  *http.Request
	Body string
}

func (r *upReq) String() string { return r.Req.Method + " " + r.Req.RequestURI }

// answerEcho answers every request with 200 and "METHOD URI" as the body.
func answerEcho(r *upReq) (string, bool) {
	body := r.String()
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body), false
}

// newRecorder starts a recording upstream on 127.0.0.1; answer nil is
// answerEcho.
func newRecorder(tb testing.TB, answer func(r *upReq) (string, bool)) *recorder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if answer == nil {
		answer = answerEcho
	}
	rec := &recorder{ln: ln, answer: answer}
	rec.wg.Add(1)
	go rec.accept()
	tb.Cleanup(rec.close)
	return rec
}

func (rec *recorder) addr() string { return rec.ln.Addr().String() }

func (rec *recorder) close() {
	rec.ln.Close()
	rec.wg.Wait()
}

func (rec *recorder) accept() {
	defer rec.wg.Done()
	defer func() {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, c := range rec.open {
			c.Close()
		}
	}()
	for {
		c, err := rec.ln.Accept()
		if err != nil {
			return
		}
		rec.mu.Lock()
		n := len(rec.open)
		rec.open = append(rec.open, c)
		rec.mu.Unlock()
		rec.wg.Add(1)
		go rec.serve(c, n)
	}
}

// conn returns the upstream's n-th connection.
func (rec *recorder) conn(n int) net.Conn {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.open[n]
}

// countReader counts the bytes the upstream received.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (rec *recorder) serve(c net.Conn, conn int) {
	defer rec.wg.Done()
	defer c.Close()
	br := bufio.NewReader(countReader{c, &rec.bytes})
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			// EOF, or a reset after the proxy closed with bytes unread.
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				rec.noteBad(fmt.Sprintf("conn %d: request: %v", conn, err))
			}
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			rec.noteBad(fmt.Sprintf("conn %d: %s %s: body: %v", conn, req.Method, req.RequestURI, err))
			return
		}
		rec.mu.Lock()
		r := &upReq{Conn: conn, Seq: len(rec.reqs), Req: req, Body: string(body)}
		rec.reqs = append(rec.reqs, r)
		rec.mu.Unlock()
		raw, closeAfter := rec.answer(r)
		if _, err := io.WriteString(c, raw); err != nil || closeAfter {
			return
		}
	}
}

func (rec *recorder) noteBad(s string) {
	rec.mu.Lock()
	rec.bad = append(rec.bad, s)
	rec.mu.Unlock()
}

// requests returns the complete requests the upstream saw so far.
func (rec *recorder) requests() []*upReq {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]*upReq(nil), rec.reqs...)
}

// startProxyTimeouts starts a proxy like startProxy, with tmo as its
// client-side timeouts (zero fields: the defaults).
func startProxyTimeouts(tb testing.TB, o Options, tmo timeouts) *Proxy {
	tb.Helper()
	if o.App == "" {
		o.App = "web"
	}
	if o.ListenAddress == "" {
		o.ListenAddress = "127.0.0.1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := New(o)
	if tmo.head > 0 {
		p.tmo.head = tmo.head
	}
	if tmo.idle > 0 {
		p.tmo.idle = tmo.idle
	}
	if tmo.body > 0 {
		p.tmo.body = tmo.body
	}
	if tmo.park > 0 {
		p.tmo.park = tmo.park
	}
	if err := p.Start(); err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	return p
}

// talk sends data on a new client connection, half-closes it, and returns
// everything the proxy sent until it closed the connection. It fails the
// test when the proxy keeps the connection past d.
func talk(tb testing.TB, p *Proxy, data string, d time.Duration) string {
	tb.Helper()
	c := dialProxy(tb, p)
	c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, data); err != nil && !errors.Is(err, syscall.EPIPE) {
		// The proxy may close after a refused head while the rest is
		// still being sent; what it answered is read below.
		tb.Logf("write: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		tb.Fatalf("read the answers: %v (got %q)", err, got)
	}
	return string(got)
}

// clientResp is one answer a client got.
type clientResp struct {
	Status  int
	Header  http.Header
	Body    string
	BodyErr error // the body was cut or malformed
	Close   bool  // Connection: close
}

// parseAnswers splits what a client got into answers, for requests with
// the given methods (GET when the list is shorter); rest is what did not
// parse as an answer.
func parseAnswers(raw string, methods []string) (answers []clientResp, rest string) {
	br := bufio.NewReader(strings.NewReader(raw))
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err != nil {
			return answers, ""
		}
		m := "GET"
		if i < len(methods) {
			m = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			b, _ := io.ReadAll(br)
			return answers, string(b)
		}
		body, berr := io.ReadAll(resp.Body)
		answers = append(answers, clientResp{Status: resp.StatusCode, Header: resp.Header, Body: string(body), BodyErr: berr, Close: resp.Close})
		if berr != nil {
			b, _ := io.ReadAll(br)
			return answers, string(b)
		}
	}
}

func statuses(as []clientResp) []int {
	s := make([]int, len(as))
	for i, a := range as {
		s[i] = a.Status
	}
	return s
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// headerNames returns the names of h that match f.
func headerNames(h http.Header, f func(string) bool) []string {
	var names []string
	for k := range h {
		if f(k) {
			names = append(names, k)
		}
	}
	return names
}
