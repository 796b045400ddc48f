// Package http1 is the module's one HTTP/1.1 codec, shared by the proxy and
// the health prober: it reads and parses request and response heads,
// decides their framing, classifies header fields (framing, routing,
// hop-by-hop, forwarding), copies bodies, and tells whether an idle
// keep-alive connection may carry the next request. It is security-critical:
// everything a client, an upstream or a container's health endpoint sends is
// read here, and nothing else in the module looks at raw HTTP bytes.
//
// The proxy's parse (ReadHead, ParseRequest, ParseResponse) is strict. A
// message whose framing could be read two ways (RFC 9112 §6.3, §11.2) is
// refused rather than repaired, so that the proxy, the client and the
// upstream can never disagree on where a message ends. Every loop over
// input is linear in the input's size, and a head's buffers come from pools
// and go back when the message is done, so that an idle connection holds
// nothing of what it sent before.
//
// A health check reads an answer as net/http's client would, never more
// leniently (ReadAnswerHead, answer.go): it only judges a status, and an
// endpoint that any HTTP client reads must pass.
package http1

import (
	"bufio"
	"errors"
	"io"
)

// Limits.
const (
	// MaxHeadBytes bounds a head: the start line, the fields and the empty
	// line that ends them (docs/proxy.md, "Limits and timeouts": larger request heads get 431).
	MaxHeadBytes = 64 << 10
	// MaxChunkLine bounds a chunk-size line and a whole trailer section.
	MaxChunkLine = 4096
)

// Errors of the codec. A caller tells them apart with ==.
var (
	// ErrHeadTooLarge: the head is larger than MaxHeadBytes.
	ErrHeadTooLarge = errors.New("head larger than 64 KiB")
	// ErrMalformed: the head breaks the syntax or is ambiguous.
	ErrMalformed = errors.New("malformed or ambiguous head")
	// ErrBadChunk: a chunked body breaks the chunk syntax.
	ErrBadChunk = errors.New("malformed chunked body")
	// ErrBodyTooLarge: a chunked body grew past the limit of CopyChunkedMax.
	ErrBodyTooLarge = errors.New("body larger than the limit")
)

// span is a range of a head's buffer: buf[off:end]. Fields keep offsets,
// not slices, so that a released head cannot keep (or expose) a buffer
// that another connection now uses.
type span struct{ off, end int32 }

// Field is one header field line of a head.
type Field struct {
	line    span // the whole line including its CRLF
	nameEnd int32
	value   span // without surrounding whitespace
	Kind    Kind
	// Drop is set on every field the proxy must not pass on verbatim:
	// hop-by-hop fields, fields named in Connection, and the fields the
	// proxy writes itself (framing, Host, forwarding).
	Drop bool
}

// Space is the memory a head of ordinary size (4 KiB, 32 fields) is read
// into; a head that needs more takes pooled buffers and returns them when
// it is released. A caller that owns a Space per message in flight (and
// pools them) reads ordinary heads without a pool operation.
type Space struct {
	buf    [4 << 10]byte
	fields [32]Field
}

// Head is a parsed request or response head. Its byte slices point into
// its Space or a pooled buffer; they are valid until the next ReadHead or
// Release.
type Head struct {
	space   *Space // nil: pooled buffers only
	buf     []byte
	bufp    *[]byte // the pool handle of buf (nil: the space's, or none)
	fields  []Field
	fieldsp *[]Field // the pool handle of fields

	method, target span // request line
	lineOK         bool // the request line parsed (RequestLine)
	status         int  // status line
	reason         span // the status line after its version: "200 OK\r\n"
	host           span
	hostN          int
	requestID      span
	requestIDN     int

	HTTP10        bool  // an HTTP/1.0 message
	ContentLength int64 // -1: none
	Chunked       bool  // Transfer-Encoding: chunked (final)
	TEOther       bool  // a Transfer-Encoding other than a final chunked
	Close         bool  // Connection: close, or HTTP/1.0 without Connection: keep-alive
	KeepAlive     bool  // Connection: keep-alive
	Upgrade       bool  // a WebSocket upgrade request (Upgrade: websocket + Connection: upgrade)
	Expect        bool  // Expect: 100-continue on an HTTP/1.1 request
	ExpectOther   bool  // an Expect the proxy cannot meet, on an HTTP/1.1 request
	TETrailers    bool  // TE: trailers

	// ops counts the field-name comparisons of the last parse, so that a
	// test can check that the work grows linearly with the head's size.
	ops int
}

