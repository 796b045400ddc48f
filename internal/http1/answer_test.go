package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// readHeadOf reads the head of answer as a health check does, under its
// limit.
func readHeadOf(answer []byte, method string) (AnswerHead, error) {
	lr := &io.LimitedReader{R: bytes.NewReader(answer), N: MaxHeadBytes}
	var line []byte
	return ReadAnswerHead(bufio.NewReaderSize(lr, 4<<10), method, &line)
}

// longValue is a field value longer than the reader's buffer.
var longValue = strings.Repeat("v", 10<<10)

// answerTests are answer heads and what ReadAnswerHead makes of them.
var answerTests = []struct {
	name, answer string
	method       string // default GET
	want         AnswerHead
	err          string // part of the error; "" for none
}{
	{name: "length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: AnswerHead{Status: 200, ContentLength: 2}},
	{name: "LF only, odd case", answer: "HTTP/1.1 204 No Content\nCONTENT-length:  0 \n\n", want: AnswerHead{Status: 204}},
	{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 9\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: -1, Chunked: true}},
	{name: "no length: until close", answer: "HTTP/1.1 200 OK\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: -1, Close: true}},
	{name: "connection close among tokens", answer: "HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200, Close: true}},
	{name: "HTTP/1.0 closes", answer: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200, Close: true}},
	{name: "HTTP/1.0 keep-alive", answer: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200}},
	{name: "HTTP/1.0 ignores chunked", answer: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: -1, Close: true}},
	{name: "HEAD has no body", method: http.MethodHead, answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", want: AnswerHead{Status: 200}},
	{name: "1xx has no body", answer: "HTTP/1.1 100 Continue\r\n\r\n", want: AnswerHead{Status: 100}},
	{name: "304 has no body", answer: "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n", want: AnswerHead{Status: 304}},
	{name: "same length twice", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: 2}},
	{name: "a long other field", answer: "HTTP/1.1 200 OK\r\nX-Long: " + longValue + "\r\nContent-Length: 1\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: 1}},
	{name: "folded other field", answer: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 1\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: 1}},
	{name: "status without reason", answer: "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 503}},
	{name: "spaces before the status", answer: "HTTP/1.1   200 OK\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200}},
	{name: "HTTP/2.0 status line, read as HTTP/1.1", answer: "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200}},
	{name: "HTTP/0.9 closes", answer: "HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200, Close: true}},
	{name: "no body on 204, chunked or not", answer: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", want: AnswerHead{Status: 204}},
	{name: "largest length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", want: AnswerHead{Status: 200, ContentLength: 1<<63 - 1}},
	{name: "empty Connection tokens", answer: "HTTP/1.1 200 OK\r\nConnection: ,, close ,\r\nContent-Length: 0\r\n\r\n", want: AnswerHead{Status: 200, Close: true}},

	{name: "two lengths", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", err: "multiple Content-Length"},
	{name: "bad length", answer: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n", err: "bad Content-Length"},
	{name: "huge length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", err: "bad Content-Length"},
	{name: "empty length", answer: "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", err: "empty Content-Length"},
	{name: "gzip encoding", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: "unsupported transfer encoding"},
	{name: "two encodings", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: "too many transfer encodings"},
	{name: "folded length", answer: "HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\n\r\n", err: "folded"},
	{name: "folded first line", answer: "HTTP/1.1 200 OK\r\n X: 1\r\n\r\n", err: "folded"},
	{name: "space before colon", answer: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n", err: "malformed"},
	{name: "no colon", answer: "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\n", err: "malformed"},
	{name: "control byte in a value", answer: "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", err: "malformed"},
	{name: "garbage", answer: "SSH-2.0-OpenSSH\r\n\r\n", err: "malformed HTTP response"},
	{name: "bad status", answer: "HTTP/1.1 2x0 OK\r\n\r\n", err: "malformed HTTP status code"},
	{name: "status below 100", answer: "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", err: "malformed HTTP status code"},
	{name: "HTTP/1.0 names an unknown encoding", answer: "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: "unsupported transfer encoding"},
	{name: "folded encoding", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\tgzip\r\n\r\n", err: "folded"},
	{name: "length longer than a number", answer: "HTTP/1.1 200 OK\r\nContent-Length: " + strings.Repeat("1", 25) + "\r\n\r\n", err: "bad Content-Length"},
	{name: "bad version", answer: "HTTP/x 200 OK\r\n\r\n", err: "malformed HTTP version"},
	{name: "cut head", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", err: "unexpected EOF"},
	{name: "nothing", answer: "", err: "unexpected EOF"},
	{name: "head over the limit", answer: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("p", MaxHeadBytes) + "\r\n\r\n", err: "unexpected EOF"},
}

func TestReadAnswerHead(t *testing.T) {
	for _, tt := range answerTests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			h, err := readHeadOf([]byte(tt.answer), method)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %+v, %v; want an error with %q", h, err, tt.err)
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err == "" && h != tt.want:
				t.Fatalf("got %+v, want %+v", h, tt.want)
			}
		})
	}
}

func TestReadAnswerHead_allocs(t *testing.T) {
	answer := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\nok"
	var r strings.Reader
	br := bufio.NewReaderSize(&r, 4<<10)
	var line []byte
	n := testing.AllocsPerRun(100, func() {
		r.Reset(answer)
		br.Reset(&r)
		if _, err := ReadAnswerHead(br, "GET", &line); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per head", n)
	}
}

func TestDiscardChunked(t *testing.T) {
	tests := []struct {
		name, body string
		err        error
	}{
		{name: "chunks", body: "2\r\nok\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"},
		{name: "a trailer", body: "2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n"},
		{name: "bare LF", body: "2\nok\n0\n\n", err: ErrBadChunk},
		{name: "bad size", body: "zz\r\nok\r\n0\r\n\r\n", err: ErrBadChunk},
		{name: "cut", body: "5\r\nok", err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.body + "NEXT"))
			err := DiscardChunked(br)
			if err != tt.err {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if rest, _ := io.ReadAll(br); err == nil && string(rest) != "NEXT" {
				t.Fatalf("left %q after the body", rest)
			}
		})
	}
}

// FuzzReadAnswerHead holds ReadAnswerHead to net/http's ReadResponse: what
// it accepts, ReadResponse accepts with the same status and framing (it may
// refuse more). It never reads past the head's limit.
func FuzzReadAnswerHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204 No Content\nConnection: close\n\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 1\r\n\r\n",
		"HTTP/2.0 301 Moved\r\nLocation: /\r\n\r\n",
		// The corpus's two inputs that found Transfer-Encoding read before
		// HTTP/1.1, with a status the reader takes (they had 000).
		"HTTP/1.0 200 OK\nTrAnsfer-EnCoding:Chunked\n\n",
		"HTTP/0.1 200\nTransfer-Encoding: chunked\n\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, answer []byte, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		h, err := readHeadOf(answer, method)
		if err != nil {
			return
		}
		resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), &http.Request{Method: method})
		if rerr != nil {
			t.Fatalf("accepted %+v; ReadResponse refused it: %v", h, rerr)
		}
		defer resp.Body.Close()
		// The framing net/http reads by: no body (it may still name an
		// encoding, for HEAD or a status without a body), chunks, a length,
		// or the connection's end (-1).
		chunked, length := false, resp.ContentLength
		switch {
		case resp.Body == http.NoBody:
			length = 0
		case len(resp.TransferEncoding) > 0:
			chunked, length = true, -1
		}
		if h.Status != resp.StatusCode || h.Chunked != chunked || h.ContentLength != length || h.Close != resp.Close {
			t.Fatalf("read %+v; ReadResponse: status %d, chunked %v, length %d (body %T), close %v",
				h, resp.StatusCode, chunked, resp.ContentLength, resp.Body, resp.Close)
		}
	})
}
