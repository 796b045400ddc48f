package http1

import "bytes"

// ParseRequest parses the head ReadHead read as a request and applies the
// framing rules of RFC 9112 §6.3: a body is framed by exactly one of a
// final chunked Transfer-Encoding or one Content-Length; an HTTP/1.1
// request has exactly one valid Host. Anything else is ErrMalformed.
func (h *Head) ParseRequest() error {
	rest, err := h.startLine()
	if err != nil {
		return err
	}
	if err := h.requestLine(); err != nil {
		return err
	}
	if err := h.parseFields(rest); err != nil {
		return err
	}
	if h.TEOther || (h.Chunked && (h.ContentLength >= 0 || h.HTTP10)) {
		return ErrMalformed
	}
	if h.hostN > 1 || (h.hostN == 0 && !h.HTTP10) || !ValidHost(h.Host()) {
		return ErrMalformed
	}
	if h.HTTP10 {
		// An HTTP/1.0 connection ends after its answer unless the client
		// asked to keep it (Connection: keep-alive, RFC 9112 §C.2.2).
		h.Close = h.Close || !h.KeepAlive
		// RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored.
		h.Expect, h.ExpectOther = false, false
	}
	up, conn := false, h.Upgrade
	for i := range h.fields {
		if h.fields[i].Kind == KindUpgrade {
			for tok := range Tokens(h.Value(&h.fields[i])) {
				up = up || EqualFold(tok, "websocket")
			}
		}
	}
	h.Upgrade = up && conn && !h.HTTP10
	h.markHop()
	return nil
}

// ParseResponse parses the head ReadHead read as a response. A
// Transfer-Encoding other than a final chunked is not an error here
// (TEOther is set) and neither is a 1xx status: the caller decides. An
// HTTP/1.0 answer with any Transfer-Encoding is ErrMalformed: its framing
// is faulty (RFC 9112 §6.1), and net/http reads such a body until the
// close where a chunked reader would stop at its last chunk.
func (h *Head) ParseResponse() error {
	rest, err := h.startLine()
	if err != nil {
		return err
	}
	if err := h.statusLine(); err != nil {
		return err
	}
	if err := h.parseFields(rest); err != nil {
		return err
	}
	if h.Chunked && h.ContentLength >= 0 || h.HTTP10 && (h.Chunked || h.TEOther) {
		return ErrMalformed
	}
	if h.HTTP10 {
		h.Close = true
	}
	h.Upgrade = false
	h.markHop()
	return nil
}

// HasBody reports whether a response to a request with method HEAD (head)
// or another method has a body (RFC 9112 §6.3).
func (h *Head) HasBody(head bool) bool {
	return !head && h.status >= 200 && h.status != 204 && h.status != 304
}

// startLine checks that the head is CRLF-terminated lines without a bare
// CR or LF, records the start line and returns the offset of the first
// field line.
func (h *Head) startLine() (int, error) {
	b := h.buf
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return 0, ErrMalformed
	}
	h.method = span{0, int32(i - 1)} // the whole start line for now
	return i + 1, nil
}

// parseFields parses the field lines from offset off to the empty line.
func (h *Head) parseFields(off int) error {
	b := h.buf
	for {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 1 || b[off+i-1] != '\r' {
			return ErrMalformed // bare LF, or no line end
		}
		end := off + i + 1
		line := b[off : end-2]
		if bytes.IndexByte(line, '\r') >= 0 {
			return ErrMalformed // bare CR
		}
		if len(line) == 0 {
			if end != len(b) {
				return ErrMalformed
			}
			return nil
		}
		if err := h.fieldLine(off, end); err != nil {
			return err
		}
		off = end
	}
}

