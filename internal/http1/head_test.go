package http1

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// readRequest reads and parses one request head from s.
func readRequest(t testing.TB, s string) (*Head, error) {
	t.Helper()
	h := &Head{}
	br := bufio.NewReaderSize(strings.NewReader(s), 8<<10)
	if err := h.ReadHead(br); err != nil {
		return h, err
	}
	return h, h.ParseRequest()
}

func readResponse(t testing.TB, s string) (*Head, error) {
	t.Helper()
	h := &Head{}
	br := bufio.NewReaderSize(strings.NewReader(s), 8<<10)
	if err := h.ReadHead(br); err != nil {
		return h, err
	}
	return h, h.ParseResponse()
}

// forwarded returns the names of the fields passed on verbatim.
func forwarded(h *Head) []string {
	var names []string
	for i := range h.NumFields() {
		if f := h.Field(i); !f.Drop {
			names = append(names, string(h.Name(f)))
		}
	}
	return names
}

func TestHead_ReadHead(t *testing.T) {
	t.Run("64 KiB is the limit", func(t *testing.T) {
		base := "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
		pad := MaxHeadBytes - len(base) - 4
		exact := base + strings.Repeat("a", pad) + "\r\n\r\n"
		if len(exact) != MaxHeadBytes {
			t.Fatalf("test head is %d bytes", len(exact))
		}
		if _, err := readRequest(t, exact); err != nil {
			t.Fatalf("a head of exactly 64 KiB: %v", err)
		}
		over := base + strings.Repeat("a", pad+1) + "\r\n\r\n"
		if _, err := readRequest(t, over); err != ErrHeadTooLarge {
			t.Fatalf("a head of 64 KiB + 1: %v, want ErrHeadTooLarge", err)
		}
		many := "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("a: b\r\n", MaxHeadBytes/6) + "\r\n"
		if _, err := readRequest(t, many); err != ErrHeadTooLarge {
			t.Fatalf("many short fields past 64 KiB: %v, want ErrHeadTooLarge", err)
		}
	})
	t.Run("end of input", func(t *testing.T) {
		if _, err := readRequest(t, ""); err == nil || err.Error() != "EOF" {
			t.Fatalf("empty input: %v, want EOF", err)
		}
		if _, err := readRequest(t, "GET / HTTP/1.1\r\nHost:"); err == nil || err.Error() != "unexpected EOF" {
			t.Fatalf("cut head: %v, want unexpected EOF", err)
		}
	})
	t.Run("release returns everything", func(t *testing.T) {
		h, err := readRequest(t, "GET / HTTP/1.1\r\nHost: x\r\n"+strings.Repeat("X-A: b\r\n", 5000)+"\r\n")
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
		if h.buf != nil || h.fields != nil || h.bufp != nil || h.fieldsp != nil || h.ContentLength != -1 {
			t.Fatalf("released head keeps buffers: buf %d fields %d", cap(h.buf), cap(h.fields))
		}
		if h.IsHEAD() || h.NumFields() != 0 || len(h.Method()) != 0 {
			t.Fatal("released head still answers")
		}
	})
}

