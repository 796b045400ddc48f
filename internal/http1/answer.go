package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// A health check reads only what it needs of an answer's head: the status
// and how the body is framed (Content-Length, Transfer-Encoding,
// Connection). Unlike the proxy's strict parse it takes what net/http's
// client takes (bare LF line ends, folded lines, a repeated equal
// Content-Length, any HTTP/x.y version), since it only judges a status: an
// endpoint that any HTTP client reads must pass. It judges as net/http's
// ReadResponse does, never more leniently (FuzzReadAnswerHead holds it to
// that), with the codec's character classes and field names, and builds no
// header map and copies nothing: a check's head costs no allocation.
// Everything else in the head is checked for form (a name of token bytes, a
// colon, a value without control bytes) and skipped. The caller's reader
// bounds the head.

// AnswerHead is what a health check keeps of an answer's head.
type AnswerHead struct {
	Status        int
	ContentLength int64 // the body's length; -1: chunked, or until the connection closes
	Chunked       bool
	Close         bool // the connection cannot serve another request after this answer
}

// ErrMalformedAnswer is the error of an answer head that is not HTTP.
var ErrMalformedAnswer = errors.New("malformed HTTP response")

// maxQuote bounds what an error message quotes of an answer.
const maxQuote = 512

// ReadAnswerHead reads the head of the answer to a request of method from
// br, up to and including its empty line. line is scratch for a line longer
// than br's buffer; the caller may keep it for the next head.
func ReadAnswerHead(br *bufio.Reader, method string, line *[]byte) (AnswerHead, error) {
	var h AnswerHead
	l, err := readAnswerLine(br, line)
	if err != nil {
		return h, err
	}
	major, minor, err := h.statusLine(l)
	if err != nil {
		return h, err
	}
	var f answerFields
	if err := f.read(br, line); err != nil {
		return h, err
	}
	return h, h.frame(method, major, minor, &f)
}

// statusLine reads "HTTP/x.y nnn reason" into h.Status and returns the
// version, as net/http reads it (spaces before the code are skipped), but
// refuses a status below 100 as ParseResponse does.
func (h *AnswerHead) statusLine(l []byte) (major, minor int, err error) {
	proto, rest, ok := bytes.Cut(l, []byte(" "))
	if !ok {
		return 0, 0, fmt.Errorf("%w %s", ErrMalformedAnswer, quote(l))
	}
	rest = bytes.TrimLeft(rest, " ")
	code, _, _ := bytes.Cut(rest, []byte(" "))
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return 0, 0, fmt.Errorf("malformed HTTP status code %s", quote(code))
	}
	h.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	major, minor, ok = parseVersion(proto)
	if !ok {
		return 0, 0, fmt.Errorf("malformed HTTP version %s", quote(proto))
	}
	return major, minor, nil
}

// frame decides how the body is framed and whether the connection closes
// after it, from the version and the framing fields.
func (h *AnswerHead) frame(method string, major, minor int, f *answerFields) error {
	http11 := major > 1 || (major == 1 && minor >= 1)
	h.ContentLength = -1
	if f.hasLength {
		length := f.length[:f.lengthN]
		if len(length) == 0 {
			return errors.New("invalid empty Content-Length")
		}
		n, ok := parseLength(length)
		if !ok {
			return fmt.Errorf("bad Content-Length %s", quote(length))
		}
		h.ContentLength = n
	}
	h.Close = major < 1 || f.close || (major == 1 && minor == 0 && !f.keepAlive)
	switch {
	case !h.HasBody(method == "HEAD"):
		h.ContentLength = 0
	case f.chunked && http11: // Transfer-Encoding is ignored before HTTP/1.1, as net/http does
		h.Chunked, h.ContentLength = true, -1
	case h.ContentLength < 0:
		h.Close = true // the body lasts until the connection closes
	}
	return nil
}

