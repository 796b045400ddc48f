package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Client connections are served without net/http's server: one goroutine
// per connection reads a request with the strict parser (parse.go),
// forwards it on a pooled upstream connection, and copies the answer back.
// No other goroutine takes part in a request, so a request costs no
// goroutine handoff beyond the network poller's. Measured with
// cmd/proxybench against the http.Server design this replaced.

// Sizes of a client connection's buffers.
const (
	clientReadBufSize  = 8 << 10
	clientWriteBufSize = 8 << 10
)

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
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	trusted bool   // the peer is a trusted proxy
	peer    string // the peer's address
	fwd     []byte // forwarding fields for an untrusted peer, up to "X-Forwarded-Host: "
	req     head
	resp    head

	deadline time.Time // the read deadline set on nc; zero: none
	state    atomic.Int32

	regT    *target     // the target onCut is registered with
	stopReg func() bool // stops that registration

	mu       sync.Mutex // guards the fields below, shared with onCut
	inFlight *target    // the target of the request being served
	cur      *upConn    // its upstream connection
	cut      bool       // the request was cut by a drain or Stop
}

func (p *Proxy) newClientConn(nc net.Conn) *clientConn {
	peer := peerAddr(nc.RemoteAddr().String())
	cc := &clientConn{
		p:       p,
		nc:      nc,
		br:      bufio.NewReaderSize(nc, clientReadBufSize),
		bw:      bufio.NewWriterSize(nc, clientWriteBufSize),
		trusted: isTrusted(peer, p.trusted),
		peer:    peer.String(),
	}
	cc.fwd = fmt.Appendf(nil, "X-Forwarded-For: %s\r\nX-Real-Ip: %s\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: %s\r\nX-Forwarded-Host: ",
		cc.peer, cc.peer, p.port[0])
	cc.req.contentLength, cc.resp.contentLength = -1, -1
	return cc
}

// serve serves requests until the client or the proxy ends the connection.
func (cc *clientConn) serve() {
	defer cc.close()
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
		cc.idleDeadline()
		if _, err := cc.br.Peek(1); err != nil {
			return
		}
		if !cc.state.CompareAndSwap(idle, connActive) {
			return // closed by Stop
		}
		if !cc.serveOne() {
			return
		}
	}
}

// idleDeadline bounds the wait for the next request and the reading of its
// head by DefaultIdleTimeout. To spare a timer update per request, a
// deadline less than a second old is kept.
func (cc *clientConn) idleDeadline() {
	now := time.Now()
	if !cc.deadline.IsZero() && cc.deadline.Sub(now) > DefaultIdleTimeout-time.Second {
		return
	}
	cc.deadline = now.Add(DefaultIdleTimeout)
	cc.nc.SetReadDeadline(cc.deadline)
}

func (cc *clientConn) close() {
	if cc.stopReg != nil {
		cc.stopReg()
	}
	cc.bw.Flush()
	cc.nc.Close()
	cc.p.dropConn(cc)
}

