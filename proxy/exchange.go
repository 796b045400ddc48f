package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// One request's exchange with the upstream: reading and checking the
// request, forwarding it with its body, reading the answer and passing it
// back, and deciding whether the upstream connection may serve another
// request. The rules that concern the upstream (docs/proxy.md, "Limits
// and timeouts") live here: a request is sent twice only when it is safe
// and nothing of the first answer arrived; an upstream connection that
// sent anything beyond its answer's framing is closed, never pooled. The
// client's body is read by sendBody, or thrown away by closeAfter (body.go)
// when the proxy answers before it: never parsed as a request.

var (
	errBadResponse   = errors.New("malformed response")
	errLargeResponse = errors.New("response head larger than 64 KiB")
)

// maxInterim bounds the 1xx answers skipped before a final one.
const maxInterim = 16

// serveOne serves one request. answered: an answer was written whole
// (false ends the connection at once: a client gone, a request cut, an
// answer cut); held: the request is held and the connection belongs to its
// hold (hold.go). Whether the connection goes on after an answer is
// decided where its head is written (closeAfter, body.go).
func (cc *clientConn) serveOne() (answered, held bool) {
	p, rq := cc.p, &cc.req
	cc.body, cc.continued, cc.closing = bodyUnknown, false, false
	if ok, answered := cc.readRequest(); !ok {
		return answered, false
	}
	hasBody := rq.Chunked || rq.ContentLength > 0
	cc.body = bodyDone
	if hasBody {
		cc.body = bodyUnread
		cc.pc.readProgress(p.tmo.body) // a body may take as long as it takes, while it moves
	}
	for next := cc.admit(); ; next = cc.holdOutage(cc.sc.outageColor) {
		switch next {
		case admitAnswered:
			return true, false
		case admitHeld:
			return false, true
		case admitEnd:
			return false, false
		}
		if answered, again := cc.route(hasBody); !again {
			return answered, false
		}
	}
}

// route sends the request to the active color and passes its answer
// back; answered as serveOne's. again: nothing of the request reached the
// container, which is down or refused it, and the outage hold is to keep
// it (for the color in cc.sc.outageColor).
func (cc *clientConn) route(hasBody bool) (answered, again bool) {
	p, rq := cc.p, &cc.req
	t := p.acquire(cc)
	if t == nil {
		p.noActiveWarn.warn("method", string(rq.Method()), "target", string(rq.Target()))
		cc.writeError(503, fmt.Sprintf("app %q has no active container", p.opts.App), rq.Close)
		return true, false
	}
	sc := cc.sc
	sc.outageGen, sc.outageTarget = p.healthyGen(t.color), t // before the connect: a health check after it counts
	if sc.set.OutageHold > 0 && p.isDown(t.color) {
		t.doneHTTP() // never began
		sc.outageColor = t.color
		return false, true
	}
	cc.register(t)
	if !cc.begin(t) {
		cc.end(t)
		return false, false
	}
	if rq.Upgrade && !hasBody {
		answered = cc.upgrade(t)
	} else {
		answered = cc.forward(t, hasBody)
		answered = cc.end(t) && answered
	}
	if cc.sc != nil && cc.sc.wantOutage { // (a WebSocket gave its scratch back)
		cc.sc.outageColor = t.color
		return false, true
	}
	return answered, false
}

// readRequest reads and checks the request head, and what already came of
// a chunked body. ok false: the request was refused (answered true) or the
// client went away or timed out unanswered.
func (cc *clientConn) readRequest() (ok, answered bool) {
	rq := &cc.req
	if err := rq.ReadHead(cc.br); err != nil {
		switch {
		case err == http1.ErrHeadTooLarge:
			cc.writeError(431, "request head larger than 64 KiB", true)
		case err == http1.ErrMalformed:
			cc.writeError(400, "malformed request", true)
		case isTimeout(err) && !cc.wasCut():
			cc.writeError(408, "request head not received in time", true)
		default:
			return false, false
		}
		return false, true
	}
	err := rq.ParseRequest()
	cc.sc.parsed, cc.sc.lineParsed = err == nil, rq.RequestLine() // what the access log may say of it
	if err != nil {
		cc.p.log.Debug("malformed request refused", "peer", cc.peer)
		cc.writeError(400, "malformed request", true)
		return false, true
	}
	if rq.ExpectOther {
		cc.writeError(417, "expectation not supported", true)
		return false, true
	}
	if rq.Chunked {
		// What arrived of the body is checked before anything is sent,
		// so that a malformed request that came whole reaches nobody.
		if b, _ := cc.br.Peek(cc.br.Buffered()); http1.CheckChunked(b) == http1.ErrBadChunk {
			cc.writeError(400, "malformed chunked body", true)
			return false, true
		}
	}
	return true, false
}

