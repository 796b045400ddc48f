package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The proxy's settings of docs/traffic.md against real containers: the
// response timeout, the body limit, the access log and the PROXY protocol.

// TestTraffic_ResponseTimeout: a container that hangs is answered 504 at
// response_timeout; one that answers in time passes.
func TestTraffic_ResponseTimeout(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.proxyExtra = "response_timeout: 1s"
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)

	got := <-send(newRequest(t, http.MethodGet, a.url("/slow?d=20s"), nil))
	if got.err != nil || got.code != http.StatusGatewayTimeout || got.took >= 20*time.Second {
		t.Fatalf("a hung container: %d %q %v after %s", got.code, got.body, got.err, got.took)
	}
	t.Logf("a hung container answered %d after %s (response_timeout 1s)", got.code, got.took.Round(time.Millisecond))
	if got := <-send(newRequest(t, http.MethodGet, a.url("/slow?d=100ms"), nil)); got.err != nil || got.code != http.StatusOK || got.body != "v1" {
		t.Fatalf("an answer in time: %d %q %v", got.code, got.body, got.err)
	}
}

// TestTraffic_BodyLimit: a body over max_request_body gets 413 and nothing
// of it reaches the container; one within the limit passes; a chunked one
// that grows past it is cut with 413.
func TestTraffic_BodyLimit(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.proxyExtra = "max_request_body: 1k"
	s := newServe(t, "", a)
	s.start()
	st := s.stable(a, imgV1, 60*time.Second)
	container := a.name + "-" + string(st.ActiveColor)

	if got := <-send(newRequest(t, http.MethodPost, a.url("/upload"), bytes.Repeat([]byte("x"), 4096))); got.err != nil || got.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("4096 bytes over a limit of 1024: %d %q %v", got.code, got.body, got.err)
	}
	if got := <-send(newRequest(t, http.MethodPost, a.url("/upload"), bytes.Repeat([]byte("y"), 1024))); got.err != nil || got.code != http.StatusOK ||
		!strings.Contains(got.body, `"bytes":1024`) {
		t.Fatalf("1024 bytes: %d %q %v", got.code, got.body, got.err)
	}
	// The container's own log has one line per request it got.
	waitFor(t, 10*time.Second, "the container's log of the upload it got", func() (bool, string) {
		out, _ := exec.Command("docker", "logs", container).CombinedOutput()
		n := strings.Count(string(out), " POST /upload ")
		return n == 1, fmt.Sprintf("%d uploads in its log", n)
	})

	chunked := newRequest(t, http.MethodPost, a.url("/upload"), nil)
	chunked.Body = io.NopCloser(io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("z"), 600)), bytes.NewReader(bytes.Repeat([]byte("z"), 600))))
	chunked.ContentLength = -1 // chunked
	if got := <-send(chunked); got.err == nil && got.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a chunked body growing past the limit: %d %q", got.code, got.body)
	}
}

