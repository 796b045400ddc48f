package proxy

import (
	"bufio"
	"errors"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// The body invariant (docs/proxy.md, "Request bodies"): the bytes after a
// request head are its body, as its framing says, and only the bytes after
// that body are the next request. A connection reads its next request only
// once the previous request's body was wholly read.
//
// The proxy answers some requests before it read their bodies: a failed
// connect (502), no active color (503), a refused request (400, 417), and
// whatever answer comes before a body later (a limit, a maintenance page).
// Every answer head the proxy writes asks closeAfter whether the connection
// ends after it; closeAfter reads and throws away a body not read yet,
// within drainBytes and drainTime, and when that does not finish the answer
// says Connection: close. The connection loop (run) then goes on only when
// the answer did not say close and the body was wholly read (reusable):
// whichever path answered, a body never read is never parsed as a request.

// Bounds of reading and throwing away a body the proxy answered before it
// read it: a larger or slower body ends the connection instead.
const (
	drainBytes = 64 << 10
	drainTime  = time.Second
)

// Bounds of the lingering close: after an answer that ends a connection the
// client may still be sending (a body, pipelined requests); closing a socket
// with unread bytes resets it, and a reset can destroy the answer before
// the client read it. So the proxy shuts down its sending side and reads
// what still comes, for up to lingerTime and lingerBytes, before it closes.
const (
	lingerTime  = time.Second
	lingerBytes = 256 << 10
)

// States of the body of the request being served (clientConn.body).
const (
	bodyUnknown = iota // the head was not parsed: its framing is unknown
	bodyUnread         // framed, and not a byte of it read yet
	bodyReading        // partly read (a copy that failed)
	bodyDone           // none, or wholly read
)

// closeAfter decides whether the connection ends after the answer about to
// be written (want: the caller's reason to end it; a stopping proxy ends
// every connection after its answer) and records it for the connection
// loop. Every answer head the proxy writes asks it, and says Connection:
// close when it returns true. See the body invariant above.
func (cc *clientConn) closeAfter(want bool) bool {
	c := want || cc.p.stopping.Load() || !cc.settleBody()
	cc.closing = c
	return c
}

// reusable reports whether the connection may read a next request: the
// answer did not end it, and the request's body was wholly read.
func (cc *clientConn) reusable() bool { return !cc.closing && cc.body == bodyDone }

// settleBody reads and throws away a body not read yet, within drainBytes
// and drainTime; false when the body is not wholly read then. A client
// that waits for 100 Continue before it sends its body is not drained: it
// never got one, and the connection ends after the answer.
func (cc *clientConn) settleBody() bool {
	switch cc.body {
	case bodyDone:
		return true
	case bodyUnread:
	default:
		return false
	}
	rq := &cc.req
	if rq.Expect && !cc.continued || !rq.Chunked && rq.ContentLength > drainBytes {
		return false
	}
	cc.body = bodyReading
	cc.pc.readBy(time.Now().Add(drainTime), 0)
	s := sinks.Get().(*sink)
	s.left = drainBytes
	s.bw.Reset(s)
	var rerr, werr error
	if rq.Chunked {
		rerr, werr = http1.CopyChunked(s.bw, cc.br, true)
	} else {
		rerr, werr = http1.CopyN(s.bw, cc.br, rq.ContentLength)
	}
	if werr == nil {
		werr = s.bw.Flush()
	}
	s.bw.Reset(nil)
	sinks.Put(s)
	if rerr != nil || werr != nil {
		return false
	}
	cc.body = bodyDone
	return true
}

// errDrainLimit ends a drain that reached drainBytes.
var errDrainLimit = errors.New("body larger than the drain bound")

// sink throws away up to left bytes written to it, through bw.
type sink struct {
	left int64
	bw   *bufio.Writer
}

var sinks = sync.Pool{New: func() any {
	s := &sink{}
	s.bw = bufio.NewWriterSize(s, 512)
	return s
}}

func (s *sink) Write(p []byte) (int, error) {
	if int64(len(p)) > s.left {
		s.left = 0
		return 0, errDrainLimit
	}
	s.left -= int64(len(p))
	return len(p), nil
}

// lingers reports whether closing the connection after the answer just
// written needs a lingering close: unless the client itself ended the
// connection (Connection: close, HTTP/1.0) after a request that was wholly
// read with nothing behind it, it may still be sending.
func (cc *clientConn) lingers() bool {
	buffered := cc.br != nil && cc.br.Buffered() > 0
	return !(cc.req.Close && cc.body == bodyDone && !buffered)
}

// lingerClose shuts down the sending side of the connection, whose answer
// was flushed, and reads and throws away what the client still sends until
// it closes, for up to lingerTime and lingerBytes. The caller then closes
// the connection.
func (cc *clientConn) lingerClose() {
	if cc.pc.CloseWrite() != nil {
		return
	}
	cc.pc.readBy(time.Now().Add(lingerTime), 0)
	if cc.br == nil {
		cc.takeReader()
	}
	for n := 0; n < lingerBytes; {
		if _, err := cc.br.Peek(1); err != nil {
			return // the client closed, the time is up, or Stop closed it
		}
		k := cc.br.Buffered()
		cc.br.Discard(k)
		n += k
	}
}
