package proxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/proxy/internal/http1"
)

// Client connections are served without net/http's server: one goroutine
// per connection reads a request with the strict codec (internal/http1),
// forwards it on a pooled upstream connection (exchange.go), and copies the
// answer back. No other goroutine takes part in a request, so a request
// costs no goroutine handoff beyond the network poller's. Measured with
// cmd/proxybench against the http.Server design this replaced.
//
// This file is the connection's life: waiting for a request under the
// head and idle timeouts, one request after another, Stop and drain cuts.

// Sizes of a client connection's buffers. The reader stays with the
// connection (an idle connection waits in it); the rest is scratch.
const (
	clientReadBufSize  = 8 << 10
	clientWriteBufSize = 8 << 10
)

// scratch is the memory of one request in flight: the client writer and
// the space of the request and response heads. A connection takes one
// from the pool for each request (one pool operation each way) and gives
// it back when the request ends, so that an idle connection holds none.
type scratch struct {
	bw        *bufio.Writer
	req, resp http1.Space
}

var scratches = sync.Pool{New: func() any { return &scratch{bw: bufio.NewWriterSize(nil, clientWriteBufSize)} }}

// States of a client connection, for Stop.
const (
	connIdle   = iota // waiting for the next request
	connActive        // reading, forwarding or answering a request
	connClosed        // closed by Stop while idle
	connNew           // waiting for its first request (Stop leaves it a moment: newConnGrace)
)

// clientConn is one client connection.
type clientConn struct {
	p       *Proxy
	nc      net.Conn      // the connection (a rawConn for TCP)
	pc      *progressConn // nc with the timeouts, under br and bw
	br      *bufio.Reader
	bw      *bufio.Writer // sc.bw; nil while idle
	sc      *scratch      // nil while idle
	trusted bool          // the peer is a trusted proxy
	peer    string        // the peer's address
	fwd     []byte        // forwarding fields for an untrusted peer, up to "X-Forwarded-Host: "
	local   []byte        // the address the client connected to, once needed (Host of HTTP/1.0)
	req     http1.Head
	resp    http1.Head

	// The answer of the request being served, counted when it ends
	// (releaseScratch): when its first byte was there, the status code
	// written (0: none yet) and the counters of the color it was routed
	// to (nil: none).
	start time.Time
	code  int
	stats *ColorStats

	state atomic.Int32

	regT    *target     // the target onCut is registered with
	stopReg func() bool // stops that registration

	mu       sync.Mutex // guards the fields below, shared with onCut
	inFlight *target    // the target of the request being served
	cur      *upConn    // its upstream connection
	cut      bool       // the request was cut by a drain or Stop
}

func (p *Proxy) newClientConn(nc net.Conn) *clientConn {
	peer := peerAddr(nc.RemoteAddr().String())
	pc := &progressConn{Conn: nc}
	cc := &clientConn{
		p:       p,
		nc:      nc,
		pc:      pc,
		br:      bufio.NewReaderSize(pc, clientReadBufSize),
		trusted: isTrusted(peer, p.trusted),
		peer:    peer.String(),
	}
	cc.fwd = []byte("X-Forwarded-For: " + cc.peer + "\r\nX-Real-Ip: " + cc.peer +
		"\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: " + p.port[0] + "\r\nX-Forwarded-Host: ")
	cc.req.Release()
	cc.resp.Release()
	return cc
}

// serve serves requests until the client or the proxy ends the connection.
func (cc *clientConn) serve() {
	defer cc.close()
	cc.pc.writeProgress(cc.p.tmo.body)
	for first := true; ; first = false {
		// A stopping proxy closes a connection after its request, but serves
		// a new connection's first one: that client would not retry it.
		idle := int32(connIdle)
		if first {
			idle = connNew
		}
		cc.state.Store(idle)
		if cc.p.stopping.Load() && !first {
			return
		}
		if !cc.waitRequest(first) {
			return
		}
		if !cc.state.CompareAndSwap(idle, connActive) {
			return // closed by Stop
		}
		cc.takeScratch()
		keep := cc.serveOne()
		cc.releaseScratch()
		if !keep {
			return
		}
	}
}

