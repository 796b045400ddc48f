package actors

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// A health check reads only what it needs of an answer's head: the status
// and how the body is framed (Content-Length, Transfer-Encoding,
// Connection). It judges them as net/http's ReadResponse does, never more
// leniently (FuzzReadAnswerHead holds it to that), and builds no header
// map: a check's head costs no allocation. Everything else in the head is
// checked for form (a name of token bytes, a colon, a value without control
// bytes) and skipped. The reader's limit (prober.lr) bounds the head.

// answerHead is what a health check keeps of an answer's head.
type answerHead struct {
	status  int
	length  int64 // the body's length; -1: chunked, or until the connection closes
	chunked bool
	close   bool // the connection cannot serve another request after this answer
}

// The names of the framing fields, in lower case.
var (
	fieldContentLength    = []byte("content-length")
	fieldTransferEncoding = []byte("transfer-encoding")
	fieldConnection       = []byte("connection")
)

// errMalformedHead is the error of a head that is not HTTP.
var errMalformedHead = errors.New("malformed HTTP response")

// readAnswerHead reads the head of the answer to a request of method from
// br. line is scratch for a line longer than br's buffer.
func readAnswerHead(br *bufio.Reader, method string, line *[]byte) (answerHead, error) {
	var h answerHead
	l, err := readHeadLine(br, line)
	if err != nil {
		return h, err
	}
	major, minor, err := parseStatusLine(l, &h)
	if err != nil {
		return h, err
	}
	var (
		lengthBuf         [24]byte // the first Content-Length's value (a longer one is no length)
		length            []byte
		hasLength         bool
		encodings         int
		chunked           bool
		hasClose, hasKeep bool
		framing           bool // the last field was a framing one
	)
	for first := true; ; first = false {
		l, err := readHeadLine(br, line)
		if err != nil {
			return h, err
		}
		if len(l) == 0 {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			// A folded line continues the field before it: refused for a
			// framing field, and at the start (as textproto does).
			if first || framing {
				return h, fmt.Errorf("%w: folded header line %s", errMalformedHead, quoteHead(l))
			}
			if !validFieldValue(l) {
				return h, fmt.Errorf("%w: header line %s", errMalformedHead, quoteHead(l))
			}
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || !validFieldName(l[:colon]) || !validFieldValue(l[colon+1:]) {
			return h, fmt.Errorf("%w: header line %s", errMalformedHead, quoteHead(l))
		}
		name, value := l[:colon], bytes.Trim(l[colon+1:], " \t")
		framing = true
		switch {
		case equalFold(name, fieldContentLength):
			if !hasLength {
				length, hasLength = append(lengthBuf[:0], value[:min(len(value), len(lengthBuf))]...), true
				if len(value) > len(lengthBuf) {
					return h, fmt.Errorf("bad Content-Length %s", quoteHead(value))
				}
			} else if !bytes.Equal(length, value) {
				return h, errors.New("http: message cannot contain multiple Content-Length headers")
			}
		case equalFold(name, fieldTransferEncoding):
			encodings++
			chunked = equalFold(value, []byte("chunked"))
			if !chunked || encodings > 1 {
				if encodings > 1 {
					return h, errors.New("too many transfer encodings")
				}
				return h, fmt.Errorf("unsupported transfer encoding: %s", quoteHead(value))
			}
		case equalFold(name, fieldConnection):
			hasClose = hasClose || hasToken(value, "close")
			hasKeep = hasKeep || hasToken(value, "keep-alive")
		default:
			framing = false
		}
	}
	if major < 1 || (major == 1 && minor < 1) {
		chunked = false // ignored before HTTP/1.1, as net/http does
	}
	h.length = -1
	if hasLength {
		if len(length) == 0 {
			return h, errors.New("invalid empty Content-Length")
		}
		n, ok := parseLength(length)
		if !ok {
			return h, fmt.Errorf("bad Content-Length %s", quoteHead(length))
		}
		h.length = n
	}
	h.close = major < 1 || hasClose || (major == 1 && minor == 0 && !hasKeep)
	switch {
	case method == http.MethodHead || h.status/100 == 1 || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		h.length = 0
	case chunked:
		h.chunked, h.length = true, -1
	case h.length < 0:
		h.close = true // the body lasts until the connection closes
	}
	return h, nil
}

// parseStatusLine reads "HTTP/x.y nnn reason" into h.status and returns the version.
func parseStatusLine(l []byte, h *answerHead) (major, minor int, err error) {
	proto, rest, ok := bytes.Cut(l, []byte(" "))
	if !ok {
		return 0, 0, fmt.Errorf("%w %s", errMalformedHead, quoteHead(l))
	}
	rest = bytes.TrimLeft(rest, " ")
	code, _, _ := bytes.Cut(rest, []byte(" "))
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return 0, 0, fmt.Errorf("malformed HTTP status code %s", quoteHead(code))
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	major, minor, ok = http.ParseHTTPVersion(string(proto))
	if !ok {
		return 0, 0, fmt.Errorf("malformed HTTP version %s", quoteHead(proto))
	}
	return major, minor, nil
}

// readHeadLine reads one line of the head without its line end (LF or CRLF).
// An end of the stream before it is an unexpected one.
func readHeadLine(br *bufio.Reader, line *[]byte) ([]byte, error) {
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

// discardTrailer reads the trailer after a chunked body's last chunk, up to
// its empty line.
func discardTrailer(br *bufio.Reader, line *[]byte) error {
	for {
		l, err := readHeadLine(br, line)
		if err != nil || len(l) == 0 {
			return err
		}
	}
}

// parseLength reads a Content-Length as strconv.ParseUint(b, 10, 63)
// would, without its allocation.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		if n > (1<<63-1)/10 {
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

// validFieldName reports whether b is a token (RFC 9110 §5.6.2).
func validFieldName(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !isTokenByte[c] {
			return false
		}
	}
	return len(b) > 0
}

// validFieldValue reports whether b has no control byte but tab.
func validFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

var isTokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// equalFold compares b with lower, which is in lower case, ASCII only.
func equalFold(b, lower []byte) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token (lower case).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, []byte(","))
		if equalFold(bytes.Trim(item, " \t"), []byte(token)) {
			return true
		}
	}
	return false
}

// quoteHead quotes b for an error message, cut at maxHealthError bytes.
func quoteHead(b []byte) string {
	if len(b) > maxHealthError {
		b = b[:maxHealthError]
	}
	return strconv.Quote(string(b))
}