// forward proxies one plain HTTP request to t; false: no whole answer was
// written, and the connection ends.
func (cc *clientConn) forward(t *target, hasBody bool) bool {
	uc, answered := cc.send(t, hasBody)
	if uc == nil {
		return answered
	}
	if rs := &cc.resp; rs.Status() == 101 || rs.TEOther {
		uc.Close()
		return cc.upstreamFailed(t, errBadResponse)
	}
	return cc.relay(t, uc)
}

// send sends the request to t and reads the final answer's head; it
// returns the upstream connection, or nil and whether the proxy answered
// the client itself (a 502, a 400 or 408 for a failed body).
func (cc *clientConn) send(t *target, hasBody bool) (uc *upConn, answered bool) {
	rq := &cc.req
	resent := false
	// A request without a body whose head fits the upstream writer is
	// sent by the read that then waits for the answer (deferWrite), which
	// checks the pooled connection on the way; others are checked first.
	deferred := !hasBody && 2*rq.Len()+1024 <= upstreamBufSize
	for attempt := 0; ; attempt++ {
		c, reused, err := t.pool.get(t.httpCut, !deferred)
		if err != nil {
			// Nothing of the request went out (or, after a resend, it
			// may go out again): the outage hold may keep it.
			if cc.outageHolds(err) {
				return nil, false
			}
			return nil, cc.upstreamFailed(t, err) // the body is not read yet: closeAfter settles it
		}
		uc = c
		cc.attach(uc)
		if !cc.setCur(uc) {
			return nil, false
		}
		cc.writeRequestHead(uc.bw, false)
		if hasBody {
			if sent, answered := cc.sendBody(t, uc); !sent {
				return nil, answered
			}
		}
		if deferred && uc.raw != nil {
			uc.raw.deferWrite()
		}
		cc.sending(uc)
		err = uc.bw.Flush()
		cc.signalDispatched()
		gotSome := false
		if err == nil {
			gotSome, err = readResponseHead(&cc.resp, uc.br)
		}
		if err == nil {
			cc.noteAnswered()
			return uc, false
		}
		uc.Close()
		switch {
		case err == errStale && attempt < 3:
			continue // nothing of the request went out: any request may go on another connection
		case reused && !resent && !hasBody && !gotSome && http1.Resendable(rq.Method()) && http1.ConnectionLost(err) && !cc.lostBefore():
			// A keep-alive connection the upstream closed just as the
			// request went out: safe to send again, but only a request
			// that cannot have done anything, only when not a byte of an
			// answer came back, and not once it was held for a lost
			// connection (lostHolds): at most three sends in all.
			resent = true
			continue
		case isTimeout(err) && !cc.wasCut():
			return nil, cc.gatewayTimeout(t)
		case cc.lostHolds(err, hasBody, gotSome):
			return nil, false // route holds it
		}
		return nil, cc.upstreamFailed(t, err)
	}
}

// outageHolds reports whether the outage hold is to keep the request
// whose connection to its container failed with err (refused: the
// container is not listening), and notes it for route.
func (cc *clientConn) outageHolds(err error) bool {
	if cc.sc.set.OutageHold <= 0 || !errors.Is(err, syscall.ECONNREFUSED) || cc.wasCut() {
		return false
	}
	cc.sc.wantOutage = true
	return true
}

// gatewayTimeout answers 504 for a request whose answer's head did not
// come within response_timeout; the upstream connection was closed.
func (cc *clientConn) gatewayTimeout(t *target) bool {
	rq := &cc.req
	tmo := cc.sc.set.ResponseTimeout
	t.failedWarn.warn("method", string(rq.Method()), "target", string(rq.Target()), "err", "no answer within response_timeout "+tmo.String())
	cc.writeError(504, fmt.Sprintf("app %q: upstream %s (%s) sent no answer within %s", cc.p.opts.App, t.color, t.addr, tmo), rq.Close)
	return true
}

// sending notes that the whole request goes upstream now: it arms
// response_timeout on uc and notes the time for the access log's
// upstream_ms, reading the clock once.
func (cc *clientConn) sending(uc *upConn) {
	sc := cc.sc
	d, logging := sc.set.ResponseTimeout, sc.upStart.IsZero() && cc.logging()
	if d <= 0 && !logging {
		uc.unbound()
		return
	}
	now := time.Now()
	if logging {
		sc.upStart = now
	}
	uc.awaitAnswer(d, now)
}

// noteAnswered notes when the answer's head came, for upstream_ms.
func (cc *clientConn) noteAnswered() {
	if sc := cc.sc; !sc.upStart.IsZero() {
		sc.upHead = time.Now()
	}
}