func TestHead_ParseRequest_framing(t *testing.T) {
	tests := []struct {
		name    string
		req     string
		cl      int64
		chunked bool
		close   bool
		expect  bool
		upgrade bool
	}{
		{"no body", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", -1, false, false, false, false},
		{"content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", 12, false, false, false, false},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", -1, true, false, false, false},
		{"chunked any case", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n", -1, true, false, false, false},
		{"connection close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", -1, false, true, false, false},
		{"http/1.0 closes", "GET / HTTP/1.0\r\n\r\n", -1, false, true, false, false},
		{"expect 100-continue", "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 1, false, false, true, false},
		{"expect ignored on http/1.0", "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", 1, false, true, false, false},
		{"websocket upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", -1, false, false, false, true},
		{"h2c is no websocket", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", -1, false, false, false, false},
		{"upgrade without connection", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", -1, false, false, false, false},
		{"no upgrade on http/1.0", "GET / HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", -1, false, true, false, false},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", -1, false, false, false, false},
		{"http/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", -1, false, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readRequest(t, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if h.ContentLength != tt.cl || h.Chunked != tt.chunked || h.Close != tt.close || h.Expect != tt.expect || h.Upgrade != tt.upgrade {
				t.Fatalf("cl %d chunked %v close %v expect %v upgrade %v", h.ContentLength, h.Chunked, h.Close, h.Expect, h.Upgrade)
			}
		})
	}
	t.Run("http/1.0 other expectation is ignored", func(t *testing.T) {
		h, err := readRequest(t, "GET / HTTP/1.0\r\nExpect: teapot\r\n\r\n")
		if err != nil || h.ExpectOther {
			t.Fatalf("err %v, ExpectOther %v", err, h.ExpectOther)
		}
	})
}

// TestHead_markHop covers what reaches the upstream verbatim: hop-by-hop
// fields and the fields Connection names never do; framing, Host and the
// forwarding fields are the proxy's to write, whatever Connection says.
func TestHead_markHop(t *testing.T) {
	tests := []struct {
		name, req string
		want      []string // the fields passed on verbatim, in order
	}{
		{"end-to-end kept in order", "GET / HTTP/1.1\r\nHost: x\r\nB: 1\r\nA: 2\r\nb: 3\r\n\r\n", []string{"B", "A", "b"}},
		{"fixed hop-by-hop dropped", "GET / HTTP/1.1\r\nHost: x\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nProxy-Authorization: y\r\nTE: trailers\r\nTrailer: z\r\nUpgrade: h2c\r\nConnection: upgrade\r\nA: 1\r\n\r\n", []string{"A"}},
		{"named in connection dropped", "GET / HTTP/1.1\r\nHost: x\r\nConnection: x-hop, X-Other\r\nX-Hop: 1\r\nx-other: 2\r\nA: 1\r\n\r\n", []string{"A"}},
		{"connection naming framing and host", "POST / HTTP/1.1\r\nHost: x\r\nConnection: Content-Length, Transfer-Encoding, Host, X-Forwarded-For\r\nContent-Length: 3\r\nA: 1\r\n\r\n", []string{"A"}},
		{"many connection tokens", "GET / HTTP/1.1\r\nHost: x\r\nConnection: t1,t2,t3,t4,t5,t6,t7,t8,t9,T10,t11\r\nT1: a\r\nt9: b\r\nt10: c\r\nT11: d\r\nt12: e\r\n\r\n", []string{"t12"}},
		{"repeated tokens", "GET / HTTP/1.1\r\nHost: x\r\nConnection: a, a, A, a\r\nConnection: b\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", []string{"C"}},
		{"request ids and their underscore aliases", "GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\r\nx_request_id: b\r\nConnection: X-Request-ID\r\nA: 1\r\n\r\n", []string{"A"}},
		{"forwarding fields and their underscore aliases", "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1\r\nX_Forwarded_For: 2\r\nX-Real-IP: 3\r\nX_Real_IP: 4\r\nx_real-ip: 5\r\nX_Forwarded_Host: 6\r\nX-Forwarded_Proto: 7\r\nX_Forwarded_Port: 8\r\nForwarded: 9\r\nX_Other: 10\r\n\r\n", []string{"X_Other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readRequest(t, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := forwarded(h); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("passed on %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("connection never removes framing", func(t *testing.T) {
		// Defect 1 of the hardening issue: with Content-Length dropped
		// and the body forwarded, the upstream took the body as a second
		// request.
		h, err := readRequest(t, "POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: 78\r\n\r\n")
		if err != nil || h.ContentLength != 78 {
			t.Fatalf("err %v, Content-Length %d, want 78", err, h.ContentLength)
		}
		r, err := readResponse(t, "HTTP/1.1 200 OK\r\nConnection: Content-Length, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n")
		if err != nil || !r.Chunked {
			t.Fatalf("response: err %v, chunked %v", err, r.Chunked)
		}
	})
}

func TestClassify(t *testing.T) {
	for name, want := range map[string]Kind{
		"host": KindHost, "HOST": KindHost, "content-length": KindContentLength, "Transfer-Encoding": KindTransferEncoding,
		"connection": KindConnection, "upgrade": KindUpgrade, "expect": KindExpect, "te": KindTE,
		"keep-alive": KindHop, "Proxy-Connection": KindHop, "proxy-authenticate": KindHop, "Proxy-Authorization": KindHop, "trailer": KindHop,
		"x-forwarded-for": KindForwardedFor, "X-REAL-IP": KindRealIP, "X-Forwarded-Proto": KindForwardedProto,
		"X-Forwarded-Host": KindForwardedHost, "X-Forwarded-Port": KindForwardedPort, "forwarded": KindForwarded,
		"X_Forwarded_For": KindForwardingAlias, "x_real_ip": KindForwardingAlias, "X-Real_Ip": KindForwardingAlias,
		"X_Forwarded-Proto": KindForwardingAlias, "X_FORWARDED_HOST": KindForwardingAlias, "X-Forwarded_Port": KindForwardingAlias,
		"X-Request-Id": KindRequestID, "x-request-id": KindRequestID, "X_Request_ID": KindForwardingAlias, "X-Request_Id": KindForwardingAlias,
		"Content_Length": KindOther, "X_Other": KindOther, "Hosts": KindOther, "X-Forwarded-Fo": KindOther, "Forwarded_": KindOther,
	} {
		if got := classify([]byte(name)); got != want {
			t.Errorf("classify(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestHead_ParseResponse(t *testing.T) {
	ok := []struct {
		name, resp string
		status     int
		cl         int64
		chunked    bool
		teOther    bool
		close      bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", 200, 2, false, false, false},
		{"no reason", "HTTP/1.1 204\r\n\r\n", 204, -1, false, false, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, -1, true, false, false},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 200, -1, false, true, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\n\r\n", 200, -1, false, false, true},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\n", 100, -1, false, false, false},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readResponse(t, tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if h.Status() != tt.status || h.ContentLength != tt.cl || h.Chunked != tt.chunked || h.TEOther != tt.teOther || h.Close != tt.close {
				t.Fatalf("status %d cl %d chunked %v teOther %v close %v", h.Status(), h.ContentLength, h.Chunked, h.TEOther, h.Close)
			}
		})
	}
	refused := map[string]string{
		"content-length and chunked": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
		"two content-lengths":        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
		"bad content-length":         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"http/2":                     "HTTP/2.0 200 OK\r\n\r\n",
		"two-digit status":           "HTTP/1.1 20 OK\r\n\r\n",
		"no space after status":      "HTTP/1.1 200OK\r\n\r\n",
		"status below 100":           "HTTP/1.1 099 x\r\n\r\n",
		"bare LF":                    "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"bare CR in reason":          "HTTP/1.1 200 O\rK\r\n\r\n",
		"header injection":           "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: b\r\n\r\n",
		"obs-fold":                   "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n",
		"space before colon":         "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n",
		"control byte":               "HTTP/1.1 200 OK\r\nX-A: a\x01\r\n\r\n",
		// RFC 9112 §6.1: the framing of an HTTP/1.0 message with
		// Transfer-Encoding is faulty; net/http reads its body until the
		// close, a chunked reader to its last chunk.
		"http/1.0 chunked": "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"http/1.0 gzip":    "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	}
	for name, resp := range refused {
		t.Run(name, func(t *testing.T) {
			if _, err := readResponse(t, resp); err != ErrMalformed {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	t.Run("HasBody", func(t *testing.T) {
		for _, tt := range []struct {
			status int
			head   bool
			want   bool
		}{{200, false, true}, {200, true, false}, {204, false, false}, {304, false, false}, {101, false, false}, {404, false, true}} {
			h, err := readResponse(t, fmt.Sprintf("HTTP/1.1 %d X\r\n\r\n", tt.status))
			if err != nil {
				t.Fatal(err)
			}
			if got := h.HasBody(tt.head); got != tt.want {
				t.Errorf("HasBody(%d, head %v) = %v", tt.status, tt.head, got)
			}
		}
	})
}

// hostileHeads are heads of about n bytes shaped to make a careless parser
// do work quadratic in n.
var hostileHeads = map[string]func(n int) string{
	// Defect 2 of the hardening issue: N Connection tokens against N fields.
	"connection tokens and fields": func(n int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: x\r\nConnection: ")
		for i := 0; b.Len() < n/2; i++ {
			fmt.Fprintf(&b, "t%d,", i)
		}
		b.WriteString("x\r\n")
		for i := 0; b.Len() < n-16; i++ {
			fmt.Fprintf(&b, "t%d: v\r\n", i)
		}
		b.WriteString("\r\n")
		return b.String()
	},
	"one token repeated": func(n int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: x\r\nConnection: ")
		for b.Len() < n/2 {
			b.WriteString("a,")
		}
		b.WriteString("a\r\n")
		for b.Len() < n-8 {
			b.WriteString("a: v\r\n")
		}
		b.WriteString("\r\n")
		return b.String()
	},
	"many fields": func(n int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
		for b.Len() < n-8 {
			b.WriteString("a: v\r\n")
		}
		b.WriteString("\r\n")
		return b.String()
	},
	"many connection fields": func(n int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
		for i := 0; b.Len() < n-32; i++ {
			fmt.Fprintf(&b, "Connection: c%d\r\nc%d: v\r\n", i, i)
		}
		b.WriteString("\r\n")
		return b.String()
	},
	"one long line": func(n int) string {
		return "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a,", (n-40)/2) + "\r\n\r\n"
	},
}

// TestHead_linear checks defect 2 of the hardening issue by counting work,
// not time: parsing a hostile head four times as large takes at most
// about four times the field-name comparisons.
func TestHead_linear(t *testing.T) {
	const n = 15 << 10
	for name, mk := range hostileHeads {
		t.Run(name, func(t *testing.T) {
			small, err := readRequest(t, mk(n))
			if err != nil {
				t.Fatal(err)
			}
			large, err := readRequest(t, mk(4*n))
			if err != nil {
				t.Fatal(err)
			}
			work := func(h *Head) int { return h.ops + h.NumFields() + h.Len() }
			if r := float64(work(large)) / float64(work(small)); r > 4.5 {
				t.Fatalf("work %d for %d bytes, %d for %d bytes: ×%.1f for ×4 the size", work(small), small.Len(), work(large), large.Len(), r)
			}
		})
	}
}

// BenchmarkHead_hostile parses hostile heads of 16 and 64 KiB; ns/op
// should grow about four times, not sixteen.
func BenchmarkHead_hostile(b *testing.B) {
	for name, mk := range hostileHeads {
		for _, n := range []int{16 << 10, 64<<10 - 64} {
			s := mk(n)
			b.Run(fmt.Sprintf("%s/%dKiB", name, (n+64)>>10), func(b *testing.B) {
				r := bytes.NewReader(nil)
				br := bufio.NewReaderSize(r, 8<<10)
				h := &Head{}
				b.SetBytes(int64(len(s)))
				b.ReportAllocs()
				for b.Loop() {
					r.Reset([]byte(s))
					br.Reset(r)
					if err := h.ReadHead(br); err != nil {
						b.Fatal(err)
					}
					if err := h.ParseRequest(); err != nil {
						b.Fatal(err)
					}
				}
				h.Release()
			})
		}
	}
}

// BenchmarkHead_typical parses a browser-like request head.
func BenchmarkHead_typical(b *testing.B) {
	s := "GET /products/42?ref=home HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Connection: keep-alive\r\nCookie: session=abc123; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n\r\n"
	r := strings.NewReader(s)
	br := bufio.NewReaderSize(r, 8<<10)
	h := &Head{}
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(s)
		br.Reset(r)
		if err := h.ReadHead(br); err != nil {
			b.Fatal(err)
		}
		if err := h.ParseRequest(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHead_RequestID(t *testing.T) {
	for _, tt := range []struct {
		req  string
		want string
		one  bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID:  abc-1 \r\n\r\n", "abc-1", true},
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\r\nx-request-id: b\r\n\r\n", "b", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nX_Request_ID: a\r\n\r\n", "", false},
	} {
		h, err := readRequest(t, tt.req)
		if err != nil {
			t.Fatal(err)
		}
		if got, one := h.RequestID(); string(got) != tt.want || one != tt.one {
			t.Errorf("%q: RequestID %q %v, want %q %v", tt.req, got, one, tt.want, tt.one)
		}
	}
}
