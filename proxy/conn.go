package proxy

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// Client connections are served without net/http's server: one goroutine
// per connection reads a request with the strict codec (internal/http1),
// forwards it on a pooled upstream connection (exchange.go), and copies the
// answer back. No other goroutine takes part in a request, so a request
// costs no goroutine handoff beyond the network poller's. Measured with
// cmd/proxybench against the http.Server design this replaced.
//
// This file is the connection's life: one request after another, its
// buffers, Stop and drain cuts; wait.go waits for each request under the
// head and idle timeouts, idle_linux.go parks a connection that idles.

// Sizes of a client connection's buffers. None stays with an idle
// connection: the reader is taken from a pool when the first bytes of a
// request are there (rawConn.await) and given back when the request ended
// with nothing buffered; the rest is scratch.
const (
	clientReadBufSize  = 8 << 10
	clientWriteBufSize = 8 << 10
)

// scratch is the memory of one request in flight: the client writer, the
// upstream connection's reader and writer, and the space of the request
// and response heads. A connection takes one from the pool for each
// request (one pool operation each way) and gives it back when the request
// ends, so that an idle connection holds none.
type scratch struct {
	bw        *bufio.Writer
	ubr       *bufio.Reader
	ubw       *bufio.Writer
	req, resp http1.Space

	// The request's own state, reset by takeScratch.
	set          *Settings // the settings in force when it began
	parsed       bool      // its head was parsed: its fields may be logged
	lineParsed   bool      // its request line was parsed (also when the rest of its head was refused)
	wantOutage   bool      // send found the container refusing, or lost its connection: hold it (outage hold)
	lostAt       time.Time // when send lost the connection of a request it sent (zero: nothing went out)
	outageColor  string    // the color an outage hold is to wait for
	outageGen    uint64    // that color's healthyGen before the connect
	outageTarget *target   // the route then
	upStart      time.Time // when it began to go upstream (zero: not sent); access log only
	upHead       time.Time // when the answer's head came; access log only
	inMark       int64     // progressConn's counts when it began, for bytes_in and bytes_out
	outMark      int64
	reqIDN       int // the length of reqID; 0: none chosen yet
	reqID        [maxRequestIDLen]byte
	rec          accessRecord
	enc          recordEncoder
	canaryChosen bool   // its canary bucket is chosen (canary.go)
	canarySet    bool   // it got a new cookie value: its answer sets it
	canaryBucket uint32 // its bucket, 0-99
	canaryValue  [canaryValueLen]byte
}

var scratches = sync.Pool{New: func() any {
	return &scratch{
		bw:  bufio.NewWriterSize(nil, clientWriteBufSize),
		ubr: bufio.NewReaderSize(nil, upstreamBufSize),
		ubw: bufio.NewWriterSize(nil, upstreamBufSize),
	}
}}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientReadBufSize) }}

// States of a client connection, for Stop and the idle poller.
const (
	connIdle      = iota // waiting for the next request
	connActive           // reading, forwarding or answering a request
	connClosed           // closed by Stop, or by the idle timeout while parked
	connNew              // waiting for its first request (Stop leaves it a moment: newConnGrace)
	connParked           // idle, with no goroutine: the idle poller wakes it (idle_linux.go)
	connParkedNew        // connNew, parked
	connHeld             // its request is held, with no goroutine (hold.go)
)

// parkAfter is how long a connection waits for its next request on a
// goroutine of its own before it parks (timeouts.park): its goroutine
// ends, and the idle poller starts a new one when a byte comes. A
// connection in use sends its next request sooner and never pays for
// parking.
const parkAfter = time.Second

// clientConn is one client connection.
type clientConn struct {
	p       *Proxy
	nc      net.Conn      // the connection (a rawConn for TCP)
	raw     *rawConn      // nc, when it is one; nil: it can neither await nor park
	pc      *progressConn // nc with the timeouts, under br and bw
	br      *bufio.Reader // nil while idle with nothing buffered
	bw      *bufio.Writer // sc.bw; nil while idle
	sc      *scratch      // nil while idle
	trusted bool          // the peer is a trusted proxy
	needPP  bool          // the PROXY protocol header is still to come (peer.go)
	peer    string        // the peer's address (the client's, from a PROXY protocol header)
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

	// The request's body and the connection's fate (body.go): the state
	// of the body (bodyUnknown...), whether the client got 100 Continue,
	// and whether the answer said Connection: close.
	body      int8
	continued bool
	closing   bool

	wsRec *accessRecord // a WebSocket's access log record, written when it ends

	state     atomic.Int32
	waitStart time.Time // when the wait for the next request began
	parking             // the idle poller's part (idle_linux.go)
	hold      *holding  // a held request's part (hold.go); nil but for a request that was held

	regT    *target     // the target onCut is registered with
	stopReg func() bool // stops that registration

	mu       sync.Mutex // guards the fields below, shared with onCut and a stop
	inFlight *target    // the target of the request being served
	begun    time.Time  // when that request began (its start)
	cur      *upConn    // its upstream connection
	cut      bool       // the request was cut by a drain or Stop
}

func (p *Proxy) newClientConn(nc net.Conn, peer netip.Addr, needPP bool) *clientConn {
	raw, _ := nc.(*rawConn)
	cc := &clientConn{
		p:      p,
		nc:     nc,
		raw:    raw,
		pc:     &progressConn{Conn: nc, raw: raw},
		needPP: needPP,
	}
	cc.setPeer(peer)
	cc.req.Release()
	cc.resp.Release()
	return cc
}