// TestTraffic_AccessLog: serve --access-log FILE --log-format json writes a
// record for a proxied request, a refused one and a WebSocket (at its end),
// with the fields of docs/traffic.md; SIGHUP reopens FILE after a move.
func TestTraffic_AccessLog(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	s := newServe(t, "", a)
	file := s.accessLog() // serve --access-log FILE, as every serve of the tests
	s.args = []string{"--log-format", "json"}
	s.start()
	st := s.stable(a, imgV1, 60*time.Second)

	req := newRequest(t, http.MethodGet, a.url("/headers?x=1&y=2"), nil)
	req.Header.Set("User-Agent", "e2e-agent/1")
	req.Header.Set("X-Request-ID", "from-an-untrusted-peer")
	got := <-send(req)
	var seen struct{ Headers http.Header }
	if got.err != nil || got.code != http.StatusOK || json.Unmarshal([]byte(got.body), &seen) != nil {
		t.Fatalf("GET /headers: %d %q %v", got.code, got.body, got.err)
	}
	id := seen.Headers.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("the container got X-Request-ID %q: want a new one of 32 hex digits", id)
	}
	if reply := rawExchange(t, a, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"); !strings.HasPrefix(reply, "HTTP/1.1 400") {
		t.Fatalf("a request with two Host fields: %q", reply)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", a.proxy), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	records := func(path string) []map[string]any {
		b, _ := os.ReadFile(path)
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r map[string]any
			if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "request" {
				out = append(out, r)
			}
		}
		return out
	}
	find := func(recs []map[string]any, path string, status float64) map[string]any {
		for _, r := range recs {
			if (r["path"] == path || path == "*") && r["status"] == status {
				return r
			}
		}
		return nil
	}
	var proxied, refused, socket map[string]any
	waitFor(t, 10*time.Second, "three records", func() (bool, string) {
		recs := records(file)
		proxied, refused, socket = find(recs, "/headers", 200), find(recs, "*", 400), find(recs, "/ws", 101)
		return proxied != nil && refused != nil && socket != nil, fmt.Sprintf("%d records: %v", len(recs), recs)
	})
	want := map[string]any{"app": a.name, "color": string(st.ActiveColor), "method": "GET", "query": "x=1&y=2", "client_ip": "127.0.0.1",
		"request_id": id, "host": fmt.Sprintf("127.0.0.1:%d", a.proxy), "user_agent": "e2e-agent/1", "proto": "HTTP/1.1", "level": "INFO"}
	for k, v := range want {
		if proxied[k] != v {
			t.Errorf("proxied record: %s = %v, want %v (%v)", k, proxied[k], v, proxied)
		}
	}
	for _, k := range []string{"time", "duration_ms", "upstream_ms", "bytes_in", "bytes_out"} {
		if _, ok := proxied[k]; !ok {
			t.Errorf("proxied record lacks %s: %v", k, proxied)
		}
	}
	if n, _ := proxied["bytes_out"].(float64); n < float64(len(got.body)) {
		t.Errorf("bytes_out %v is less than the body of %d bytes", proxied["bytes_out"], len(got.body))
	}
	if _, ok := refused["upstream_ms"]; ok || refused["color"] != "none" || refused["query"] != "" {
		t.Errorf("refused record: %v", refused)
	}
	if socket["color"] != string(st.ActiveColor) || socket["method"] != "GET" {
		t.Errorf("WebSocket record: %v", socket)
	}

	// logrotate: the file moved, SIGHUP, the next record in a new file.
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "a record in the reopened file", func() (bool, string) {
		get(a.url("/after-rotate"))
		return find(records(file), "/after-rotate", 200) != nil, fmt.Sprintf("%d records in the new file", len(records(file)))
	})
	if find(records(file+".1"), "/headers", 200) == nil {
		t.Fatal("the moved file lost its records")
	}
}

// rawExchange writes raw on a new connection to the app's proxy and returns
// what comes back until the proxy closes the connection (or 5 s).
func rawExchange(t *testing.T, a *app, raw string) string {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", a.proxy))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	return string(b)
}

// TestTraffic_ProxyProtocol: with proxy_protocol and trusted_proxies
// [127.0.0.1], a v1 and a v2 header give the client's address to the
// forwarded headers; a connection without one is closed without an answer.
func TestTraffic_ProxyProtocol(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.proxyExtra = "trusted_proxies: [127.0.0.1], proxy_protocol: true"
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	head := "GET /headers HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n"

	v1 := fmt.Sprintf("PROXY TCP4 203.0.113.7 127.0.0.1 40000 %d\r\n", a.proxy) + head
	if xff := forwardedFor(t, rawExchange(t, a, v1)); xff != "203.0.113.7" {
		t.Fatalf("v1: X-Forwarded-For %q", xff)
	}
	v2 := proxyV2(netip.MustParseAddrPort("198.51.100.9:40001"), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(a.proxy)))
	if xff := forwardedFor(t, rawExchange(t, a, string(v2)+head)); xff != "198.51.100.9" {
		t.Fatalf("v2: X-Forwarded-For %q", xff)
	}
	if reply := rawExchange(t, a, head); reply != "" {
		t.Fatalf("without a PROXY header: %q, want the connection closed without an answer", reply)
	}
}

// forwardedFor reads the X-Forwarded-For the container saw from the raw
// answer of GET /headers.
func forwardedFor(t *testing.T, reply string) string {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(reply)), nil)
	if err != nil {
		t.Fatalf("answer %q: %v", reply, err)
	}
	defer resp.Body.Close()
	var seen struct{ Headers http.Header }
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("answer %d: %v", resp.StatusCode, err)
	}
	if real := seen.Headers.Get("X-Real-Ip"); real != seen.Headers.Get("X-Forwarded-For") {
		t.Fatalf("X-Real-IP %q, X-Forwarded-For %q", real, seen.Headers.Get("X-Forwarded-For"))
	}
	return seen.Headers.Get("X-Forwarded-For")
}

// proxyV2 is a PROXY protocol v2 header of a TCP over IPv4 connection from
// src to dst (HAProxy's proxy-protocol.txt, section 2.2).
func proxyV2(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11) // version 2, PROXY; TCP over IPv4
	b = binary.BigEndian.AppendUint16(b, 12)
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}
