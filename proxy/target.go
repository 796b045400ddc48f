package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// Pool and buffer sizes of the upstream side.
const (
	// DefaultMaxIdlePerTarget is how many idle keep-alive connections the
	// proxy keeps open to one upstream.
	DefaultMaxIdlePerTarget = 256
	// DefaultDialTimeout bounds connecting to an upstream.
	DefaultDialTimeout = 5 * time.Second
	// upstreamBufSize is the size of the read and write buffers of one
	// upstream connection.
	upstreamBufSize = 16 << 10
)

// target is one routing of a color to an upstream address. SetTarget makes a
// new one; requests routed to it are counted on it until they end, so a
// drain of the color waits for exactly the requests that started there.
type target struct {
	color string
	addr  string

	httpN atomic.Int64 // in-flight HTTP requests (including WebSocket handshakes)
	wsN   atomic.Int64 // open WebSockets
	idle  chan struct{}

	// httpCut and wsCut are canceled when the drain cuts the remaining HTTP
	// requests or WebSockets; each request registers its abort on them.
	httpCut, wsCut      context.Context
	cutHTTP, cutWS      context.CancelFunc
	nHTTPCut, nWSClosed atomic.Int64

	pool *pool

	// The warnings of requests routed here, one line a second each
	// (warn.go); set by SetTarget.
	failedWarn, brokenWarn, cutWarn *warnLimiter

	stats *ColorStats // counts the answers of the requests routed here: the color's, kept across routings
}

func newTarget(color, addr string, maxIdle int, stats *ColorStats) *target {
	t := &target{color: color, addr: addr, idle: make(chan struct{}, 1), stats: stats}
	t.httpCut, t.cutHTTP = context.WithCancel(context.Background())
	t.wsCut, t.cutWS = context.WithCancel(context.Background())
	t.pool = &pool{addr: addr, idle: make(chan *upConn, maxIdle), dialTimeout: DefaultDialTimeout}
	return t
}

// doneHTTP ends one counted HTTP request.
func (t *target) doneHTTP() {
	if t.httpN.Add(-1) == 0 {
		t.signal()
	}
}

// doneWS ends one counted WebSocket.
func (t *target) doneWS() {
	if t.wsN.Add(-1) == 0 {
		t.signal()
	}
}

func (t *target) signal() {
	select {
	case t.idle <- struct{}{}:
	default:
	}
}

// empty reports whether nothing routed to t is in flight.
func (t *target) empty() bool { return t.httpN.Load() == 0 && t.wsN.Load() == 0 }

// upConn is one connection to an upstream. Its reader and writer are the
// request's (clientConn.attach): a pooled one holds none.
type upConn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer

	raw  *rawConn       // the connection, when it can defer a write (nil: not a socket)
	live http1.Liveness // whether it may carry the next request, when idle
	dl   time.Time      // its read deadline (zero: none): response_timeout's
}

// awaitAnswer bounds the wait for the answer's head to d from now (0: no
// bound), like a progress timeout (progressConn): the deadline moves only
// when it would come more than its slack early, so that a busy connection
// moves it about once a second.
func (c *upConn) awaitAnswer(d time.Duration, now time.Time) {
	if d <= 0 {
		c.unbound()
		return
	}
	if at := now.Add(d); c.dl.Before(at) {
		c.dl = at.Add(slackOf(d))
		c.Conn.SetReadDeadline(c.dl)
	}
}

// unbound lifts the bound of awaitAnswer: an answer's body and a
// WebSocket are not bounded.
func (c *upConn) unbound() {
	if !c.dl.IsZero() {
		c.dl = time.Time{}
		c.Conn.SetReadDeadline(time.Time{})
	}
}

// pool keeps idle keep-alive connections to one upstream address.
type pool struct {
	addr        string
	idle        chan *upConn
	closed      atomic.Bool
	dialTimeout time.Duration
}

// get returns an idle connection, or dials a new one. An idle connection
// the upstream closed, or that has bytes no request asked for, is closed
// instead: with probe, get checks with a system call of its own
// (http1.Liveness); without, the caller checks as it sends the request
// (rawConn.deferWrite), or get probes when the connection cannot. reused
// reports whether the connection served an earlier request.
func (p *pool) get(ctx context.Context, probe bool) (c *upConn, reused bool, err error) {
	for {
		select {
		case c = <-p.idle:
			if !probe && c.raw != nil || c.live.Alive() {
				return c, true, nil
			}
			c.Close()
			continue
		default:
		}
		c, err = p.dial(ctx)
		return c, false, err
	}
}

func (p *pool) dial(ctx context.Context) (*upConn, error) {
	d := net.Dialer{Timeout: p.dialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", p.addr, err)
	}
	nc = newRawConn(nc)
	c := &upConn{Conn: nc}
	c.raw, _ = nc.(*rawConn)
	c.live.Watch(nc)
	return c, nil
}

// put returns c to the pool, or closes it when the pool is full or closed.
// Its reader, which holds nothing, and writer go back to the request.
func (p *pool) put(c *upConn) {
	c.br, c.bw = nil, nil
	if p.closed.Load() {
		c.Close()
		return
	}
	select {
	case p.idle <- c:
	default:
		c.Close()
		return
	}
	if p.closed.Load() {
		p.closeIdle()
	}
}

// close closes every idle connection and makes later puts close theirs.
func (p *pool) close() {
	p.closed.Store(true)
	p.closeIdle()
}

func (p *pool) closeIdle() {
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}
