package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// One request's exchange with the upstream: reading and checking the
// request, forwarding it with its body, reading the answer and passing it
// back, and deciding whether the upstream connection may serve another
// request. The rules of CONTRACT §6.6 that concern the upstream live here:
// a request is sent twice only when it is safe and nothing of the first
// answer arrived; an upstream connection that sent anything beyond its
// answer's framing is closed, never pooled.

var (
	errBadResponse   = errors.New("malformed response")
	errLargeResponse = errors.New("response head larger than 64 KiB")
)

// maxInterim bounds the 1xx answers skipped before a final one.
const maxInterim = 16

// serveOne serves one request; false ends the connection.
func (cc *clientConn) serveOne() bool {
	p, rq := cc.p, &cc.req
	if err := rq.ReadHead(cc.br); err != nil {
		switch {
		case err == http1.ErrHeadTooLarge:
			cc.writeError(431, "request head larger than 64 KiB", true)
		case err == http1.ErrMalformed:
			cc.writeError(400, "malformed request", true)
		case isTimeout(err) && !cc.p.stopping.Load() && !cc.wasCut():
			cc.writeError(408, "request head not received in time", true)
		}
		return false
	}
	if err := rq.ParseRequest(); err != nil {
		p.log.Debug("malformed request refused", "peer", cc.peer)
		cc.writeError(400, "malformed request", true)
		return false
	}
	if rq.ExpectOther {
		cc.writeError(417, "expectation not supported", true)
		return false
	}
	if rq.Chunked {
		// What arrived of the body is checked before anything is sent,
		// so that a malformed request that came whole reaches nobody.
		if b, _ := cc.br.Peek(cc.br.Buffered()); http1.CheckChunked(b) == http1.ErrBadChunk {
			cc.writeError(400, "malformed chunked body", true)
			return false
		}
	}
	hasBody := rq.Chunked || rq.ContentLength > 0
	if hasBody {
		cc.pc.readProgress(p.tmo.body) // a body may take as long as it takes, while it moves
	}
	t := p.acquire()
	if t == nil {
		p.noActiveWarn.warn("method", string(rq.Method()), "target", string(rq.Target()))
		cc.writeError(503, fmt.Sprintf("app %q has no active container", p.opts.App), hasBody || rq.Close)
		return !hasBody && !rq.Close
	}
	cc.register(t)
	if !cc.begin(t) {
		cc.end(t)
		return false
	}
	if rq.Upgrade && !hasBody {
		uc := cc.handshake(t)
		if !cc.end(t) || uc == nil {
			if uc != nil {
				uc.Close()
				t.doneWS()
			}
			return false
		}
		// From here on the connection is a WebSocket, not a request: it
		// keeps no head, no reader and no writer. What either side sent
		// beyond the handshake is copied out of the readers first.
		fromClient, fromUp := takeBuffered(cc.br), takeBuffered(uc.br)
		uc.br, uc.bw = nil, nil
		cc.releaseScratch()
		cc.dropReader()
		p.pipeWebSocket(t, cc.nc, fromClient, uc, fromUp)
		uc.Close()
		t.doneWS()
		return false
	}
	keep := cc.forward(t, hasBody)
	return cc.end(t) && keep
}

