// Package probe makes a container's HTTP health checks (the health_check of
// an app, docs/config.md): one request to 127.0.0.1:port at a time over one kept
// connection, judged by its status. It reads answers with the module's
// HTTP/1 codec (internal/http1) and reuses connections by its rules, as the
// proxy does with its upstream connections. The health actor (actors/) runs
// a Prober on its interval and reports what it finds.
package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/http1"
)

// Limits of a health answer: what a container sends beyond them fails the
// check (a head) or is not read (a body), and the connection is closed.
// maxError bounds the text of a failed check kept in the store (an error
// can quote what the container sent).
const (
	maxHead  = http1.MaxHeadBytes
	maxBody  = 64 << 10
	maxError = 512
)

// errStopped is the error of a check after Close.
var errStopped = errors.New("health checks stopped")

// Prober makes one container's health checks over one keep-alive HTTP/1.1
// connection to its published port. A check is then one small write and
// one read: no connection setup, no TIME_WAIT socket left per check, no
// goroutines of net/http's Transport; the request's bytes are built once.
// The answer's head is read by http1.ReadAnswerHead (the status and the
// framing, no header map) under a deadline and byte limits, so what a
// hostile container sends (a huge head, an endless or slow body) costs at
// most maxHead+maxBody bytes and the check's timeout. The connection is
// kept only when the answer was whole and framed (a length or chunks, read
// to the end within maxBody, no Connection: close, no stray bytes after
// it); in any doubt it is closed and the next check dials anew. A kept
// connection the container closed (or that has bytes no request asked for)
// is noticed before it is used (http1.Liveness) and replaced; a check that
// failed on a reused connection before any byte of an answer came back, as
// when the container closed it just then, is sent once more on a new one
// when its method allows (http1.Resendable).
//
// Check is called by one goroutine at a time; Close from any.
type Prober struct {
	hc     config.HealthCheck
	addr   string
	url    string // for error messages
	req    []byte
	method string
	line   []byte // ReadAnswerHead's scratch for a long line

	mu     sync.Mutex // guards conn and closed against Close
	conn   net.Conn
	live   http1.Liveness   // watches conn
	lr     io.LimitedReader // conn, bounded per check
	br     *bufio.Reader    // over lr
	closed bool
}

// New returns the prober of the container whose health endpoint, hc, is
// published on 127.0.0.1:port. It connects at its first check.
func New(port int, hc config.HealthCheck) *Prober {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	method := hc.Method
	if method == "" {
		method = http.MethodGet
	}
	// The path was checked by config (no spaces or control characters).
	req := method + " " + hc.Path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bluegreen-health\r\n"
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		req += "Content-Length: 0\r\n"
	}
	req += "\r\n"
	return &Prober{hc: hc, addr: addr, url: "http://" + addr + hc.Path, req: []byte(req), method: method}
}

// Close closes the connection; a check running now fails, later ones do
// not connect. It is safe to call more than once.
func (p *Prober) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// Check makes one health request and judges it: a success when the status
// is one the health check expects, within its timeout.
func (p *Prober) Check(ctx context.Context) deploy.HealthCheck {
	timeout := p.hc.Timeout
	start := time.Now()
	check := deploy.HealthCheck{At: start.UTC()}
	status, err := p.exchange(ctx, start.Add(timeout)) // (no context of its own: no timer per check)
	check.ResponseTimeMS = float64(time.Since(start).Microseconds()) / 1000
	switch {
	case err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		!time.Now().Before(start.Add(timeout))):
		// (A head cut by the deadline can read as malformed.)
		check.Error = fmt.Sprintf("no answer within %s", timeout)
	case err != nil:
		check.Error = fmt.Sprintf("%s %s: %v", p.method, p.url, err)
		if len(check.Error) > maxError {
			check.Error = strings.ToValidUTF8(check.Error[:maxError], "") + "..."
		}
	case p.hc.Accepts(status):
		check.StatusCode, check.Success = status, true
	default:
		check.StatusCode, check.Error = status, fmt.Sprintf("status %d", status)
	}
	return check
}

// exchange sends the request and reads the answer's status, on the kept
// connection or a new one.
func (p *Prober) exchange(ctx context.Context, deadline time.Time) (int, error) {
	for attempt := 0; ; attempt++ {
		conn, reused, err := p.connection(ctx, deadline)
		if err != nil {
			return 0, err
		}
		status, keep, answered, err := p.roundTrip(conn, deadline)
		if err == nil && keep {
			return status, nil
		}
		p.drop(conn)
		if err == nil {
			return status, nil
		}
		if reused && !answered && attempt == 0 && ctx.Err() == nil && http1.Resendable(p.method) && http1.ConnectionLost(err) {
			continue
		}
		return 0, err
	}
}

// connection returns the kept connection when it is still open and quiet,
// else a new one.
func (p *Prober) connection(ctx context.Context, deadline time.Time) (net.Conn, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errStopped
	}
	if c := p.conn; c != nil {
		if p.br.Buffered() == 0 && p.live.Alive() {
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
		p.conn = nil
	}
	p.mu.Unlock()
	d := net.Dialer{Deadline: deadline}
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, false, errStopped
	}
	p.conn = c
	p.live.Watch(c)
	p.lr.R = c
	if p.br == nil {
		p.br = bufio.NewReaderSize(&p.lr, 4<<10)
	} else {
		p.br.Reset(&p.lr)
	}
	return c, false, nil
}

// drop closes conn, when it is still the kept one.
func (p *Prober) drop(conn net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	conn.Close()
	if p.conn == conn {
		p.conn = nil
	}
}

// roundTrip writes the request on conn and reads the answer: its status,
// whether conn may serve the next check, and whether any byte of an answer
// came back.
func (p *Prober) roundTrip(conn net.Conn, deadline time.Time) (status int, keep, answered bool, err error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, false, false, err
	}
	if _, err := conn.Write(p.req); err != nil {
		return 0, false, false, err
	}
	p.lr.N = maxHead
	h, err := http1.ReadAnswerHead(p.br, p.method, &p.line)
	if cap(p.line) > 4<<10 {
		p.line = nil // a long line's scratch is not kept
	}
	if err != nil {
		// Any byte read means an answer began (the buffer was empty).
		answered = p.lr.N < maxHead
		if p.lr.N <= 0 {
			err = fmt.Errorf("answer head larger than %d KiB", maxHead>>10)
		}
		return 0, false, answered, err
	}
	keep = p.readBody(h) && !h.Close && h.Status >= 200 && p.br.Buffered() == 0
	return h.Status, keep, true, nil
}

// readBody reads the answer's body to its end when it is framed (a
// length, or chunks) and at most maxBody, so that the connection can serve
// the next check, and reports whether it did. What the body says does not
// matter; one that lasts until the container closes the connection, or is
// larger, is not read: the connection is closed.
func (p *Prober) readBody(h http1.AnswerHead) bool {
	if !h.Chunked && (h.ContentLength < 0 || h.ContentLength > maxBody) {
		return false
	}
	p.lr.N = maxBody + int64(p.br.Buffered()) + 1
	if h.Chunked {
		return http1.DiscardChunked(p.br) == nil
	}
	_, err := p.br.Discard(int(h.ContentLength))
	return err == nil
}