// sendBody copies the client's body to uc after the request head (with
// 100 Continue first when the client waits for it). When it fails, uc is
// closed and answered says whether the client got an answer.
func (cc *clientConn) sendBody(t *target, uc *upConn) (sent, answered bool) {
	rq := &cc.req
	if rq.Expect && !cc.continued {
		cc.continued = true
		cc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if cc.bw.Flush() != nil {
			uc.Close()
			return false, false
		}
	}
	cc.body = bodyReading
	var rerr, werr error
	if rq.Chunked {
		rerr, werr = http1.CopyChunkedMax(uc.bw, cc.br, false, cc.sc.set.MaxRequestBody)
	} else {
		rerr, werr = http1.CopyN(uc.bw, cc.br, rq.ContentLength)
	}
	switch {
	case rerr != nil: // the client's body failed: the upstream must not take it as whole
		uc.Close()
		switch {
		case cc.wasCut():
		case rerr == http1.ErrBodyTooLarge:
			cc.writeError(413, fmt.Sprintf("chunked request body larger than %d bytes", cc.sc.set.MaxRequestBody), true)
		case rerr == http1.ErrBadChunk:
			cc.writeError(400, "malformed chunked body", true)
		case isTimeout(rerr):
			cc.writeError(408, "request body stalled", true)
		default:
			return false, false
		}
		return false, !cc.wasCut()
	case werr != nil:
		uc.Close()
		return false, cc.upstreamFailed(t, werr)
	}
	cc.body = bodyDone
	return true, false
}

// relay passes the upstream's answer, whose head was read, to the client
// and gives uc back to the pool when it may serve another request; false:
// the answer was cut.
func (cc *clientConn) relay(t *target, uc *upConn) bool {
	rq, rs := &cc.req, &cc.resp
	body := rs.HasBody(rq.IsHEAD())
	chunked, length, upClose := rs.Chunked, rs.ContentLength, rs.Close
	framed := !body || chunked || length >= 0
	// An HTTP/1.0 client gets a chunked answer's data until the close.
	cc.writeResponseHead(rs, body, rq.Close || !framed || rq.HTTP10 && body && chunked)
	rs.Release()
	if !body || length >= 0 && int64(uc.br.Buffered()) >= length {
		// The whole answer is read: the bound of its head may stay.
	} else {
		uc.unbound() // response_timeout does not bound a body
	}
	rerr, werr := cc.copyAnswer(uc.br, body, chunked, length)
	if werr == nil && rerr == nil {
		werr = cc.bw.Flush()
	}
	// Bytes already read beyond the answer's framing belong to no request:
	// such a connection is closed (and alive checks a pooled one again
	// before its next use, for bytes that come later).
	if rerr != nil || werr != nil || upClose || !framed || uc.br.Buffered() > 0 {
		uc.Close()
		if rerr != nil && !cc.wasCut() {
			t.brokenWarn.warn("err", rerr)
		}
		return rerr == nil && werr == nil // the client must see a cut answer as cut
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
	return true
}

// copyAnswer copies an answer's body from the upstream to the client, as
// its framing says: chunked (plain to an HTTP/1.0 client), a length, or
// until the upstream closes.
func (cc *clientConn) copyAnswer(ubr *bufio.Reader, body, chunked bool, length int64) (rerr, werr error) {
	switch {
	case !body:
		return nil, nil
	case chunked:
		return http1.CopyChunked(cc.bw, ubr, cc.req.HTTP10)
	case length >= 0:
		return http1.CopyN(cc.bw, ubr, length)
	}
	return http1.CopyAll(cc.bw, ubr)
}

// readResponseHead reads a final response head (skipping up to maxInterim
// 1xx answers other than 101) from an upstream connection. answered
// reports whether any byte of an answer arrived.
func readResponseHead(rs *http1.Head, br *bufio.Reader) (answered bool, err error) {
	for range maxInterim {
		err := rs.ReadHead(br)
		answered = answered || rs.Len() > 0
		switch err {
		case nil:
		case http1.ErrMalformed:
			return true, errBadResponse
		case http1.ErrHeadTooLarge:
			return true, errLargeResponse
		default:
			return answered, err
		}
		if rs.ParseResponse() != nil {
			return true, errBadResponse
		}
		if rs.Status() >= 200 || rs.Status() == 101 {
			return true, nil
		}
	}
	return true, errBadResponse
}

// upstreamFailed answers 502 for an exchange that failed before any of the
// response reached the client, unless the request was cut (no answer);
// it returns whether it answered. Whether the client connection goes on
// depends on its body (closeAfter): one sent in part ends it.
func (cc *clientConn) upstreamFailed(t *target, err error) bool {
	p, rq := cc.p, &cc.req
	if cc.wasCut() {
		t.cutWarn.warn("method", string(rq.Method()), "target", string(rq.Target()))
		return false
	}
	t.failedWarn.warn("method", string(rq.Method()), "target", string(rq.Target()), "err", err)
	cc.writeError(502, fmt.Sprintf("app %q: upstream %s (%s) failed: %s", p.opts.App, t.color, t.addr, shortError(err)), rq.Close)
	return true
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