// forward proxies one plain HTTP request to t; false ends the connection.
func (cc *clientConn) forward(t *target, hasBody bool) bool {
	rq, rs := &cc.req, &cc.resp
	var uc *upConn
	sentContinue, resent := false, false
	// A request without a body whose head fits the upstream writer is
	// sent by the read that then waits for the answer (deferWrite), which
	// checks the pooled connection on the way; others are checked first.
	deferred := !hasBody && 2*rq.Len()+1024 <= upstreamBufSize
	for attempt := 0; ; attempt++ {
		c, reused, err := t.pool.get(t.httpCut, !deferred)
		if err != nil {
			return cc.upstreamFailed(t, err, false)
		}
		uc = c
		cc.attach(uc)
		if !cc.setCur(uc) {
			return false
		}
		cc.writeRequestHead(uc.bw, false)
		if hasBody {
			if rq.Expect && !sentContinue {
				sentContinue = true
				cc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
				if cc.bw.Flush() != nil {
					uc.Close()
					return false
				}
			}
			var rerr, werr error
			if rq.Chunked {
				rerr, werr = http1.CopyChunked(uc.bw, cc.br, false)
			} else {
				rerr, werr = http1.CopyN(uc.bw, cc.br, rq.ContentLength)
			}
			if rerr != nil { // the client's body failed: the upstream must not take it as whole
				uc.Close()
				switch {
				case cc.wasCut():
				case rerr == http1.ErrBadChunk:
					cc.writeError(400, "malformed chunked body", true)
				case isTimeout(rerr):
					cc.writeError(408, "request body stalled", true)
				}
				return false
			}
			if werr != nil {
				uc.Close()
				return cc.upstreamFailed(t, werr, true)
			}
		}
		if deferred && uc.raw != nil {
			uc.raw.deferWrite()
		}
		err = uc.bw.Flush()
		answered := false
		if err == nil {
			answered, err = readResponseHead(rs, uc.br)
		}
		if err == nil {
			break
		}
		uc.Close()
		switch {
		case err == errStale && attempt < 3:
			continue // nothing of the request went out: any request may go on another connection
		case reused && !resent && !hasBody && !answered && safeMethod(rq.Method()) && retryable(err):
			// A keep-alive connection the upstream closed just as the
			// request went out: safe to send again, but only a request
			// that cannot have done anything, and only when not a byte of
			// an answer came back.
			resent = true
			continue
		}
		return cc.upstreamFailed(t, err, hasBody)
	}
	if rs.Status() == 101 || rs.TEOther {
		uc.Close()
		return cc.upstreamFailed(t, errBadResponse, hasBody)
	}

	body := rs.HasBody(rq.IsHEAD())
	chunked, length, upClose := rs.Chunked, rs.ContentLength, rs.Close
	framed := !body || chunked || length >= 0
	closeClient := rq.Close || !framed
	cc.writeResponseHead(rs, body, closeClient)
	rs.Release()
	var rerr, werr error
	switch {
	case !body:
	case chunked:
		rerr, werr = http1.CopyChunked(cc.bw, uc.br, rq.HTTP10)
	case length >= 0:
		rerr, werr = http1.CopyN(cc.bw, uc.br, length)
	default:
		rerr, werr = http1.CopyAll(cc.bw, uc.br)
	}
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
		if rerr != nil || werr != nil {
			return false // the client must see a cut answer as cut
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
// response reached the client. After a partly sent request body the client
// connection cannot be reused.
func (cc *clientConn) upstreamFailed(t *target, err error, bodySent bool) bool {
	p, rq := cc.p, &cc.req
	if cc.wasCut() {
		t.cutWarn.warn("method", string(rq.Method()), "target", string(rq.Target()))
		return false
	}
	t.failedWarn.warn("method", string(rq.Method()), "target", string(rq.Target()), "err", err)
	closeClient := bodySent || rq.Close
	cc.writeError(502, fmt.Sprintf("app %q: upstream %s (%s) failed: %s", p.opts.App, t.color, t.addr, shortError(err)), closeClient)
	return !closeClient
}

// handshake proxies a WebSocket handshake on a fresh upstream connection.
// When the upstream answers 101 it counts a WebSocket on t and returns the
// upstream connection; a refused upgrade is passed to the client as an
// ordinary answer (nil).
func (cc *clientConn) handshake(t *target) *upConn {
	rq, rs := &cc.req, &cc.resp
	uc, err := t.pool.dial(t.httpCut)
	if err != nil {
		cc.upstreamFailed(t, err, false)
		return nil
	}
	cc.attach(uc)
	if !cc.setCur(uc) {
		return nil
	}
	cc.writeRequestHead(uc.bw, true)
	err = uc.bw.Flush()
	if err == nil {
		_, err = readResponseHead(rs, uc.br)
	}
	if err == nil && rs.TEOther {
		err = errBadResponse
	}
	if err != nil {
		uc.Close()
		cc.upstreamFailed(t, err, false)
		return nil
	}
	if rs.Status() != 101 {
		defer uc.Close()
		body := rs.HasBody(rq.IsHEAD())
		chunked, length := rs.Chunked, rs.ContentLength
		cc.writeResponseHead(rs, body, true)
		switch {
		case !body:
		case chunked:
			http1.CopyChunked(cc.bw, uc.br, false)
		case length >= 0:
			http1.CopyN(cc.bw, uc.br, length)
		default:
			http1.CopyAll(cc.bw, uc.br)
		}
		cc.bw.Flush()
		return nil
	}
	cc.writeSwitchingHead(rs)
	if cc.bw.Flush() != nil {
		uc.Close()
		return nil
	}
	cc.pc.noDeadlines()
	t.wsN.Add(1)
	return uc
}

// safeMethod reports whether a request with method may be sent again:
// only the safe methods (RFC 9110 §9.2.1) that are usually sent without a
// body.
func safeMethod(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS":
		return true
	}
	return false
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