// ReadHead reads one head, up to and including the empty line, from br
// into h (which it resets first). Every line must end in CRLF; lines are
// checked by Parse. It returns ErrHeadTooLarge past MaxHeadBytes, io.EOF
// when br ended before any byte, and io.ErrUnexpectedEOF within a head.
func (h *Head) ReadHead(br *bufio.Reader) error {
	h.reset()
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(h.buf)+len(line) > MaxHeadBytes {
			return ErrHeadTooLarge
		}
		h.append(line)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(h.buf) > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(h.buf)-lineStart <= 2 { // an empty line ("\r\n", or a bare "\n" refused by Parse)
			if lineStart == 0 {
				return ErrMalformed // no empty line before the start line
			}
			return nil
		}
		lineStart = len(h.buf)
	}
}

// Bytes returns the head as it was read, valid until the next ReadHead or
// Release.
func (h *Head) Bytes() []byte { return h.buf[:len(h.buf):len(h.buf)] }

// Len returns the size of the head in bytes.
func (h *Head) Len() int { return len(h.buf) }

// Use makes the head read into s until Release.
func (h *Head) Use(s *Space) {
	h.Release()
	h.space = s
}

// Release returns the head's pooled buffers, lets go of its Space and
// resets it. The slices the head handed out must not be used afterwards.
func (h *Head) Release() {
	h.putPooled()
	*h = Head{ContentLength: -1}
}

// reset returns the pooled buffers and empties the head for the next
// message, keeping its Space.
func (h *Head) reset() {
	h.putPooled()
	s := h.space
	*h = Head{space: s, ContentLength: -1}
	if s != nil {
		h.buf, h.fields = s.buf[:0], s.fields[:0]
	}
}

func (h *Head) putPooled() {
	if h.bufp != nil {
		putBuf(h.bufp, h.buf)
	}
	if h.fieldsp != nil {
		putFields(h.fieldsp, h.fields)
	}
}

// append adds p to the head's buffer, taking a larger pooled buffer when
// it is full.
func (h *Head) append(p []byte) {
	if len(h.buf)+len(p) > cap(h.buf) {
		h.buf, h.bufp = growBuf(h.buf, h.bufp, len(h.buf)+len(p))
	}
	h.buf = append(h.buf, p...)
}

// addField appends f, taking a larger pooled slice when it is full.
func (h *Head) addField(f Field) {
	if len(h.fields) == cap(h.fields) {
		h.fields, h.fieldsp = growFields(h.fields, h.fieldsp)
	}
	h.fields = append(h.fields, f)
}

func (h *Head) bytes(s span) []byte { return h.buf[s.off:s.end:s.end] }

// NumFields returns the number of header fields.
func (h *Head) NumFields() int { return len(h.fields) }

// Field returns the i-th header field.
func (h *Head) Field(i int) *Field { return &h.fields[i] }

// Name returns f's name as sent.
func (h *Head) Name(f *Field) []byte { return h.buf[f.line.off:f.nameEnd:f.nameEnd] }

// Value returns f's value without surrounding whitespace.
func (h *Head) Value(f *Field) []byte { return h.bytes(f.value) }

// Line returns f's whole line including its CRLF.
func (h *Head) Line(f *Field) []byte { return h.bytes(f.line) }

// Method returns a request's method.
func (h *Head) Method() []byte { return h.bytes(h.method) }

// Target returns a request's target as sent.
func (h *Head) Target() []byte { return h.bytes(h.target) }

// RequestLine reports whether the request line of the last ParseRequest
// was valid (Method, Target and HTTP10 are then its), also when the rest
// of the head was refused.
func (h *Head) RequestLine() bool { return h.lineOK }

// IsHEAD reports whether the request's method is HEAD.
func (h *Head) IsHEAD() bool { return string(h.bytes(h.method)) == "HEAD" }

// HasHost reports whether the request had a Host field.
func (h *Head) HasHost() bool { return h.hostN > 0 }

// Host returns the request's Host field value ("" when none).
func (h *Head) Host() []byte { return h.bytes(h.host) }

// RequestID returns the value of the request's X-Request-ID field, and
// whether it had exactly one.
func (h *Head) RequestID() ([]byte, bool) { return h.bytes(h.requestID), h.requestIDN == 1 }

// Status returns a response's status code.
func (h *Head) Status() int { return h.status }

// StatusLine returns a response's status line after the version, with its
// CRLF: "200 OK\r\n".
func (h *Head) StatusLine() []byte { return h.bytes(h.reason) }
