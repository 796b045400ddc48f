package proxy

import (
	"bufio"
	"net"
)

// The buffers of a WebSocket relay. A WebSocket is mostly quiet: each
// direction waits for bytes holding no buffer (rawConn.readPooled), takes
// one from a pool when the poller says bytes are there, and gives it back
// once they are written on. The size of the next buffer follows what
// flows: a read that filled its buffer takes the next larger class, reads
// much smaller than their buffer take the next smaller one. Only a
// connection without a file descriptor (never a TCP one) keeps a buffer
// for its life.

// pending is bytes a reader held when the relay began, in a pooled buffer.
type pending struct {
	buf *[]byte
	n   int
}

// takeBuffered copies what br holds into a pooled buffer; nil when br holds
// nothing (or is nil).
func takeBuffered(br *bufio.Reader) *pending {
	if br == nil || br.Buffered() == 0 {
		return nil
	}
	n := br.Buffered()
	class := len(readClasses) - 1
	for i, size := range readClasses {
		if size >= n {
			class = i
			break
		}
	}
	bp := getReadBuf(class)
	if n > len(*bp) { // more than the largest class: never with the sizes of these readers
		b := make([]byte, n)
		bp = &b
	}
	b, _ := br.Peek(n)
	copy(*bp, b)
	br.Discard(n)
	return &pending{buf: bp, n: n}
}

// relayReader reads one direction of a relay.
type relayReader struct {
	conn  net.Conn
	raw   *rawConn // conn, when it is one
	first *pending // bytes to return before reading
	class int      // of the next pooled read
	cur   *[]byte  // the buffer next returned, until done
	held  *[]byte  // the buffer of a connection that cannot read pooled
}

func newRelayReader(conn net.Conn, first *pending) *relayReader {
	r := &relayReader{conn: conn, first: first}
	r.raw, _ = conn.(*rawConn)
	return r
}

// next returns the next bytes read, valid until done, which the caller
// calls before the next call of next (when the bytes are not empty).
func (r *relayReader) next() ([]byte, error) {
	if r.first != nil {
		p := r.first
		r.first, r.cur = nil, p.buf
		return (*p.buf)[:p.n], nil
	}
	if r.raw == nil {
		if r.held == nil {
			r.held = getReadBuf(1)
		}
		n, err := r.conn.Read(*r.held)
		return (*r.held)[:n], err
	}
	bp, n, err := r.raw.readPooled(r.class)
	if bp == nil {
		return nil, err
	}
	switch size := len(*bp); {
	case n == size && r.class < len(readClasses)-1:
		r.class++
	case r.class > 0 && n < readClasses[r.class-1]/2:
		r.class--
	}
	r.cur = bp
	return (*bp)[:n], err
}

// done gives back the buffer of the bytes next returned.
func (r *relayReader) done() {
	if r.cur != nil {
		putReadBuf(r.cur)
		r.cur = nil
	}
}

// close gives back whatever the reader still holds.
func (r *relayReader) close() {
	r.done()
	if r.first != nil {
		putReadBuf(r.first.buf)
		r.first = nil
	}
	if r.held != nil {
		putReadBuf(r.held)
		r.held = nil
	}
}