// setPeer makes peer the connection's client: whose forwarding fields are
// believed when it is trusted, and whose address the proxy's own
// forwarding fields carry.
func (cc *clientConn) setPeer(peer netip.Addr) {
	cc.trusted = isTrusted(peer, cc.p.trusted)
	cc.peer = peer.String()
	cc.fwd = []byte("X-Forwarded-For: " + cc.peer + "\r\nX-Real-Ip: " + cc.peer +
		"\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: " + cc.p.port[0] + "\r\nX-Forwarded-Host: ")
}

// serve serves requests until the client or the proxy ends the connection.
func (cc *clientConn) serve() {
	cc.pc.writeProgress(cc.p.tmo.body)
	cc.waitStart = time.Now()
	cc.run(true)
}

// resume goes on serving a connection the idle poller woke.
func (cc *clientConn) resume(first bool) { cc.run(first) }

// run serves requests, beginning with a wait for the next one that started
// at cc.waitStart, until the connection ends or parks.
//
// A stopping proxy ends a connection after the answer to its next request,
// which says Connection: close; a connection idle at the stop waits for
// that request as any idle one does, so that no request that is on its way
// meets a closed connection (stop.go).
func (cc *clientConn) run(first bool) {
	for ; ; first = false {
		idle := int32(connIdle)
		if first {
			idle = connNew
		}
		cc.state.Store(idle)
		switch cc.waitRequest(first) {
		case waitClose:
			cc.close()
			return
		case waitPark:
			if cc.park(first) {
				return // the idle poller or the idle timeout has it now
			}
			// Parking failed: wait here.
			if cc.waitHere(first) == waitClose {
				cc.close()
				return
			}
		}
		if !cc.state.CompareAndSwap(idle, connActive) {
			cc.close()
			return // closed by Stop
		}
		if cc.needPP && !cc.readProxyHeader() {
			cc.close()
			return
		}
		keep, held := cc.serveRequest()
		if held {
			return // the hold has it now (hold.go)
		}
		if !keep {
			cc.close()
			return
		}
		cc.waitStart = time.Now()
	}
}

// serveRequest serves the request whose first bytes are there. keep: the
// connection may read a next one; held: the request is held and the
// connection belongs to the hold (the caller returns at once and touches
// nothing of cc).
func (cc *clientConn) serveRequest() (keep, held bool) {
	cc.takeScratch()
	// The body invariant (body.go): the next request is read only
	// when this one's answer did not end the connection and its body
	// was wholly read.
	answered, held := cc.serveOne()
	if held {
		return false, true
	}
	cc.signalDispatched()
	cc.hold = nil // the request is over, and so are its holds
	keep = answered && cc.reusable()
	linger := answered && !keep && cc.lingers()
	cc.releaseScratch()
	if linger {
		cc.lingerClose()
	}
	cc.releaseReader()
	return keep, false
}

// timedOut answers 408 to a client that took too long for its head; one
// that still owes its PROXY protocol header gets no answer.
func (cc *clientConn) timedOut() {
	if cc.needPP {
		return
	}
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
	if cc.hold != nil && !cc.hold.heldAt.IsZero() {
		cc.start = cc.hold.heldAt // a held request began when it came
	}
	sc := cc.sc
	sc.set, sc.parsed, sc.lineParsed, sc.wantOutage, sc.reqIDN = cc.p.settings(), false, false, false, 0
	sc.canaryChosen, sc.canarySet = false, false
	sc.upStart, sc.upHead, sc.lostAt = time.Time{}, time.Time{}, time.Time{}
	sc.inMark, sc.outMark = cc.pc.in, cc.pc.out
	if cc.br != nil {
		sc.inMark -= int64(cc.br.Buffered()) // read already, and this request's
	}
}

// attach gives the upstream connection uc the scratch's reader and writer
// for the request; a pooled connection holds none.
func (cc *clientConn) attach(uc *upConn) {
	uc.br, uc.bw = cc.sc.ubr, cc.sc.ubw
	uc.br.Reset(uc.Conn)
	uc.bw.Reset(uc.Conn)
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
		now := time.Now()
		s.Observe(cc.code, now.Sub(cc.start))
		cc.logRequest(now) // after the flush: the client has its answer
		cc.code = 0
	}
	cc.bw.Reset(nil)
	cc.sc.ubr.Reset(nil)
	cc.sc.ubw.Reset(nil)
	cc.req.Release()
	cc.resp.Release()
	scratches.Put(cc.sc)
	cc.sc, cc.bw = nil, nil
}

// close ends the connection; only the goroutine that owns it (its own, or
// the one that found it parked) calls it, once.
func (cc *clientConn) close() {
	if cc.stopReg != nil {
		cc.stopReg()
	}
	cc.releaseScratch()
	cc.dropReader()
	cc.nc.Close()
	if cc.raw != nil {
		cc.raw.dropStash()
	}
	cc.p.dropConn(cc)
	noteClosed()
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
	cc.inFlight, cc.begun = t, cc.start
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
	cc.cutLocked()
}

// cutBegunBy cuts the request in flight when it began at or before at (a
// stop's bound, stop.go).
func (cc *clientConn) cutBegunBy(at time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.inFlight != nil && !cc.begun.After(at) {
		cc.cutLocked()
	}
}

// cutLocked aborts the request in flight, if any; cc.mu is held.
func (cc *clientConn) cutLocked() {
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