// serveOne serves one request; false ends the connection.
func (cc *clientConn) serveOne() bool {
	p, rq := cc.p, &cc.req
	if err := rq.readHead(cc.br, errHeadTooLarge); err != nil {
		switch err {
		case errHeadTooLarge:
			cc.writeError(431, "request header too large", true)
		case errBadRequest:
			cc.writeError(400, "malformed request", true)
		}
		return false
	}
	if err := rq.parseRequest(); err != nil {
		p.log.Debug("malformed request refused", "peer", cc.peer)
		cc.writeError(400, "malformed request", true)
		return false
	}
	if rq.expectOther {
		cc.writeError(417, "expectation not supported", true)
		return false
	}
	hasBody := rq.chunked || rq.contentLength > 0
	if hasBody && !cc.deadline.IsZero() {
		cc.nc.SetReadDeadline(time.Time{}) // bodies may take as long as they take
		cc.deadline = time.Time{}
	}
	t := p.acquire()
	if t == nil {
		p.log.Warn("no active color", "method", string(rq.method), "target", string(rq.target))
		cc.writeError(503, fmt.Sprintf("app %q has no active container", p.opts.App), hasBody || rq.close)
		return !hasBody && !rq.close
	}
	cc.register(t)
	if !cc.begin(t) {
		cc.end(t)
		return false
	}
	if rq.upgrade && !hasBody {
		uc := cc.handshake(t)
		if !cc.end(t) || uc == nil {
			if uc != nil {
				uc.Close()
				t.doneWS()
			}
			return false
		}
		// From here on the connection is a WebSocket, not a request.
		p.pipeWebSocket(t, cc.nc, cc.br, uc)
		uc.Close()
		t.doneWS()
		return false
	}
	keep := cc.forward(t, hasBody)
	return cc.end(t) && keep
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
	cc.nc.SetDeadline(time.Now())
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

// forward proxies one plain HTTP request to t; false ends the connection.
func (cc *clientConn) forward(t *target, hasBody bool) bool {
	p, rq, rs := cc.p, &cc.req, &cc.resp
	var uc *upConn
	sentContinue := false
	for attempt := 0; ; attempt++ {
		c, reused, err := t.pool.get(t.httpCut, hasBody)
		if err != nil {
			return cc.upstreamFailed(t, err, false)
		}
		uc = c
		if !cc.setCur(uc) {
			return false
		}
		cc.writeRequestHead(uc.bw, false)
		if hasBody {
			if rq.expect && !sentContinue {
				sentContinue = true
				cc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
				if cc.bw.Flush() != nil {
					uc.Close()
					return false
				}
			}
			var rerr, werr error
			if rq.chunked {
				rerr, werr = copyChunked(uc.bw, cc.br, false)
			} else {
				rerr, werr = copyN(uc.bw, cc.br, rq.contentLength)
			}
			if rerr != nil { // the client's body failed: nothing sensible to answer
				uc.Close()
				if rerr == errBadChunk {
					cc.writeError(400, "malformed chunked body", true)
				}
				return false
			}
			if werr != nil {
				uc.Close()
				return cc.upstreamFailed(t, werr, true)
			}
		}
		err = uc.bw.Flush()
		if err == nil {
			err = readResponseHead(rs, uc.br)
		}
		if err == nil {
			break
		}
		uc.Close()
		if reused && attempt == 0 && !hasBody && retryable(err) {
			continue
		}
		return cc.upstreamFailed(t, err, hasBody)
	}
	if rs.status == 101 || rs.teOther {
		uc.Close()
		return cc.upstreamFailed(t, errBadResponse, hasBody)
	}

	body := rs.hasBody(rq.method)
	framed := !body || rs.chunked || rs.contentLength >= 0
	closeClient := rq.close || !framed
	cc.writeResponseHead(rs, body && rs.chunked && !rq.http10, closeClient)
	var rerr, werr error
	switch {
	case !body:
	case rs.chunked:
		rerr, werr = copyChunked(cc.bw, uc.br, rq.http10)
	case rs.contentLength >= 0:
		rerr, werr = copyN(cc.bw, uc.br, rs.contentLength)
	default:
		rerr, werr = copyAll(cc.bw, uc.br)
	}
	if werr == nil && rerr == nil {
		werr = cc.bw.Flush()
	}
	if rerr != nil || werr != nil || rs.close || !framed {
		uc.Close()
		if rerr != nil && !cc.wasCut() {
			p.log.Warn("upstream response broken", "color", t.color, "addr", t.addr, "err", rerr)
		}
		if rerr != nil || werr != nil {
			return false // the client must see a truncated response
		}
		return !closeClient
	}
	cc.mu.Lock()
	cc.cur = nil
	cut := cc.cut
	cc.mu.Unlock()
	if cut {
		uc.Close()
		return false
	}
	t.pool.put(uc)
	return !closeClient
}

func (cc *clientConn) wasCut() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.cut
}

// readResponseHead reads a final response head (skipping 1xx other than
// 101) from an upstream connection.
func readResponseHead(rs *head, br *bufio.Reader) error {
	for {
		if err := rs.readHead(br, errBadResponse); err != nil {
			return err
		}
		if err := rs.parseResponse(); err != nil {
			return err
		}
		if rs.status >= 200 || rs.status == 101 {
			return nil
		}
	}
}

// upstreamFailed answers 502 for an exchange that failed before any of the
// response reached the client. After a partly sent request body the client
// connection cannot be reused.
func (cc *clientConn) upstreamFailed(t *target, err error, bodySent bool) bool {
	p, rq := cc.p, &cc.req
	if cc.wasCut() {
		p.log.Warn("request cut", "color", t.color, "method", string(rq.method), "target", string(rq.target))
		return false
	}
	p.log.Warn("upstream failed", "color", t.color, "addr", t.addr, "method", string(rq.method), "target", string(rq.target), "err", err)
	closeClient := bodySent || rq.close
	cc.writeError(502, fmt.Sprintf("app %q: upstream %s (%s) failed: %s", p.opts.App, t.color, t.addr, shortError(err)), closeClient)
	return !closeClient
}