// requestLine parses "method SP request-target SP HTTP/1.x".
func (h *Head) requestLine() error {
	line := h.bytes(h.method)
	if bytes.IndexByte(line, '\r') >= 0 {
		return ErrMalformed
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 1 || !IsToken(line[:sp]) {
		return ErrMalformed
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 1 {
		return ErrMalformed
	}
	switch string(rest[sp2+1:]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		h.HTTP10 = true
	default:
		return ErrMalformed
	}
	h.method = span{0, int32(sp)}
	h.target = span{int32(sp + 1), int32(sp + 1 + sp2)}
	if err := validTarget(h.Method(), h.Target()); err != nil {
		return err
	}
	h.lineOK = true
	return nil
}

// validTarget accepts the origin form ("/path?query"), the absolute form
// ("http://host/path") and "*" for OPTIONS; a percent sign must start an
// escape.
func validTarget(method, t []byte) error {
	switch {
	case len(t) == 1 && t[0] == '*':
		if string(method) != "OPTIONS" {
			return ErrMalformed
		}
		return nil
	case t[0] == '/':
	case hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://"):
		auth, _ := SplitAbsolute(t)
		if len(auth) == 0 || !ValidHost(auth) {
			return ErrMalformed
		}
	default:
		return ErrMalformed
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			return ErrMalformed
		}
		if c == '%' && (i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2])) {
			return ErrMalformed
		}
	}
	return nil
}

// IsAbsolute reports whether a valid request target is in absolute form.
func IsAbsolute(target []byte) bool { return target[0] != '/' && target[0] != '*' }

// SplitAbsolute splits an absolute-form target into its authority and the
// origin-form rest ("/" when empty; a "?query" right after the authority
// gets a "/" before it, in a new slice).
func SplitAbsolute(t []byte) (authority, rest []byte) {
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

// statusLine parses "HTTP/1.x SP 3DIGIT [SP reason]".
func (h *Head) statusLine() error {
	line := h.bytes(h.method)
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return ErrMalformed
	}
	switch line[7] {
	case '1':
	case '0':
		h.HTTP10 = true
	default:
		return ErrMalformed
	}
	s := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return ErrMalformed
		}
		s = s*10 + int(c-'0')
	}
	if s < 100 || !validValue(line[12:]) {
		return ErrMalformed
	}
	h.status = s
	h.reason = span{9, h.method.end + 2}
	h.method = span{}
	return nil
}

// fieldLine parses the field line buf[off:end] ("name: value\r\n") and
// notes the fields that frame or route the message.
func (h *Head) fieldLine(off, end int) error {
	line := h.buf[off : end-2]
	colon := bytes.IndexByte(line, ':')
	if colon < 1 || !IsToken(line[:colon]) {
		return ErrMalformed // also whitespace before the colon, and obs-fold
	}
	name := line[:colon]
	vstart := off + colon + 1
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
		vstart++
	}
	v = trimOWS(v)
	if !validValue(v) {
		return ErrMalformed
	}
	f := Field{
		line:    span{int32(off), int32(end)},
		nameEnd: int32(off + colon),
		value:   span{int32(vstart), int32(vstart + len(v))},
		Kind:    classify(name),
	}
	switch f.Kind {
	case KindContentLength:
		if h.ContentLength >= 0 {
			return ErrMalformed // a repeated Content-Length, even an equal one
		}
		n, ok := parseContentLength(v)
		if !ok {
			return ErrMalformed
		}
		h.ContentLength = n
	case KindTransferEncoding:
		if h.Chunked || h.TEOther {
			return ErrMalformed // one Transfer-Encoding field only
		}
		if EqualFold(v, "chunked") {
			h.Chunked = true
		} else {
			h.TEOther = true
		}
	case KindHost:
		h.hostN++
		h.host = f.value
	case KindConnection:
		h.connectionTokens(v)
	case KindRequestID:
		h.requestIDN++
		h.requestID = f.value
	case KindExpect:
		if EqualFold(v, "100-continue") {
			h.Expect = true
		} else {
			h.ExpectOther = true
		}
	case KindTE:
		for tok := range Tokens(v) {
			h.TETrailers = h.TETrailers || EqualFold(tok, "trailers")
		}
	}
	h.addField(f)
	return nil
}

// connectionTokens notes the options of a Connection field's value.
func (h *Head) connectionTokens(v []byte) {
	for tok := range Tokens(v) {
		switch {
		case EqualFold(tok, "close"):
			h.Close = true
		case EqualFold(tok, "upgrade"):
			h.Upgrade = true
		case EqualFold(tok, "keep-alive"):
			h.KeepAlive = true
		}
	}
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
