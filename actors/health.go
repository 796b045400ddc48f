package actors

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/anthdm/hollywood/actor"
	"golang.org/x/sys/unix"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/store"
)

// healthResult is a probe's result, sent by a health actor to its app
// actor, with the container's consecutive passed and failed checks.
type healthResult struct {
	color            deploy.Color
	containerID      string
	check            deploy.HealthCheck
	passes, failures int
}

// healthActor probes one container's health endpoint at 127.0.0.1:port every
// interval. The probes run one after another in one goroutine of the
// actor's (started in Started, waited for in Stopped): a tick that comes
// while a probe is running is dropped, so a hanging endpoint never piles up
// work. One goroutine for the actor's life, rather than a timer message, a
// goroutine and a reply message per probe, keeps a check to a ticker
// wake-up and the socket's (its grown stack is kept too).
//
// The loop records every check itself (the metrics, the store's batch:
// health recorder) and counts the passes and failures in a row; it sends its
// parent, the app actor, only the results that can change a decision:
// every failure, every pass up to healthy_threshold in a row, and every
// heartbeatChecks-th check. A healthy container's steady passes then cost
// no message, no wake-up of the app actor; the consecutive passes it shows
// are read from tally. The ticks of all health actors with one interval
// fall on a common grid (healthGrid), so the process wakes once for many
// checks rather than once for each.
type healthActor struct {
	color       deploy.Color
	containerID string
	prober      *prober
	rec         healthRecorder
	tally       *atomic.Int64 // the passes in a row, for the app actor's status

	// Owned by the probe loop.
	passes, failures int    // checks passed (failed) in a row
	checks           uint64 // checks made

	cancel context.CancelFunc
	done   chan struct{} // closed when the probe loop ended
}

// healthRecorder records each check of one app's container.
type healthRecorder struct {
	app     string
	metrics *metrics.App
	store   *store.Store
	log     *slog.Logger
}

func (r healthRecorder) record(color deploy.Color, containerID string, check deploy.HealthCheck) {
	if r.metrics != nil {
		r.metrics.HealthChecked(color, check)
	}
	if r.store == nil {
		return
	}
	// Written with the next batch (store.HealthFlushInterval).
	if err := r.store.QueueHealthCheck(r.app, color, containerID, check); err != nil {
		r.log.Error("record health check", keyErr, err)
	}
}

// heartbeatChecks: a health actor sends at least every heartbeatChecks-th
// result, so the app actor's counts never lag far behind.
const heartbeatChecks = 16

// healthGrid is the spacing of the grid the health checks' ticks fall on
// (at most the interval).
const healthGrid = 50 * time.Millisecond

func newHealthActor(color deploy.Color, containerID string, port int, hc config.HealthCheck, rec healthRecorder, tally *atomic.Int64) actor.Producer {
	return func() actor.Receiver {
		return &healthActor{color: color, containerID: containerID, prober: newProber(port, hc), rec: rec, tally: tally}
	}
}

func (h *healthActor) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case actor.Started:
		if h.cancel != nil {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		h.cancel, h.done = cancel, make(chan struct{})
		go h.loop(ctx, c.Engine(), c.Parent())
	case actor.Stopped:
		if h.cancel == nil {
			return
		}
		// Closing the connection ends a running probe at once; no result
		// is sent after Stopped.
		h.cancel()
		h.prober.close()
		select {
		case <-h.done:
		case <-time.After(h.prober.hc.Timeout + time.Second):
		}
	}
}