// writeRequestHead writes the request head sent upstream: the client's
// method and target, its end-to-end fields unchanged and in order, the
// framing field, and the forwarding fields. With upgrade, the WebSocket
// handshake's Upgrade and Connection fields are kept.
func (cc *clientConn) writeRequestHead(w *bufio.Writer, upgrade bool) {
	rq := &cc.req
	target, host := rq.target, rq.host
	absolute := target[0] != '/' && target[0] != '*'
	if absolute {
		host, target = splitAbsolute(target)
	}
	w.Write(rq.method)
	w.WriteByte(' ')
	w.Write(target)
	w.WriteString(" HTTP/1.1\r\n")
	var trustedFwd map[string][]string
	for i := range rq.fields {
		f := &rq.fields[i]
		if f.drop {
			if upgrade && equalFold(f.name, "Upgrade") {
				w.Write(f.line)
			}
			continue
		}
		if isForwarding(f.name) {
			if cc.trusted {
				if trustedFwd == nil {
					trustedFwd = map[string][]string{}
				}
				k := canonicalForwarding(f.name)
				trustedFwd[k] = append(trustedFwd[k], string(f.value))
			}
			continue
		}
		if absolute && equalFold(f.name, "Host") {
			w.WriteString("Host: ")
			w.Write(host)
			w.WriteString("\r\n")
			continue
		}
		w.Write(f.line)
	}
	if rq.chunked {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if rq.teTrailers {
		w.WriteString("Te: trailers\r\n")
	}
	if upgrade {
		w.WriteString("Connection: Upgrade\r\n")
	}
	if !cc.trusted {
		w.Write(cc.fwd)
		w.Write(host)
		w.WriteString("\r\n\r\n")
		return
	}
	if trustedFwd == nil {
		trustedFwd = map[string][]string{}
	}
	peer, _ := netip.ParseAddr(cc.peer)
	forwardHeaders(trustedFwd, peer, string(host), cc.p.port, cc.p.trusted)
	for _, k := range forwardingHeaders {
		for _, v := range trustedFwd[k] {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
}

// isForwarding reports whether name is one of the forwarding fields.
func isForwarding(name []byte) bool {
	if len(name) == 0 || (lower(name[0]) != 'x' && lower(name[0]) != 'f') {
		return false
	}
	return canonicalForwarding(name) != ""
}

func canonicalForwarding(name []byte) string {
	for _, k := range forwardingHeaders {
		if equalFold(name, k) {
			return k
		}
	}
	return ""
}

// writeResponseHead writes the upstream's status line and end-to-end
// fields to the client, adding only framing and Connection: close.
func (cc *clientConn) writeResponseHead(rs *head, chunked, closeClient bool) {
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(rs.line)
	for i := range rs.fields {
		if !rs.fields[i].drop {
			w.Write(rs.fields[i].line)
		}
	}
	if chunked {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeClient {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// writeError answers with a short plain-text body naming the app.
func (cc *clientConn) writeError(status int, msg string, closeClient bool) {
	body := "bluegreen: " + msg + "\n"
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(status))
	w.WriteByte(' ')
	w.WriteString(statusText(status))
	w.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	if closeClient {
		w.WriteString("\r\nConnection: close")
	}
	w.WriteString("\r\n\r\n")
	if string(cc.req.method) != "HEAD" {
		w.WriteString(body)
	}
	w.Flush()
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

// handshake proxies a WebSocket handshake on a fresh upstream connection.
// When the upstream answers 101 it counts a WebSocket on t and returns the
// upstream connection; a refused upgrade is passed to the client as an
// ordinary answer (nil).
func (cc *clientConn) handshake(t *target) *upConn {
	rs := &cc.resp
	uc, err := t.pool.dial(t.httpCut)
	if err != nil {
		cc.upstreamFailed(t, err, false)
		return nil
	}
	if !cc.setCur(uc) {
		return nil
	}
	cc.writeRequestHead(uc.bw, true)
	err = uc.bw.Flush()
	if err == nil {
		err = readResponseHead(rs, uc.br)
	}
	if err != nil {
		uc.Close()
		cc.upstreamFailed(t, err, false)
		return nil
	}
	if rs.status != 101 {
		defer uc.Close()
		body := rs.hasBody(cc.req.method)
		cc.writeResponseHead(rs, body && rs.chunked, true)
		switch {
		case !body:
		case rs.chunked:
			copyChunked(cc.bw, uc.br, false)
		case rs.contentLength >= 0:
			copyN(cc.bw, uc.br, rs.contentLength)
		default:
			copyAll(cc.bw, uc.br)
		}
		cc.bw.Flush()
		return nil
	}
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(rs.line)
	for i := range rs.fields {
		f := &rs.fields[i]
		if !f.drop || equalFold(f.name, "Upgrade") {
			w.Write(f.line)
		}
	}
	w.WriteString("Connection: Upgrade\r\n\r\n")
	if w.Flush() != nil {
		uc.Close()
		return nil
	}
	cc.nc.SetReadDeadline(time.Time{})
	cc.deadline = time.Time{}
	t.wsN.Add(1)
	return uc
}

// retryable reports whether err looks like a keep-alive connection the
// upstream had already closed.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// shortError keeps the cause of a network error without Go's op chain.
func shortError(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed before a response"
	}
	return err.Error()
}
