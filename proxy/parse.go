package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// The proxy's own HTTP/1.1 message parser. It is strict: every message whose
// framing could be read two ways (RFC 9112 §6.3, §11.2) is refused rather
// than repaired, so the proxy and the upstream can never disagree on where a
// request ends. FuzzParseRequest checks that whatever it accepts, net/http's
// parser accepts with the same method, target, fields and body framing.

// Limits of a message head.
const (
	// maxHeadBytes bounds a request or response head (net/http's default).
	maxHeadBytes = 1 << 20
	// maxChunkLine bounds a chunk-size line and a trailer section.
	maxChunkLine = 4096
)

var (
	errBadRequest   = errors.New("malformed request")
	errHeadTooLarge = errors.New("request head too large")
	errBadResponse  = errors.New("malformed response from upstream")
	errBadChunk     = errors.New("malformed chunked body")
)

// field is one header field line; name and value (without surrounding
// whitespace) point into the message head.
type field struct {
	name, value []byte
	line        []byte // the whole line including CRLF
	drop        bool   // not forwarded (hop-by-hop, replaced, or framing)
}

// head is a parsed request or response head. Its slices point into buf,
// which is reused from message to message on one connection.
type head struct {
	buf    []byte
	fields []field

	// Request line.
	method, target []byte
	// Status line.
	status int
	line   []byte // the status line without its version ("200 OK\r\n")

	http10        bool  // HTTP/1.0 message
	contentLength int64 // -1: none
	chunked       bool  // Transfer-Encoding: chunked
	teOther       bool  // a response Transfer-Encoding other than a final chunked
	close         bool  // Connection: close (or HTTP/1.0 without keep-alive)
	upgrade       bool  // a WebSocket upgrade (Upgrade: websocket, Connection: upgrade)
	expect        bool  // Expect: 100-continue
	expectOther   bool  // an Expect this proxy cannot meet
	host          []byte
	hostN         int
	teTrailers    bool // TE: trailers
}

func (h *head) reset() {
	*h = head{buf: h.buf[:0], fields: h.fields[:0], contentLength: -1}
}

// readHead reads one message head (up to and including the empty line)
// from br into h.buf. Every line must end in CRLF.
func (h *head) readHead(br *bufio.Reader, errTooLarge error) error {
	h.reset()
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		h.buf = append(h.buf, line...)
		if len(h.buf) > maxHeadBytes {
			return errTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(h.buf) > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(h.buf)-lineStart <= 2 { // an empty line: "\r\n" (or a bare "\n", refused later)
			if lineStart == 0 {
				return errBadRequest // no empty lines before the start line
			}
			return nil
		}
		lineStart = len(h.buf)
	}
}

// lines splits h.buf into CRLF-terminated lines, refusing a bare LF or CR.
// It calls fn for each line without its CRLF; the final empty line is not
// passed.
func (h *head) lines(bad error, fn func(line, whole []byte) error) error {
	b := h.buf
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 1 || b[i-1] != '\r' {
			return bad // bare LF
		}
		line := b[:i-1]
		if bytes.IndexByte(line, '\r') >= 0 {
			return bad // bare CR
		}
		if len(line) == 0 {
			if i+1 != len(b) {
				return bad
			}
			return nil
		}
		if err := fn(line, b[:i+1]); err != nil {
			return err
		}
		b = b[i+1:]
	}
	return bad
}

// parseRequest parses h.buf as a request head.
func (h *head) parseRequest() error {
	first := true
	err := h.lines(errBadRequest, func(line, whole []byte) error {
		if first {
			first = false
			return h.requestLine(line)
		}
		return h.fieldLine(line, whole, errBadRequest)
	})
	if err != nil {
		return err
	}
	return h.requestFraming()
}

// requestLine parses "method SP request-target SP HTTP/1.x".
func (h *head) requestLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 1 || !isToken(line[:sp]) {
		return errBadRequest
	}
	h.method = line[:sp]
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 1 {
		return errBadRequest
	}
	h.target = rest[:sp]
	switch string(rest[sp+1:]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		h.http10 = true
	default:
		return errBadRequest
	}
	return validTarget(h.method, h.target)
}

// validTarget accepts the origin form ("/path?query"), the absolute form
// ("http://host/path") and "*" for OPTIONS; percent signs must start an
// escape.
func validTarget(method, t []byte) error {
	switch {
	case len(t) == 1 && t[0] == '*':
		if string(method) != "OPTIONS" {
			return errBadRequest
		}
		return nil
	case t[0] == '/':
	case hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://"):
		auth, _ := splitAbsolute(t)
		if len(auth) == 0 || !validHost(auth) {
			return errBadRequest
		}
	default:
		return errBadRequest
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			return errBadRequest
		}
		if c == '%' {
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return errBadRequest
			}
		}
	}
	return nil
}

// splitAbsolute splits an absolute-form target into its authority and the
// origin-form rest ("/" when empty).
func splitAbsolute(t []byte) (authority, rest []byte) {
	i := bytes.Index(t, []byte("://")) + 3
	t = t[i:]
	j := bytes.IndexAny(t, "/?")
	if j < 0 {
		return t, []byte("/")
	}
	if t[j] == '?' {
		return t[:j], append([]byte("/"), t[j:]...)
	}
	return t[:j], t[j:]
}