// loop probes now and then every interval until ctx ends; from the second
// check on, on the grid.
func (h *healthActor) loop(ctx context.Context, eng *actor.Engine, parent *actor.PID) {
	defer close(h.done)
	interval := max(h.prober.hc.Interval, time.Millisecond)
	h.probe(ctx, eng, parent)
	// The second check waits for the grid: at most a grid step late.
	grid := min(interval, healthGrid)
	next := time.Now().Add(interval)
	if at := next.Truncate(grid); at.Before(next) {
		next = at.Add(grid)
	}
	wait := time.NewTimer(time.Until(next))
	select {
	case <-ctx.Done():
		wait.Stop()
		return
	case <-wait.C:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.probe(ctx, eng, parent)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe makes one check, records it and sends the parent what it needs.
func (h *healthActor) probe(ctx context.Context, eng *actor.Engine, parent *actor.PID) {
	check := h.prober.check(ctx)
	if ctx.Err() != nil {
		return
	}
	h.rec.record(h.color, h.containerID, check)
	if check.Success {
		h.passes, h.failures = h.passes+1, 0
	} else {
		h.passes, h.failures = 0, h.failures+1
	}
	h.tally.Store(int64(h.passes))
	h.checks++
	if !check.Success || h.passes <= h.prober.hc.HealthyThreshold || h.checks%heartbeatChecks == 0 {
		eng.Send(parent, healthResult{color: h.color, containerID: h.containerID, check: check, passes: h.passes, failures: h.failures})
	}
}

// Limits of a health answer: what a container sends beyond them fails the
// check (a head) or is not read (a body), and the connection is closed.
// maxHealthError bounds the text of a failed check kept in the store (an
// error can quote what the container sent).
const (
	maxHealthHead  = 64 << 10
	maxHealthBody  = 64 << 10
	maxHealthError = 512
)

// prober makes a health actor's checks over one keep-alive HTTP/1.1
// connection to the container's published port. A check is then one small
// write and one read: no connection setup, no TIME_WAIT socket left per
// check, no goroutines of net/http's Transport; the request's bytes are
// built once. The answer's head is read by readAnswerHead (healthhead.go:
// the status and the framing, no header map) under a deadline and byte
// limits, so what a hostile container sends (a huge
// head, an endless or slow body) costs at most maxHealthHead+maxHealthBody
// bytes and the check's timeout. The connection is kept only when the
// answer was whole and framed (a length or chunks, read to the end within
// maxHealthBody, no Connection: close, no stray bytes after it); in any
// doubt it is closed and the next check dials anew. A kept connection the
// container closed (or that has bytes no request asked for) is noticed
// before it is used and replaced; a check that failed on a reused
// connection before any byte of an answer came back, as when the container
// closed it just then, is sent once more on a new one when its method is
// safe.
type prober struct {
	hc     config.HealthCheck
	addr   string
	url    string // for error messages
	req    []byte
	method string
	line   []byte // readAnswerHead's scratch for a long line

	mu     sync.Mutex // guards conn and closed against close
	conn   net.Conn
	rc     syscall.RawConn  // conn's, for quiet; nil: not a socket
	lr     io.LimitedReader // conn, bounded per check
	br     *bufio.Reader    // over lr
	closed bool

	peekFn  func(fd uintptr) // p.peek, bound once (no closure per check)
	quietFd bool             // peek's result
}

func newProber(port int, hc config.HealthCheck) *prober {
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
	p := &prober{hc: hc, addr: addr, url: "http://" + addr + hc.Path, req: []byte(req), method: method}
	p.peekFn = p.peek
	return p
}

// close closes the connection; a check running now fails, later ones do
// not connect.
func (p *prober) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// check makes one health request and judges it.
func (p *prober) check(ctx context.Context) deploy.HealthCheck {
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
		if len(check.Error) > maxHealthError {
			check.Error = strings.ToValidUTF8(check.Error[:maxHealthError], "") + "..."
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
func (p *prober) exchange(ctx context.Context, deadline time.Time) (int, error) {
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
		if reused && !answered && attempt == 0 && ctx.Err() == nil && safeProbe(p.method) && connectionLost(err) {
			continue
		}
		return 0, err
	}
}

// connection returns the kept connection when it is still open and quiet,
// else a new one.
func (p *prober) connection(ctx context.Context, deadline time.Time) (net.Conn, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errors.New("health checks stopped")
	}
	if c := p.conn; c != nil {
		if p.br.Buffered() == 0 && p.quiet() {
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
		return nil, false, errors.New("health checks stopped")
	}
	p.conn = c
	p.rc = nil
	if sc, ok := c.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	p.lr.R = c
	if p.br == nil {
		p.br = bufio.NewReaderSize(&p.lr, 4<<10)
	} else {
		p.br.Reset(&p.lr)
	}
	return c, false, nil
}

// drop closes conn, when it is still the kept one.
func (p *prober) drop(conn net.Conn) {
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
func (p *prober) roundTrip(conn net.Conn, deadline time.Time) (status int, keep, answered bool, err error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, false, false, err
	}
	if _, err := conn.Write(p.req); err != nil {
		return 0, false, false, err
	}
	p.lr.N = maxHealthHead
	h, err := readAnswerHead(p.br, p.method, &p.line)
	if cap(p.line) > 4<<10 {
		p.line = nil // a long line's scratch is not kept
	}
	if err != nil {
		// Any byte read means an answer began (the buffer was empty).
		answered = p.lr.N < maxHealthHead
		if p.lr.N <= 0 {
			err = fmt.Errorf("answer head larger than %d KiB", maxHealthHead>>10)
		}
		return 0, false, answered, err
	}
	// What the body says does not matter. A framed one (a length, or
	// chunks) of at most maxHealthBody is read to its end so the connection
	// can serve the next check; one that lasts until the container closes
	// the connection, or is larger, is not read: the connection is closed.
	if !h.chunked && (h.length < 0 || h.length > maxHealthBody) {
		return h.status, false, true, nil
	}
	p.lr.N = maxHealthBody + int64(p.br.Buffered()) + 1
	whole := true
	if h.chunked {
		n, berr := io.CopyN(io.Discard, httputil.NewChunkedReader(p.br), maxHealthBody+1)
		whole = berr == io.EOF && n <= maxHealthBody && discardTrailer(p.br, &p.line) == nil
	} else if h.length > 0 {
		_, berr := p.br.Discard(int(h.length))
		whole = berr == nil
	}
	keep = whole && !h.close && h.status >= 200 && p.br.Buffered() == 0
	return h.status, keep, true, nil
}

// quiet reports whether the kept connection is still open and has nothing
// to read: a non-blocking peek finds nothing (EAGAIN). A container that
// closed it shows EOF; bytes it sent unasked disqualify it too. It runs
// only between checks, on the check's goroutine.
func (p *prober) quiet() bool {
	if p.rc == nil {
		return false
	}
	p.quietFd = false
	return p.rc.Control(p.peekFn) == nil && p.quietFd
}

// peek sets p.quietFd when the socket fd has nothing to read.
func (p *prober) peek(fd uintptr) {
	var b [1]byte
	_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	p.quietFd = err == unix.EAGAIN
}

// safeProbe reports whether a health request with method may be sent again.
func safeProbe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// connectionLost reports whether err looks like a kept connection the
// container had closed.
func connectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
