package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
)

// parseAll runs the proxy's parser on a whole request: head, then body
// (decoded). ok is false when the head is refused; bodyErr is a refused or
// incomplete body.
func parseAll(data []byte) (h *Head, body []byte, ok bool, bodyErr error) {
	br := bufio.NewReaderSize(bytes.NewReader(data), 8<<10)
	h = &Head{}
	if err := h.ReadHead(br); err != nil {
		return h, nil, false, nil
	}
	if err := h.ParseRequest(); err != nil {
		return h, nil, false, nil
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	var rerr error
	switch {
	case h.Chunked:
		rerr, _ = CopyChunked(bw, br, true)
	case h.ContentLength > 0:
		rerr, _ = CopyN(bw, br, h.ContentLength)
	}
	bw.Flush()
	return h, out.Bytes(), true, rerr
}

func TestHead_ParseRequest(t *testing.T) {
	ok := []struct{ name, req string }{
		{"simple get", "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"content-length body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
		{"chunked body with extension and trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"},
		{"absolute form", "GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"options star", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"http/1.0 without host", "GET / HTTP/1.0\r\n\r\n"},
		{"obs-text value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n"},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, ok, err := parseAll([]byte(tt.req)); !ok || err != nil {
				t.Fatalf("refused: head ok %v, body err %v", ok, err)
			}
		})
	}
	refused := []struct{ name, req string }{
		{"content-length and transfer-encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"two content-lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"},
		{"two equal content-lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"},
		{"content-length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n"},
		{"signed content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n"},
		{"transfer-encoding not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"transfer-encoding chunked not final", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
		{"transfer-encoding twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"transfer-encoding in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
		{"bare LF in a field", "GET / HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n"},
		{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: x\rX-A: a\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc"},
		{"invalid field name", "GET / HTTP/1.1\r\nHost: x\r\nX@A: a\r\n\r\n"},
		{"control byte in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
		{"missing host", "GET / HTTP/1.1\r\n\r\n"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
		{"invalid host", "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n"},
		{"http/2 version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n"},
		{"double space in request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"relative target", "GET a HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"bad escape in target", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, ok, _ := parseAll([]byte(tt.req)); ok {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("the request line of a refused head", func(t *testing.T) {
		for req, want := range map[string]bool{
			"GET /a?b HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n": true,  // two hosts: the line parsed
			"GET /a HTTP/1.0\r\nX@A: a\r\n\r\n":               true,  // an invalid field name
			"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n":            false, // a bad target
			"GET  / HTTP/1.1\r\nHost: x\r\n\r\n":              false,
			"GET / HTTP/2.0\r\nHost: x\r\n\r\n":               false,
		} {
			h, _, ok, _ := parseAll([]byte(req))
			if ok || h.RequestLine() != want {
				t.Errorf("%q: accepted %v, RequestLine %v, want %v", req, ok, h.RequestLine(), want)
			}
		}
		h, _, _, _ := parseAll([]byte("OPTIONS * HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n"))
		if string(h.Method()) != "OPTIONS" || string(h.Target()) != "*" || !h.HTTP10 {
			t.Errorf("method %q, target %q, HTTP/1.0 %v", h.Method(), h.Target(), h.HTTP10)
		}
	})
	badBody := []struct{ name, req string }{
		{"bare LF after chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"},
		{"no CRLF after chunk data", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"},
		{"chunk size not hex", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3g\r\nabc\r\n0\r\n\r\n"},
		{"space after chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n"},
		{"chunk size too long", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000003\r\nabc\r\n0\r\n\r\n"},
		{"short body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabc"},
		{"obs-fold in trailer", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n"},
	}
	for _, tt := range badBody {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, ok, err := parseAll([]byte(tt.req)); ok && err == nil {
				t.Fatal("body accepted")
			}
		})
	}
}

// requestSeeds are FuzzParseRequest's seeds: requests the proxy takes, and
// ones it refuses for ambiguous framing or form.
var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /a%20b?c=d&e HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: wrk\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
	"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
	"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\nHost: x\n\n",
	"GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	"PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
}

// FuzzParseRequest checks the parser against net/http's: every request the
// proxy accepts, http.ReadRequest accepts too, with the same method, target,
// Host, header fields and body framing, and the same body bytes.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body, ok, bodyErr := parseAll(data)
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(data), 4096))
		if err != nil {
			t.Fatalf("accepted what net/http refuses (%v): %q", err, data)
		}
		sameRequestHead(t, h, req)
		sameFraming(t, h, req)
		if bodyErr != nil {
			return
		}
		got, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("body the proxy accepted, net/http refused: %v", err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("body: net/http %q, proxy %q", got, body)
		}
	})
}

// sameRequestHead fails t when net/http read another request line, Host or
// header fields than the proxy's parser.
func sameRequestHead(t *testing.T, h *Head, req *http.Request) {
	t.Helper()
	if req.Method != string(h.Method()) || req.RequestURI != string(h.Target()) {
		t.Fatalf("request line: net/http %q %q, proxy %q %q", req.Method, req.RequestURI, h.Method(), h.Target())
	}
	host := string(h.Host())
	if IsAbsolute(h.Target()) {
		a, _ := SplitAbsolute(h.Target())
		host = string(a)
	}
	if req.Host != host {
		t.Fatalf("Host: net/http %q, proxy %q", req.Host, host)
	}
	mine := http.Header{}
	for i := range h.NumFields() {
		fl := h.Field(i)
		k := textproto.CanonicalMIMEHeaderKey(string(h.Name(fl)))
		if k == "Host" {
			continue
		}
		mine[k] = append(mine[k], string(h.Value(fl)))
	}
	for k, v := range req.Header {
		if k == "Transfer-Encoding" || k == "Content-Length" {
			continue // compared as framing (net/http moves them)
		}
		if !slices.Equal(mine[k], v) {
			t.Fatalf("field %s: net/http %q, proxy %q", k, v, mine[k])
		}
	}
	for k := range mine {
		if _, ok := req.Header[k]; !ok && k != "Transfer-Encoding" && k != "Content-Length" {
			t.Fatalf("field %s: only the proxy saw it", k)
		}
	}
}

// sameFraming fails t when net/http framed the body otherwise than the
// proxy's parser.
func sameFraming(t *testing.T, h *Head, req *http.Request) {
	t.Helper()
	switch {
	case h.Chunked:
		if req.ContentLength != -1 || strings.Join(req.TransferEncoding, ",") != "chunked" {
			t.Fatalf("framing: net/http %d %q, proxy chunked", req.ContentLength, req.TransferEncoding)
		}
	case h.ContentLength >= 0:
		if req.ContentLength != h.ContentLength || len(req.TransferEncoding) > 0 {
			t.Fatalf("framing: net/http %d %q, proxy %d", req.ContentLength, req.TransferEncoding, h.ContentLength)
		}
	default:
		if req.ContentLength != 0 || len(req.TransferEncoding) > 0 {
			t.Fatalf("framing: net/http %d %q, proxy none", req.ContentLength, req.TransferEncoding)
		}
	}
}