// waitRequest waits for the first byte of the next request and sets the
// deadline of its head: DefaultHeadTimeout from the connection's start or
// the end of the previous response. A keep-alive client that sends nothing
// in that time is idle: it is closed, without an answer, when it stays so
// for DefaultIdleTimeout; its next request's head then has the head
// timeout from its first byte. A new client that sends nothing gets 408.
func (cc *clientConn) waitRequest(first bool) bool {
	tmo := &cc.p.tmo
	start := time.Now()
	cc.pc.readBy(start.Add(tmo.head), slackOf(tmo.head))
	_, err := cc.br.Peek(1)
	if err == nil {
		return true
	}
	if !isTimeout(err) || cc.p.stopping.Load() {
		return false
	}
	if first {
		cc.timedOut()
		return false
	}
	cc.pc.readBy(start.Add(tmo.idle), 0)
	if _, err := cc.br.Peek(1); err != nil {
		return false // idle too long (or closed): no answer is due
	}
	cc.pc.readBy(time.Now().Add(tmo.head), slackOf(tmo.head))
	return true
}

// timedOut answers 408 to a client that took too long for its head.
func (cc *clientConn) timedOut() {
	cc.takeScratch()
	cc.writeError(408, "request head not received in time", true)
}

func (cc *clientConn) takeScratch() {
	if cc.sc != nil {
		return
	}
	cc.sc = scratches.Get().(*scratch)
	cc.bw = cc.sc.bw
	cc.bw.Reset(cc.pc)
	cc.req.Use(&cc.sc.req)
	cc.resp.Use(&cc.sc.resp)
	cc.start, cc.code, cc.stats = time.Now(), 0, nil
}

// releaseScratch ends the request: it flushes the writer, counts the
// answer (the one place where an answer to the client ends), releases the
// heads and returns the scratch to the pool.
func (cc *clientConn) releaseScratch() {
	if cc.sc == nil {
		return
	}
	cc.bw.Flush()
	if cc.code != 0 {
		s := cc.stats
		if s == nil {
			s = cc.p.stats.Color(ColorNone)
		}
		s.Observe(cc.code, time.Since(cc.start))
		cc.code = 0
	}
	cc.bw.Reset(nil)
	cc.req.Release()
	cc.resp.Release()
	scratches.Put(cc.sc)
	cc.sc, cc.bw = nil, nil
}

func (cc *clientConn) close() {
	if cc.stopReg != nil {
		cc.stopReg()
	}
	cc.releaseScratch()
	cc.nc.Close()
	cc.p.dropConn(cc)
}

// register makes a drain cut of t's HTTP requests reach this connection.
func (cc *clientConn) register(t *target) {
	if cc.regT == t {
		return
	}
	if cc.stopReg != nil {
		cc.stopReg()
	}
	cc.regT = t
	cc.stopReg = context.AfterFunc(t.httpCut, cc.onCut)
}

// begin marks a request on t in flight; false when t is already cut.
func (cc *clientConn) begin(t *target) bool {
	cc.stats = t.stats // the answer counts as the color's, whatever happens
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.inFlight = t
	if t.httpCut.Err() != nil && !cc.cut {
		cc.cut = true
		t.nHTTPCut.Add(1)
	}
	return !cc.cut
}

// end finishes the counted request on t; false when it was cut.
func (cc *clientConn) end(t *target) bool {
	cc.mu.Lock()
	cc.inFlight, cc.cur = nil, nil
	cut := cc.cut
	cc.mu.Unlock()
	t.doneHTTP()
	return !cut
}

// onCut runs when the drain (or Stop) cuts the registered target's HTTP
// requests: a request in flight on this connection is aborted by closing
// its upstream connection and expiring the client connection's deadlines.
func (cc *clientConn) onCut() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.inFlight == nil || cc.cut {
		return
	}
	cc.cut = true
	cc.inFlight.nHTTPCut.Add(1)
	if cc.cur != nil {
		cc.cur.Close()
	}
	cc.pc.abort()
}

// setCur records the upstream connection of the request in flight; false
// (and uc closed) when the request was cut meanwhile.
func (cc *clientConn) setCur(uc *upConn) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.cur = uc
	if cc.cut {
		uc.Close()
		return false
	}
	return true
}

func (cc *clientConn) wasCut() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.cut
}

// localHost returns the address the client connected to, as a Host value.
func (cc *clientConn) localHost() []byte {
	if cc.local == nil {
		cc.local = []byte(cc.nc.LocalAddr().String())
	}
	return cc.local
}