// fieldLine parses "name: value" into h.fields and notes the fields that
// frame or route the message.
func (h *head) fieldLine(line, whole []byte, bad error) error {
	colon := bytes.IndexByte(line, ':')
	if colon < 1 || !isToken(line[:colon]) {
		return bad // also refuses obs-fold (a line starting with whitespace)
	}
	name := line[:colon]
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return bad
		}
	}
	f := field{name: name, value: v, line: whole}
	switch {
	case equalFold(name, "Content-Length"):
		if h.contentLength >= 0 {
			return bad // a repeated Content-Length, even an equal one
		}
		n, ok := parseContentLength(v)
		if !ok {
			return bad
		}
		h.contentLength = n
	case equalFold(name, "Transfer-Encoding"):
		if h.chunked || h.teOther {
			return bad // one Transfer-Encoding field only
		}
		if equalFold(v, "chunked") {
			h.chunked = true
		} else {
			h.teOther = true
		}
		f.drop = true
	case equalFold(name, "Host"):
		h.hostN++
		h.host = v
	case equalFold(name, "Connection"):
		for tok := range tokens(v) {
			switch {
			case equalFold(tok, "close"):
				h.close = true
			case equalFold(tok, "upgrade"):
				h.upgrade = true
			}
		}
		f.drop = true
	case equalFold(name, "Expect"):
		if equalFold(v, "100-continue") {
			h.expect = true
		} else {
			h.expectOther = true
		}
		f.drop = true
	case equalFold(name, "Te"):
		if equalFold(v, "trailers") {
			h.teTrailers = true
		}
		f.drop = true
	}
	h.fields = append(h.fields, f)
	return nil
}

// requestFraming applies RFC 9112 §6.3 to a request: a body is framed by
// exactly one of a final chunked Transfer-Encoding or one Content-Length.
func (h *head) requestFraming() error {
	if h.teOther || (h.chunked && (h.contentLength >= 0 || h.http10)) {
		return errBadRequest
	}
	if h.hostN > 1 || (h.hostN == 0 && !h.http10) || !validHost(h.host) {
		return errBadRequest
	}
	if h.http10 {
		h.close = true // keep-alive is not offered to HTTP/1.0 clients
	}
	up, conn := false, h.upgrade
	for i := range h.fields {
		if equalFold(h.fields[i].name, "Upgrade") {
			for tok := range tokens(h.fields[i].value) {
				up = up || equalFold(tok, "websocket")
			}
		}
	}
	h.upgrade = up && conn && !h.http10
	h.markHop()
	return nil
}

// markHop marks the hop-by-hop fields (RFC 9110 §7.6.1), including those
// the Connection field names, as not forwarded.
func (h *head) markHop() {
	for i := range h.fields {
		f := &h.fields[i]
		if f.drop {
			continue
		}
		for _, k := range hopHeaders {
			if equalFold(f.name, k) {
				f.drop = true
			}
		}
	}
	for i := range h.fields {
		if !equalFold(h.fields[i].name, "Connection") {
			continue
		}
		for tok := range tokens(h.fields[i].value) {
			for j := range h.fields {
				if equalFold(h.fields[j].name, string(tok)) {
					h.fields[j].drop = true
				}
			}
		}
	}
}

// parseResponse parses h.buf as a response head to a request with method.
func (h *head) parseResponse() error {
	first := true
	err := h.lines(errBadResponse, func(line, whole []byte) error {
		if first {
			first = false
			return h.statusLine(line, whole)
		}
		return h.fieldLine(line, whole, errBadResponse)
	})
	if err != nil {
		return err
	}
	if h.chunked && h.contentLength >= 0 {
		return errBadResponse
	}
	if h.http10 {
		h.close = true
	}
	h.markHop()
	return nil
}

// statusLine parses "HTTP/1.x SP 3DIGIT SP reason".
func (h *head) statusLine(line, whole []byte) error {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return errBadResponse
	}
	switch line[7] {
	case '1':
	case '0':
		h.http10 = true
	default:
		return errBadResponse
	}
	s := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errBadResponse
		}
		s = s*10 + int(c-'0')
	}
	if s < 100 {
		return errBadResponse
	}
	for _, c := range line[12:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return errBadResponse
		}
	}
	h.status = s
	h.line = whole[9:]
	return nil
}

// hasBody reports whether a response to method has a body (RFC 9112 §6.3).
func (h *head) hasBody(method []byte) bool {
	return string(method) != "HEAD" && h.status >= 200 && h.status != 204 && h.status != 304
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tokens iterates over the comma-separated elements of a field value.
func tokens(v []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			var tok []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				tok, v = v, nil
			}
			tok = bytes.Trim(tok, " \t")
			if len(tok) > 0 && !yield(tok) {
				return
			}
		}
	}
}

// tchar per RFC 9110 §5.6.2.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// hostChar are the bytes net/http accepts in a Host field.
var hostChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return t
}()

func validHost(h []byte) bool {
	for _, c := range h {
		if !hostChar[c] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFold[S []byte | string](b []byte, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}
