package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/logsink"
)

// captureSink keeps the records written to it.
type captureSink struct {
	mu   sync.Mutex
	recs [][]byte
}

func (s *captureSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, bytes.Clone(p))
	return len(p), nil
}

// records waits until n records came and returns them decoded (JSON).
func (s *captureSink) records(t *testing.T, n int) []map[string]any {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("%d access log records", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.recs) >= n
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, r := range s.recs {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		out = append(out, m)
	}
	if len(out) != n {
		t.Fatalf("%d records, want %d: %q", len(out), n, s.recs)
	}
	return out
}

// logged starts a proxy that logs to a captureSink in JSON.
func logged(t *testing.T, o Options, tmo timeouts) (*Proxy, *captureSink) {
	t.Helper()
	sink := &captureSink{}
	o.AccessLogSink, o.AccessLogFormat, o.AccessLog = sink, LogJSON, true
	return startProxyTimeouts(t, o, tmo), sink
}

// checkFields checks the string form of each of want's fields in rec.
func checkFields(t *testing.T, rec map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := fmt.Sprint(rec[k]); got != v {
			t.Errorf("%s = %q, want %q (%v)", k, got, v, rec)
		}
	}
}

func TestProxy_accessLog(t *testing.T) {
	rec := newRecorder(t, nil)
	p, sink := logged(t, Options{}, hostileTimeouts)
	p.SetTarget(ColorBlue, rec.addr())
	req := "GET /items/42?page=2&q=a%20b HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8 \"x\"\r\n\r\n"
	cl := openClient(t, p, req)
	resp, body := cl.answer(t, "GET", 5*time.Second)
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	// A record is written once its answer went out: wait for each before
	// the next request, so that they come in order.
	waitFor(t, 5*time.Second, "the record", func() bool { return sink.count() == 1 })
	talk(t, p, "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)                                    // 400, a bad request line
	talk(t, p, "GET / HTTP/1.1\r\nHost: x\r\nX: "+strings.Repeat("a", 65<<10)+"\r\n\r\n", 5*time.Second) // 431
	silentClient(t, p, nil)                                                                              // 408
	waitFor(t, 5*time.Second, "the records", func() bool { return sink.count() == 4 })
	talk(t, p, "HEAD /two?h=1 HTTP/1.0\r\nHost: x\r\nHost: y\r\nUser-Agent: u\r\n\r\n", 5*time.Second) // 400, the line parsed
	waitFor(t, 5*time.Second, "the records", func() bool { return sink.count() == 5 })
	talk(t, p, "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: other\r\n\r\n", 5*time.Second) // 417
	recs := sink.records(t, 6)
	up := rec.requests()
	answerLen := len(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	checkFields(t, recs[0], map[string]string{
		"level": "INFO", "msg": "request", "app": "web", "color": "blue", "method": "GET", "path": "/items/42",
		"query": "page=2&q=a%20b", "status": "200", "bytes_in": fmt.Sprint(len(req)), "bytes_out": fmt.Sprint(answerLen),
		"client_ip": "127.0.0.1", "request_id": up[0].Req.Header.Get("X-Request-Id"), "host": "shop.example",
		"user_agent": `curl/8 "x"`, "proto": "HTTP/1.1",
	})
	if _, ok := recs[0]["upstream_ms"]; !ok {
		t.Errorf("no upstream_ms: %v", recs[0])
	}
	for i, want := range []map[string]string{
		{"status": "400", "method": "", "path": "", "host": "", "proto": "HTTP/1.1"},
		{"status": "431", "method": "", "path": "", "host": "", "proto": "HTTP/1.1"},
		{"status": "408", "method": "", "path": "", "host": "", "proto": "HTTP/1.1"},
		// A head refused for its fields: what its request line said, and
		// nothing of its fields.
		{"status": "400", "method": "HEAD", "path": "/two", "query": "h=1", "host": "", "user_agent": "", "proto": "HTTP/1.0"},
		{"status": "417", "method": "PUT", "path": "/e", "host": "x", "proto": "HTTP/1.1"},
	} {
		r := recs[i+1]
		want["color"], want["client_ip"] = "none", "127.0.0.1"
		checkFields(t, r, want)
		if _, ok := r["upstream_ms"]; ok || len(fmt.Sprint(r["request_id"])) != 32 {
			t.Errorf("refused request: %v", r)
		}
	}
}

// TestProxy_accessLogModes: the proxy's own answers, a held request, a
// 413, and a WebSocket at its end.
func TestProxy_accessLogModes(t *testing.T) {
	rec := newRecorder(t, answerClosing)
	p, sink := logged(t, Options{Settings: Settings{MaxRequestBody: 4}}, timeouts{})
	p.SetTarget(ColorBlue, rec.addr())
	recorded := func(n int) { // a record is written once its answer went out
		waitFor(t, 5*time.Second, "the record", func() bool { return sink.count() == n })
	}
	openClient(t, p, postLength("/big", "12345")).answer(t, "POST", 5*time.Second)
	recorded(1)
	p.Maintenance(MaintenancePage{Message: "m"})
	openClient(t, p, getReq("/m")).answer(t, "GET", 5*time.Second)
	recorded(2)
	p.Pause(time.Minute)
	held := openClient(t, p, getReq("/held"))
	waitHeld(t, p, 1)
	time.Sleep(100 * time.Millisecond)
	p.Resume()
	held.answer(t, "GET", 5*time.Second)
	recorded(3)
	p.SetTarget(ColorBlue, quietWSUpstream(t, 10*time.Second)) // keeps the WebSocket open
	ws := openClient(t, p, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	ws.answer(t, "GET", 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	if n := sink.count(); n != 3 {
		t.Fatalf("%d records before the WebSocket ended, want 3", n)
	}
	ws.c.Close() // the WebSocket ends
	recs := sink.records(t, 4)
	checkFields(t, recs[0], map[string]string{"status": "413", "color": "none", "path": "/big"})
	checkFields(t, recs[1], map[string]string{"status": "503", "color": "none", "path": "/m"})
	checkFields(t, recs[2], map[string]string{"status": "200", "color": "blue", "path": "/held"})
	if d, _ := recs[2]["duration_ms"].(json.Number).Float64(); d < 100 {
		t.Errorf("a held request's duration %v ms, want its wait in it", d)
	}
	checkFields(t, recs[3], map[string]string{"status": "101", "color": "blue", "path": "/ws"})
}

// blockedWriter is an output that never takes a byte (a pipe nobody reads).
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return 0, io.ErrClosedPipe
}

// TestProxy_accessLogStalled: an output that never takes a record stalls
// no request; the records are dropped and counted.
func TestProxy_accessLogStalled(t *testing.T) {
	out := blockedWriter{release: make(chan struct{})}
	sink := logsink.New(out, logsink.Options{Size: 64 << 10, CloseTimeout: 100 * time.Millisecond})
	t.Cleanup(func() {
		close(out.release)
		sink.Close()
	})
	p := startProxy(t, Options{AccessLogSink: sink, Settings: Settings{AccessLog: true}})
	p.SetTarget(ColorBlue, rawUpstream(t))
	c := dialProxy(t, p)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	for i := range 2000 {
		exchange(t, c, getReq(fmt.Sprintf("/%d", i)))
	}
	if sink.Dropped() == 0 {
		t.Fatal("no record dropped: the output took them?")
	}
}

// TestProxy_requestID: X-Request-ID is kept from a trusted peer when it
// is valid and alone, else a new one; the client's underscore spellings
// never pass.
func TestProxy_requestID(t *testing.T) {
	trusted := Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for _, tt := range []struct {
		name  string
		opts  Options
		field string // the client's fields
		keep  string // the ID the upstream must get; "": a new one
	}{
		{"untrusted, valid", Options{}, "X-Request-ID: abc-123\r\n", ""},
		{"trusted, valid", trusted, "X-Request-ID: abc-123.x_y:z\r\n", "abc-123.x_y:z"},
		{"trusted, 128 characters", trusted, "X-Request-ID: " + strings.Repeat("a", 128) + "\r\n", strings.Repeat("a", 128)},
		{"trusted, 129 characters", trusted, "X-Request-ID: " + strings.Repeat("a", 129) + "\r\n", ""},
		{"trusted, a space", trusted, "X-Request-ID: a b\r\n", ""},
		{"trusted, two", trusted, "X-Request-ID: a\r\nX-Request-ID: b\r\n", ""},
		{"trusted, an underscore spelling", trusted, "X_Request_ID: abc\r\n", ""},
		{"none", trusted, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			p := startProxy(t, tt.opts)
			p.SetTarget(ColorBlue, rec.addr())
			openClient(t, p, "GET /id HTTP/1.1\r\nHost: x\r\n"+tt.field+"\r\n").answer(t, "GET", 5*time.Second)
			h := rec.requests()[0].Req.Header
			ids := h.Values("X-Request-Id")
			if len(ids) != 1 || h.Get("X_Request_ID") != "" {
				t.Fatalf("the upstream got X-Request-Id %q (%v)", ids, h)
			}
			if tt.keep != "" && ids[0] != tt.keep || tt.keep == "" && (len(ids[0]) != 32 || strings.Trim(ids[0], "0123456789abcdef") != "") {
				t.Fatalf("X-Request-Id %q, want %q (empty: 32 new hex digits)", ids[0], tt.keep)
			}
		})
	}
}

// TestProxy_requestIDSpelling: the field goes to the container spelled as
// docs/traffic.md spells it, X-Request-ID, not in Go's canonical case.
func TestProxy_requestIDSpelling(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	heads := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		heads <- head.String()
		c.Write(rawAnswer)
	}()
	p := startProxy(t, Options{})
	p.SetTarget(ColorBlue, ln.Addr().String())
	openClient(t, p, "GET /id HTTP/1.1\r\nHost: x\r\n\r\n").answer(t, "GET", 5*time.Second)
	if head := <-heads; !strings.Contains(head, "\r\nX-Request-ID: ") {
		t.Fatalf("the container got no X-Request-ID field spelled so:\n%s", head)
	}
}
