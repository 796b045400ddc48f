package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The body invariant (body.go): a request the proxy answers before it read
// its body (a refused connect, no active color) has its body read and
// thrown away within drainBytes and drainTime, or its connection ends
// after the answer; the body is never parsed as a request.

// smuggledEcho is the body of issue 15: a request, sent as the data of a POST.
const smuggledEcho = "GET /echo?smuggled=1 HTTP/1.1\r\nHost: x\r\n\r\n"

func postLength(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

func postChunked(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", path, len(body), body)
}

// chunks encodes body as chunks of at most n bytes, with an extension on
// the first and a trailer after the last.
func chunks(body string, n int) string {
	var b strings.Builder
	for i := 0; i < len(body); i += n {
		c := body[i:min(i+n, len(body))]
		ext := ""
		if i == 0 {
			ext = ";x=y"
		}
		fmt.Fprintf(&b, "%x%s\r\n%s\r\n", len(c), ext, c)
	}
	b.WriteString("0\r\nX-Trailer: t\r\n\r\n")
	return b.String()
}

// refusedAddr returns a loopback address that refuses connections.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// lastCloses checks that the last answer says Connection: close.
func lastCloses(t *testing.T, _ []*upReq, got []clientResp, _ string) {
	if !got[len(got)-1].Close {
		t.Errorf("the last answer does not say Connection: close: %v", got[len(got)-1].Header)
	}
}

// keptOpen checks that no answer says Connection: close.
func keptOpen(t *testing.T, _ []*upReq, got []clientResp, _ string) {
	for i, a := range got {
		if a.Close {
			t.Errorf("answer %d says Connection: close", i)
		}
	}
}

func unreadBodyCases() []hostileCase {
	big := smuggledEcho + strings.Repeat("x", 100<<10)
	upgradeWithBody := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		fmt.Sprintf("Sec-WebSocket-Version: 13\r\nContent-Length: %d\r\n\r\n%s", len(smuggledEcho), smuggledEcho)
	return []hostileCase{
		{name: "refused connect: a Content-Length body is no request", route: routeRefused,
			send: postLength("/echo", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{502, 502}, check: keptOpen},
		{name: "refused connect: a chunked body is no request", route: routeRefused,
			send: postChunked("/echo", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{502, 502}, check: keptOpen},
		{name: "refused connect: a body in many chunks with a trailer", route: routeRefused,
			send:    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(smuggledEcho+smuggledEcho, 5) + getReq("/next"),
			noBytes: true, want: []int{502, 502}},
		{name: "refused connect: pipelined bodies and requests", route: routeRefused,
			send:    postLength("/a", smuggledEcho) + postChunked("/b", smuggledEcho) + getReq("/c") + postLength("/d", smuggledEcho),
			noBytes: true, want: []int{502, 502, 502, 502}},
		{name: "no active color: a Content-Length body is no request", route: routeNone,
			send: postLength("/echo", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{503, 503}, check: keptOpen},
		{name: "no active color: a chunked body is no request", route: routeNone,
			send: postChunked("/echo", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{503, 503}},
		{name: "refused connect: a body over the drain bound ends the connection", route: routeRefused,
			send: postLength("/echo", big) + getReq("/next"), noBytes: true, want: []int{502}, check: lastCloses},
		{name: "no active color: a chunked body over the drain bound ends the connection", route: routeNone,
			send:    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(big, 8<<10) + getReq("/next"),
			noBytes: true, want: []int{503}, check: lastCloses},
		{name: "a body of exactly the drain bound is read and thrown away", route: routeNone,
			send:    postLength("/echo", smuggledEcho+strings.Repeat("x", drainBytes-len(smuggledEcho))) + getReq("/next"),
			noBytes: true, want: []int{503, 503}, check: keptOpen},
		{name: "a body one byte over the drain bound ends the connection", route: routeNone,
			send:    postLength("/echo", smuggledEcho+strings.Repeat("x", drainBytes+1-len(smuggledEcho))) + getReq("/next"),
			noBytes: true, want: []int{503}, check: lastCloses},
		{name: "chunks of exactly the drain bound are read and thrown away", route: routeNone,
			send:    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(strings.Repeat("y", drainBytes), 1000) + getReq("/next"),
			noBytes: true, want: []int{503, 503}},
		{name: "chunks one byte over the drain bound end the connection", route: routeNone,
			send:    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(strings.Repeat("y", drainBytes+1), 1000) + getReq("/next"),
			noBytes: true, want: []int{503}, check: lastCloses},
		{name: "Expect 100-continue: no 100, the body is not drained, the connection ends", route: routeRefused,
			send:    fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n%s", len(smuggledEcho), smuggledEcho) + getReq("/next"),
			noBytes: true, want: []int{502},
			check: func(t *testing.T, up []*upReq, got []clientResp, raw string) {
				lastCloses(t, up, got, raw)
				if strings.Contains(raw, "100 Continue") {
					t.Errorf("100 Continue sent: %q", raw)
				}
			}},
		{name: "HTTP/1.0 with a body: the connection ends", route: routeRefused,
			send:    fmt.Sprintf("POST /echo HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s", len(smuggledEcho), smuggledEcho) + getReq("/next"),
			noBytes: true, want: []int{502}, check: lastCloses},
		{name: "a WebSocket upgrade with a body is a plain request: its body is no request", route: routeRefused,
			send: upgradeWithBody + getReq("/next"), noBytes: true, want: []int{502, 502}},
		{name: "a malformed chunked body that arrived whole gets 400", route: routeNone,
			send: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n" + smuggledEcho, noBytes: true, want: []int{400}},
		{name: "refused connect, then routed: only the request after the body reaches the upstream", route: routeRefused,
			run: bodyThenRoute, wantUp: []string{"GET /next"}, want: []int{502, 200}},
		{name: "no active color, then routed: only the request after the body reaches the upstream", route: routeNone,
			run: bodyThenRoute, wantUp: []string{"GET /next"}, want: []int{503, 200}},
		{name: "a stalled body is waited for drainTime, then the connection ends", route: routeNone,
			run: stalledUnreadBody, want: []int{503}, check: lastCloses},
		{name: "a client that waits for 100 Continue gets the answer and the connection ends", route: routeRefused,
			run: waitsForContinue, noBytes: true, want: []int{502}, check: lastCloses},
	}
}

// TestProxy_unreadBody: the differential rows of the body invariant, for
// the answers the proxy gives before it read a body.
func TestProxy_unreadBody(t *testing.T) {
	runHostile(t, unreadBodyCases())
}

// bodyThenRoute sends a POST whose body is a request while nothing serves,
// reads its one answer, routes to the recorder and sends GET /next on the
// same connection: the upstream sees GET /next and nothing else.
func bodyThenRoute(t *testing.T, p *Proxy, rec *recorder) string {
	c := dialProxy(t, p)
	br := bufio.NewReader(c)
	io.WriteString(c, postLength("/echo", smuggledEcho))
	raw := readAnswer(t, c, br)
	p.SetTarget("blue", rec.addr())
	io.WriteString(c, getReq("/next"))
	raw += readAnswer(t, c, br)
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(br)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	return raw + string(rest)
}

// stalledUnreadBody sends part of a body and then nothing: the answer
// comes once drainTime passed, and ends the connection.
func stalledUnreadBody(t *testing.T, p *Proxy, _ *recorder) string {
	c := dialProxy(t, p)
	start := time.Now() // the drain's clock starts once the proxy read the head, after the write
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"+smuggledEcho)
	raw := readAll(t, c, 10*time.Second)
	if d := time.Since(start); d < drainTime {
		t.Errorf("answered after %s, before the drain's %s", d, drainTime)
	}
	return raw
}

// waitsForContinue sends a head with Expect: 100-continue and waits: the
// answer comes, with Connection: close, and then the body the client sends
// (with a request behind it) is not served.
func waitsForContinue(t *testing.T, p *Proxy, _ *recorder) string {
	c := dialProxy(t, p)
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(smuggledEcho))
	raw := readAnswer(t, c, br)
	io.WriteString(c, smuggledEcho+getReq("/next"))
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(br)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	return raw + string(rest)
}

// TestProxy_lingeringClose: a connection the proxy ends while the client
// still sends its body ends with the answer and a FIN, not a reset (which
// may destroy the answer before the client read it): the proxy reads what
// comes for a while before it closes.
func TestProxy_lingeringClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route int
		want  int
	}{{"refused connect", routeRefused, 502}, {"no active color", routeNone, 503}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxyTimeouts(t, Options{}, hostileTimeouts)
			if tc.route == routeRefused {
				p.SetTarget("blue", refusedAddr(t))
			}
			c := dialProxy(t, p)
			// More than the drain bound, less than the linger's.
			fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<20)
			if _, err := c.Write(make([]byte, 128<<10)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tc.want || !resp.Close {
				t.Fatalf("answer %d, close %v; want %d with Connection: close", resp.StatusCode, resp.Close, tc.want)
			}
			// The client still sends some of its body, which the proxy
			// reads (a closed socket would answer with a reset); it has
			// shut down its side: the end is a FIN.
			if _, err := c.Write(make([]byte, 16<<10)); err != nil {
				t.Fatalf("the client's body after the answer: %v", err)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
				t.Fatalf("after the answer: %q, %v; want the end of the stream", rest, err)
			}
		})
	}
}