// HasBody reports whether the answer to a request with method HEAD (head)
// or another method has a body, by the rule of Head.HasBody.
func (h *AnswerHead) HasBody(head bool) bool {
	return !head && h.Status >= 200 && h.Status != 204 && h.Status != 304
}

// answerFields is what ReadAnswerHead notes of the header fields.
type answerFields struct {
	length    [24]byte // the first Content-Length's value (a longer one is no length)
	lengthN   int      // its size
	hasLength bool
	encodings int
	chunked   bool
	close     bool // Connection: close
	keepAlive bool // Connection: keep-alive
	framing   bool // the last field was a framing one
}

// read reads the field lines up to the empty line.
func (f *answerFields) read(br *bufio.Reader, line *[]byte) error {
	for first := true; ; first = false {
		l, err := readAnswerLine(br, line)
		if err != nil {
			return err
		}
		if len(l) == 0 {
			return nil
		}
		if l[0] == ' ' || l[0] == '\t' {
			// A folded line continues the field before it: refused for a
			// framing field, and at the start (as textproto does).
			if first || f.framing {
				return fmt.Errorf("%w: folded header line %s", ErrMalformedAnswer, quote(l))
			}
			if !validValue(l) {
				return fmt.Errorf("%w: header line %s", ErrMalformedAnswer, quote(l))
			}
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || !IsToken(l[:colon]) || !validValue(l[colon+1:]) {
			return fmt.Errorf("%w: header line %s", ErrMalformedAnswer, quote(l))
		}
		if err := f.field(l[:colon], trimOWS(l[colon+1:])); err != nil {
			return err
		}
	}
}

// field notes one field when it frames the answer.
func (f *answerFields) field(name, value []byte) error {
	f.framing = true
	switch classify(name) {
	case KindContentLength:
		switch {
		case f.hasLength && !bytes.Equal(f.length[:f.lengthN], value):
			return errors.New("http: message cannot contain multiple Content-Length headers")
		case f.hasLength:
		case len(value) > len(f.length):
			return fmt.Errorf("bad Content-Length %s", quote(value))
		default:
			f.lengthN, f.hasLength = copy(f.length[:], value), true
		}
	case KindTransferEncoding:
		f.encodings++
		if f.encodings > 1 {
			return errors.New("too many transfer encodings")
		}
		if f.chunked = EqualFold(value, "chunked"); !f.chunked {
			return fmt.Errorf("unsupported transfer encoding: %s", quote(value))
		}
	case KindConnection:
		for tok := range Tokens(value) {
			f.close = f.close || EqualFold(tok, "close")
			f.keepAlive = f.keepAlive || EqualFold(tok, "keep-alive")
		}
	default:
		f.framing = false
	}
	return nil
}

// readAnswerLine reads one line of a head without its line end (LF or
// CRLF). An end of the stream before it is an unexpected one.
func readAnswerLine(br *bufio.Reader, line *[]byte) ([]byte, error) {
	l, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		b := append((*line)[:0], l...)
		for err == bufio.ErrBufferFull {
			l, err = br.ReadSlice('\n')
			b = append(b, l...)
		}
		*line, l = b, b
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

// parseVersion reads "HTTP/x.y" as net/http's ParseHTTPVersion does.
func parseVersion(b []byte) (major, minor int, ok bool) {
	if len(b) != len("HTTP/x.y") || string(b[:5]) != "HTTP/" || b[6] != '.' || !isDigit(b[5]) || !isDigit(b[7]) {
		return 0, 0, false
	}
	return int(b[5] - '0'), int(b[7] - '0'), true
}

// parseLength reads a Content-Length as strconv.ParseUint(b, 10, 63)
// would, without its allocation.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) || n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63-1 {
			return 0, false
		}
	}
	return int64(n), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// quote quotes b for an error message, cut at maxQuote bytes.
func quote(b []byte) string {
	if len(b) > maxQuote {
		b = b[:maxQuote]
	}
	return strconv.Quote(string(b))
}
