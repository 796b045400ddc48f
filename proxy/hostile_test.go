package proxy

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Timeouts of the proxies of the rows that wait for a timeout: short, so
// that each takes well under two seconds; the idle timeout is far enough
// past the head timeout that a client can surely idle between the two.
// Connections park after 100 ms, so that the timeouts are also those of
// parked connections.
var hostileTimeouts = timeouts{head: 300 * time.Millisecond, idle: 1500 * time.Millisecond, body: 300 * time.Millisecond, park: 100 * time.Millisecond}

// tableTimeouts are those of the other rows' proxies: head and body
// timeouts no row meets even when the race detector and a loaded machine
// slow the proxy's reading of a large head (or a client's pauses between
// pieces) tenfold, and an idle timeout that ends soon after the answers
// the connections whose clients keep their side open.
var tableTimeouts = timeouts{head: 3 * time.Second, idle: 3 * time.Second, body: 3 * time.Second, park: 100 * time.Millisecond}

// movingTimeouts are those of the row of a body that keeps moving: a body
// timeout ten times the client's pause between its bytes.
var movingTimeouts = timeouts{head: hostileTimeouts.head, idle: hostileTimeouts.idle, body: time.Second, park: hostileTimeouts.park}

// hostileCase is one row of TestProxy_hostile: raw bytes a client sends,
// how the upstream answers, and what the upstream must have seen and the
// client must have got.
type hostileCase struct {
	name    string
	send    string                                     // the client's bytes, sent at once, then a half-close
	run     func(*testing.T, *Proxy, *recorder) string // instead of send: the client's side, returning what it got
	methods []string                                   // the methods of the requests, to read the answers (GET when missing)
	answer  func(*upReq) (string, bool)                // the upstream (nil: 200 with "METHOD URI" as the body)
	opts    Options
	route   int                      // what the proxy routes to: routeRecorder, routeRefused or routeNone
	setup   func(*testing.T, *Proxy) // after the route: a traffic mode, held requests (nil: none)
	tmo     timeouts                 // the proxy's (zero: tableTimeouts)

	wantUp  []string // the complete requests the upstream saw, "METHOD URI", in order
	noBytes bool     // not one byte reached the upstream
	upBad   bool     // the upstream saw a cut request (a body that ended early)
	want    []int    // the statuses the client got, in order
	cut     bool     // the last answer's body is cut
	check   func(t *testing.T, up []*upReq, got []clientResp, raw string)
}

// The request of defect 1: a body that is a second request.
const smuggled = "GET /admin HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-Ip: 6.6.6.6\r\n\r\n"

func getReq(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// answerBy answers the requests whose path is a key with that raw answer
// (closing the connection after it when the answer ends in closeMark),
// and all others like answerEcho.
func answerBy(m map[string]string) func(*upReq) (string, bool) {
	return func(r *upReq) (string, bool) {
		if raw, ok := m[r.Req.URL.Path]; ok {
			if s, ok := strings.CutSuffix(raw, closeMark); ok {
				return s, true
			}
			return raw, false
		}
		return answerEcho(r)
	}
}

// closeMark at the end of an answerBy answer closes the connection after it.
const closeMark = "<close>"

func hostileCases() []hostileCase {
	return []hostileCase{
		// Defect 1: request smuggling through Connection.
		{
			name:   "1 Connection: Content-Length keeps the body framed",
			send:   fmt.Sprintf("POST /innocent HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled) + getReq("/next"),
			wantUp: []string{"POST /innocent", "GET /next"},
			want:   []int{200, 200},
			check: func(t *testing.T, up []*upReq, got []clientResp, _ string) {
				if up[0].Body != smuggled {
					t.Errorf("upstream body %q, want the smuggled request as data", up[0].Body)
				}
				if got[1].Body != "GET /next" {
					t.Errorf("second answer %q, want the one for /next", got[1].Body)
				}
			},
		},
		{
			name:   "1 Connection: Transfer-Encoding keeps the chunked framing",
			send:   "POST /c HTTP/1.1\r\nHost: x\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + getReq("/next"),
			wantUp: []string{"POST /c", "GET /next"},
			want:   []int{200, 200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				if up[0].Body != "hello" {
					t.Errorf("upstream body %q", up[0].Body)
				}
			},
		},
		{
			name:   "1 Connection: Host keeps Host",
			send:   "GET /h HTTP/1.1\r\nHost: shop.example\r\nConnection: Host, X-Forwarded-For, X-Real-Ip\r\n\r\n",
			wantUp: []string{"GET /h"},
			want:   []int{200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				if up[0].Req.Host != "shop.example" {
					t.Errorf("Host %q", up[0].Req.Host)
				}
			},
		},
		{
			name:   "1 an upstream's Connection: Content-Length keeps the answer framed",
			send:   getReq("/a") + getReq("/b"),
			answer: answerBy(map[string]string{"/a": "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello"}),
			wantUp: []string{"GET /a", "GET /b"},
			want:   []int{200, 200},
			check: func(t *testing.T, _ []*upReq, got []clientResp, _ string) {
				if got[0].Body != "hello" || got[1].Body != "GET /b" {
					t.Errorf("answers %q, %q", got[0].Body, got[1].Body)
				}
			},
		},
		{
			name:   "1 an upstream's Connection: Transfer-Encoding keeps the answer framed",
			send:   getReq("/a") + getReq("/b"),
			answer: answerBy(map[string]string{"/a": "HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}),
			wantUp: []string{"GET /a", "GET /b"},
			want:   []int{200, 200},
			check: func(t *testing.T, _ []*upReq, got []clientResp, _ string) {
				if got[0].Body != "hello" || got[1].Body != "GET /b" {
					t.Errorf("answers %q, %q", got[0].Body, got[1].Body)
				}
			},
		},
		{name: "smuggling: Content-Length and Transfer-Encoding", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: Transfer-Encoding then Content-Length", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: two Content-Lengths", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 30\r\n\r\nx" + getReq("/hidden"), noBytes: true, want: []int{400}},
		{name: "smuggling: Content-Length list", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nx", noBytes: true, want: []int{400}},
		{name: "smuggling: signed Content-Length", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx", noBytes: true, want: []int{400}},
		{name: "smuggling: chunked not final", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: unknown coding", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: two Transfer-Encodings", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: Transfer-Encoding folded", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: whitespace before colon", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: Transfer-Encoding on HTTP/1.0", send: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: bare LF", send: "GET / HTTP/1.1\nHost: x\n\n", noBytes: true, want: []int{400}},
		{name: "smuggling: bare CR", send: "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: bad chunk size", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: chunk data longer than its size", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: chunk size overflow", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "smuggling: LF after the last chunk", send: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n", noBytes: true, want: []int{400}},
		{name: "missing Host", send: "GET / HTTP/1.1\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "two Hosts", send: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "control byte in a field", send: "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "HTTP/1.2", send: "GET / HTTP/1.2\r\nHost: x\r\n\r\n", noBytes: true, want: []int{400}},
		{name: "unmet expectation", send: "PUT / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", noBytes: true, want: []int{417}},

		// Defect 2: quadratic hop-by-hop pass (its cost is counted in
		// internal/http1's TestHead_linear; here it is served).
		{
			name:   "2 a 60 KiB head of Connection tokens and their fields",
			send:   connectionFlood(60 << 10),
			wantUp: []string{"GET /flood"},
			want:   []int{200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				if n := len(headerNames(up[0].Req.Header, func(k string) bool { return strings.HasPrefix(k, "T") })); n != 0 {
					t.Errorf("%d fields named in Connection reached the upstream", n)
				}
				if up[0].Req.Header.Get("Kept") != "yes" {
					t.Error("end-to-end field lost")
				}
			},
		},

		// Defect 4: response poisoning from a lax upstream.
		laxUpstream("4 a body on HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"),
		laxUpstream("4 a body on 204", "GET", "HTTP/1.1 204 No Content\r\n\r\nEVIL!"),
		laxUpstream("4 a body on 304", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nEVIL!"),
		laxUpstream("4 more than Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEVIL!"),
		laxUpstream("4 more than the chunked body", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nEVIL!"),
		laxUpstream("4 a whole second answer", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"),
		{
			name:   "4 bytes the upstream sends after a while",
			run:    lateBytes,
			wantUp: []string{"GET /a", "GET /b"},
			want:   []int{200, 200},
			check: func(t *testing.T, up []*upReq, got []clientResp, raw string) {
				if len(up) != 2 || up[0].Conn == up[1].Conn {
					t.Errorf("the upstream connection that sent extra bytes served the next request: %v", up)
				}
			},
		},
		{
			name:   "cut answer with Content-Length",
			send:   getReq("/cut") + getReq("/never"),
			answer: answerBy(map[string]string{"/cut": "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" + closeMark}),
			wantUp: []string{"GET /cut"}, want: []int{200}, cut: true,
		},
		{
			name:   "cut chunked answer",
			send:   getReq("/cut") + getReq("/never"),
			answer: answerBy(map[string]string{"/cut": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel" + closeMark}),
			wantUp: []string{"GET /cut"}, want: []int{200}, cut: true,
		},
		{
			name:   "malformed chunked answer",
			send:   getReq("/bad") + getReq("/never"),
			answer: answerBy(map[string]string{"/bad": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"}),
			wantUp: []string{"GET /bad"}, want: []int{200}, cut: true,
		},
		badAnswer("answer with bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
		badAnswer("answer with Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
		badAnswer("answer with an unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
		// RFC 9112 §6.1: net/http reads this body until the close, a
		// chunked reader to its last chunk: framing the two disagree on.
		badAnswer("HTTP/1.0 answer with Transfer-Encoding: chunked", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nEVIL!"),
		badAnswer("101 to a plain request", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
		badAnswer("answer head over 64 KiB", "HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", 64<<10)+"\r\nContent-Length: 0\r\n\r\n"),
		badAnswer("answer with header injection", "HTTP/1.1 200 OK\r\nX: a\rSet-Cookie: evil\r\nContent-Length: 0\r\n\r\n"),
		badAnswer("endless interim answers", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 20)+"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		{
			name:   "interim answers are skipped",
			send:   getReq("/early"),
			answer: answerBy(map[string]string{"/early": "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}),
			wantUp: []string{"GET /early"}, want: []int{200},
		},

		// Defect 5: non-idempotent requests replayed.
		{
			name:   "5 POST without a body is not sent twice",
			send:   getReq("/warm") + "POST /once HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
			answer: answerBy(map[string]string{"/once": closeMark}),
			wantUp: []string{"GET /warm", "POST /once"}, want: []int{200, 502},
		},
		{
			name:   "5 DELETE is not sent twice",
			send:   getReq("/warm") + "DELETE /once HTTP/1.1\r\nHost: x\r\n\r\n",
			answer: answerBy(map[string]string{"/once": closeMark}),
			wantUp: []string{"GET /warm", "DELETE /once"}, want: []int{200, 502},
		},
		{
			name:   "5 PUT with a body is not sent twice",
			send:   getReq("/warm") + "PUT /once HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
			answer: answerBy(map[string]string{"/once": closeMark}),
			wantUp: []string{"GET /warm", "PUT /once"}, want: []int{200, 502},
		},
		{
			name:   "5 GET on a connection closed without an answer is sent again",
			send:   getReq("/warm") + getReq("/again"),
			answer: onceThenEcho("/again", closeMark),
			wantUp: []string{"GET /warm", "GET /again", "GET /again"}, want: []int{200, 200},
		},
		{
			name:   "5 GET is not sent again once part of an answer came",
			send:   getReq("/warm") + getReq("/partial"),
			answer: onceThenEcho("/partial", "HTTP/1.1 200 OK\r\nContent-Le"+closeMark),
			wantUp: []string{"GET /warm", "GET /partial"}, want: []int{200, 502},
		},

		// Defect 6: forwarding headers spelled with underscores.
		{
			name:   "6 underscore spellings of the forwarding headers are dropped",
			send:   "GET /u HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nX_Real_IP: 6.6.6.6\r\nX-Real_Ip: 6.6.6.6\r\nx_forwarded_proto: https\r\nX_Forwarded_Host: evil\r\nX-Forwarded_Port: 1\r\nX_Custom: kept\r\n\r\n",
			wantUp: []string{"GET /u"}, want: []int{200},
			check: checkNoUnderscoreForwarding,
		},
		{
			name:   "6 also from a trusted proxy",
			opts:   Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			send:   "GET /u HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nX_Forwarded_For: 6.6.6.6\r\nX_Real_IP: 6.6.6.6\r\nX_Custom: kept\r\n\r\n",
			wantUp: []string{"GET /u"}, want: []int{200},
			check: checkNoUnderscoreForwarding,
		},

		// Defect 7: Host of HTTP/1.0 requests.
		{
			name: "7 HTTP/1.0 without Host gets the address the client connected to",
			send: "GET /ten HTTP/1.0\r\n\r\n", wantUp: []string{"GET /ten"}, want: []int{200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				if h := up[0].Req.Host; h == "" || h != up[0].Req.Header.Get("X-Forwarded-Host") || !strings.HasPrefix(h, "127.0.0.1:") {
					t.Errorf("Host %q, X-Forwarded-Host %q", h, up[0].Req.Header.Get("X-Forwarded-Host"))
				}
			},
		},
		{
			name: "7 HTTP/1.0 in absolute form gets the target's host",
			send: "GET http://abs.example:81/p?q HTTP/1.0\r\n\r\n", wantUp: []string{"GET /p?q"}, want: []int{200},
			check: checkHost("abs.example:81"),
		},
		{
			name: "absolute form: the target's host wins over Host",
			send: "GET http://abs.example/p HTTP/1.1\r\nHost: other\r\n\r\n", wantUp: []string{"GET /p"}, want: []int{200},
			check: checkHost("abs.example"),
		},
		{
			name: "absolute form with a query right after the host",
			send: "GET http://abs.example?q=1 HTTP/1.1\r\nHost: abs.example\r\n\r\n", wantUp: []string{"GET /?q=1"}, want: []int{200},
			check: checkHost("abs.example"),
		},

		// Defect 8: 100 Continue to HTTP/1.0 clients.
		{
			name: "8 no 100 Continue to an HTTP/1.0 client",
			send: "POST /c HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", wantUp: []string{"POST /c"}, want: []int{200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, raw string) {
				if strings.Contains(raw, "100 Continue") || up[0].Body != "hi" {
					t.Errorf("got %q, upstream body %q", raw, up[0].Body)
				}
			},
		},
		{
			name: "an HTTP/1.1 client gets 100 Continue",
			send: "POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", wantUp: []string{"POST /c"}, want: []int{100, 200},
		},

		// Defect 9 and docs/proxy.md, "Limits and timeouts".
		{name: "9 a head over 64 KiB gets 431", send: "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", noBytes: true, want: []int{431}},
		{name: "a head of exactly 64 KiB is served", send: exactHead(64 << 10), wantUp: []string{"GET /exact"}, want: []int{200}},
		{name: "9 a slow head gets 408", run: slowHead, tmo: hostileTimeouts, noBytes: true, want: []int{408}},
		{name: "9 a client that sends nothing gets 408", run: silentClient, tmo: hostileTimeouts, noBytes: true, want: []int{408}},
		{name: "9 an idle keep-alive connection is closed without an answer", run: idleClient, tmo: hostileTimeouts, wantUp: []string{"GET /1"}, want: []int{200}},
		{name: "9 after idling, a head has the head timeout from its first byte", run: idleThenSlowHead, tmo: hostileTimeouts, wantUp: []string{"GET /1"}, want: []int{200, 408}},
		{name: "9 a stalled body gets 408 and frees the upstream", run: stalledBody, tmo: hostileTimeouts, upBad: true, want: []int{408}},
		{name: "a slow body that keeps moving is served", run: movingBody, tmo: movingTimeouts, wantUp: []string{"POST /slow"}, want: []int{200}},

		// More framing and connection handling.
		{
			name:   "pipelined requests are answered in order",
			send:   getReq("/1") + "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + getReq("/3"),
			wantUp: []string{"GET /1", "POST /2", "GET /3"}, want: []int{200, 200, 200},
			check: func(t *testing.T, _ []*upReq, got []clientResp, _ string) {
				for i, want := range []string{"GET /1", "POST /2", "GET /3"} {
					if got[i].Body != want {
						t.Errorf("answer %d is %q, want %q's", i, got[i].Body, want)
					}
				}
			},
		},
		{
			name: "Connection: close ends the connection after the answer",
			send: "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + getReq("/2"), wantUp: []string{"GET /1"}, want: []int{200},
			check: func(t *testing.T, _ []*upReq, got []clientResp, _ string) {
				if !got[0].Close {
					t.Error("no Connection: close on the last answer")
				}
			},
		},
		{
			name: "nothing after a refused request is served",
			send: "GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n" + getReq("/after"), noBytes: true, want: []int{400},
		},
		{
			name: "a GET with a body is forwarded with its body",
			send: "GET /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" + getReq("/next"), wantUp: []string{"GET /b", "GET /next"}, want: []int{200, 200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				if up[0].Body != "body" {
					t.Errorf("body %q", up[0].Body)
				}
			},
		},
		{
			name:   "hop-by-hop fields and those named in Connection are not forwarded",
			send:   "GET /hop HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\nX-End: 2\r\n\r\n",
			wantUp: []string{"GET /hop"}, want: []int{200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				h := up[0].Req.Header
				for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Connection", "Te", "Connection"} {
					if _, ok := h[k]; ok {
						t.Errorf("%s forwarded", k)
					}
				}
				if h.Get("X-End") != "2" {
					t.Error("end-to-end field lost")
				}
			},
		},
		{
			name:    "a chunked answer to an HTTP/1.0 client is sent plain, then closed",
			send:    "GET /old HTTP/1.0\r\n\r\n",
			answer:  answerBy(map[string]string{"/old": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}),
			wantUp:  []string{"GET /old"},
			want:    []int{200},
			methods: []string{"GET"},
			check: func(t *testing.T, _ []*upReq, got []clientResp, raw string) {
				if got[0].Body != "hello" || strings.Contains(raw, "chunked") {
					t.Errorf("got %q", raw)
				}
			},
		},
		{
			name:    "HEAD answers keep their Content-Length",
			send:    "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n" + getReq("/next"),
			methods: []string{"HEAD", "GET"},
			answer:  answerBy(map[string]string{"/h": "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"}),
			wantUp:  []string{"HEAD /h", "GET /next"}, want: []int{200, 200},
			check: func(t *testing.T, _ []*upReq, got []clientResp, _ string) {
				if got[0].Header.Get("Content-Length") != "1234" || got[1].Body != "GET /next" {
					t.Errorf("HEAD answer %v, next %q", got[0].Header, got[1].Body)
				}
			},
		},
		{
			name:   "an answer framed by the upstream's close is passed on with Connection: close",
			send:   getReq("/eof") + getReq("/never"),
			answer: answerBy(map[string]string{"/eof": "HTTP/1.1 200 OK\r\n\r\nuntil the end" + closeMark}),
			wantUp: []string{"GET /eof"}, want: []int{200},
			check: func(t *testing.T, _ []*upReq, got []clientResp, _ string) {
				if got[0].Body != "until the end" || !got[0].Close {
					t.Errorf("got %q %v", got[0].Body, got[0].Header)
				}
			},
		},
	}
}

// What a hostileCase's proxy routes to.
const (
	routeRecorder = iota // the recording upstream
	routeRefused         // a port nothing listens on: every connect is refused
	routeNone            // no active color: 503
)

// TestProxy_hostile is the differential table: for each hostile input it
// checks what the recording upstream saw and what the client got. Every
// request the upstream saw must carry the proxy's forwarding fields: a
// request that came out of a body would not.
func TestProxy_hostile(t *testing.T) {
	runHostile(t, hostileCases())
}

// runHostile runs the rows of a differential table, each in parallel.
func runHostile(t *testing.T, cases []hostileCase) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, tt.answer)
			p := startProxyTimeouts(t, tt.opts, cmp.Or(tt.tmo, tableTimeouts))
			switch tt.route {
			case routeRecorder:
				p.SetTarget("blue", rec.addr())
			case routeRefused:
				p.SetTarget("blue", refusedAddr(t))
			}
			if tt.setup != nil {
				tt.setup(t, p)
			}
			var raw string
			if tt.run != nil {
				raw = tt.run(t, p, rec)
			} else {
				raw = talk(t, p, tt.send, 5*time.Second)
			}
			// The proxy closed the client connection: its exchanges with
			// the upstream are over. Close the upstream to flush its record.
			rec.close()
			up := rec.requests()
			got, rest := parseAnswers(raw, tt.methods)

			var ups []string
			for _, r := range up {
				ups = append(ups, r.String())
			}
			if !slices.Equal(ups, tt.wantUp) {
				t.Errorf("the upstream saw %q, want %q", ups, tt.wantUp)
			}
			if n := rec.bytes.Load(); tt.noBytes && n > 0 {
				t.Errorf("%d bytes reached the upstream, want none", n)
			}
			if (len(rec.bad) > 0) != tt.upBad {
				t.Errorf("upstream: cut or unreadable requests %q, want some: %v", rec.bad, tt.upBad)
			}
			if s := statuses(got); !slices.Equal(s, tt.want) {
				t.Fatalf("the client got %v, want %v; raw %.300q", s, tt.want, raw)
			}
			if cut := len(got) > 0 && got[len(got)-1].BodyErr != nil; cut != tt.cut {
				t.Errorf("last answer cut: %v, want %v (%v)", cut, tt.cut, got[len(got)-1].BodyErr)
			}
			if rest != "" {
				t.Errorf("the client got bytes that are no answer: %.200q", rest)
			}
			if strings.Contains(raw, "EVIL") {
				t.Errorf("bytes beyond an answer's framing reached a client: %.300q", raw)
			}
			for _, r := range up {
				checkForwarded(t, r, tt.opts.TrustedProxies != nil)
			}
			if tt.check != nil && !t.Failed() {
				tt.check(t, up, got, raw)
			}
		})
	}
}

// checkForwarded checks that r came from the proxy: one Host and, for an
// untrusted client, exactly the proxy's own forwarding fields.
func checkForwarded(t *testing.T, r *upReq, trusted bool) {
	t.Helper()
	h := r.Req.Header
	if trusted {
		if len(h["X-Real-Ip"]) != 1 {
			t.Errorf("%s: X-Real-Ip %q", r, h["X-Real-Ip"])
		}
		return
	}
	for _, k := range []string{"X-Forwarded-For", "X-Real-Ip"} {
		if v := h[k]; len(v) != 1 || v[0] != "127.0.0.1" {
			t.Errorf("%s: %s %q, want the proxy's 127.0.0.1 alone: a request the proxy did not send", r, k, v)
		}
	}
	if v := h["X-Forwarded-Proto"]; len(v) != 1 || v[0] != "http" {
		t.Errorf("%s: X-Forwarded-Proto %q", r, v)
	}
}

func checkNoUnderscoreForwarding(t *testing.T, up []*upReq, _ []clientResp, _ string) {
	h := up[0].Req.Header
	bad := headerNames(h, func(k string) bool {
		n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		return strings.Contains(k, "_") && (strings.HasPrefix(n, "x-forwarded-") || n == "x-real-ip")
	})
	if len(bad) > 0 {
		t.Errorf("underscore spellings reached the upstream: %q", bad)
	}
	if kept := headerNames(h, func(k string) bool { return strings.EqualFold(k, "X_Custom") }); len(kept) != 1 {
		t.Errorf("an ordinary underscore field was dropped: %v", h)
	}
	if xff := h.Get("X-Forwarded-For"); strings.Contains(xff, "6.6.6.6") {
		t.Errorf("X-Forwarded-For %q", xff)
	}
}

func checkHost(want string) func(*testing.T, []*upReq, []clientResp, string) {
	return func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
		if up[0].Req.Host != want || up[0].Req.Header.Get("X-Forwarded-Host") != want {
			t.Errorf("Host %q, X-Forwarded-Host %q, want %q", up[0].Req.Host, up[0].Req.Header.Get("X-Forwarded-Host"), want)
		}
	}
}

// laxUpstream is a row where the upstream answers a method request to
// /lax with answer, which has bytes beyond its framing ("EVIL!"); the
// next request must be answered by a new upstream connection, and the
// client never sees the extra bytes.
func laxUpstream(name, method, answer string) hostileCase {
	return hostileCase{
		name:    name,
		send:    method + " /lax HTTP/1.1\r\nHost: x\r\n\r\n" + getReq("/next"),
		methods: []string{method, "GET"},
		answer:  answerBy(map[string]string{"/lax": answer}),
		wantUp:  []string{method + " /lax", "GET /next"},
		want:    []int{statusOf(answer), 200},
		check: func(t *testing.T, up []*upReq, got []clientResp, _ string) {
			if got[1].Body != "GET /next" {
				t.Errorf("the next answer is %q", got[1].Body)
			}
			if up[0].Conn == up[1].Conn {
				t.Error("the upstream connection that sent extra bytes was used again")
			}
		},
	}
}

func statusOf(raw string) int {
	var s int
	fmt.Sscanf(raw, "HTTP/1.1 %d", &s)
	return s
}

// badAnswer is a row where the upstream's answer is malformed: 502, and
// the client connection stays usable.
func badAnswer(name, answer string) hostileCase {
	return hostileCase{
		name:   name,
		send:   getReq("/bad") + getReq("/next"),
		answer: answerBy(map[string]string{"/bad": answer}),
		wantUp: []string{"GET /bad", "GET /next"},
		want:   []int{502, 200},
	}
}

// onceThenEcho answers the first request to path with raw (see answerBy)
// and every other one like answerEcho.
func onceThenEcho(path, raw string) func(*upReq) (string, bool) {
	var done atomic.Bool
	return func(r *upReq) (string, bool) {
		if r.Req.URL.Path == path && !done.Swap(true) {
			return answerBy(map[string]string{path: raw})(r)
		}
		return answerEcho(r)
	}
}

func connectionFlood(n int) string {
	var b strings.Builder
	b.WriteString("GET /flood HTTP/1.1\r\nHost: x\r\nKept: yes\r\nConnection: ")
	for i := 0; b.Len() < n/2; i++ {
		fmt.Fprintf(&b, "t%d,", i)
	}
	b.WriteString("t\r\n")
	for i := 0; b.Len() < n-16; i++ {
		fmt.Fprintf(&b, "t%d: v\r\n", i)
	}
	b.WriteString("\r\n")
	return b.String()
}

// exactHead returns a GET /exact head of exactly n bytes.
func exactHead(n int) string {
	base := "GET /exact HTTP/1.1\r\nHost: x\r\nX-Pad: "
	return base + strings.Repeat("a", n-len(base)-4) + "\r\n\r\n"
}

// readAll reads what c gets until the proxy closes it, within d.
func readAll(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

// readAnswer reads one answer from br and returns its raw bytes.
func readAnswer(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var raw strings.Builder
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(br, &raw)), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	return raw.String()
}

// The clients below that check an answer came no sooner than a timeout
// measure from before the step that starts the proxy's clock (the dial, the
// write): the proxy's clock starts later, so a wait the proxy cut short
// shows, while a client goroutine the scheduler delayed after that step
// cannot make a correct proxy look early.

func slowHead(t *testing.T, p *Proxy, _ *recorder) string {
	start := time.Now() // the head timeout runs from the accept, after the dial
	c := dialProxy(t, p)
	head := "GET /slow HTTP/1.1\r\nHost: x\r\n"
	var got strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		got.WriteString(readAll(t, c, 5*time.Second))
	}()
	for i := 0; i < len(head); i++ {
		if _, err := c.Write([]byte{head[i]}); err != nil {
			break
		}
		select {
		case <-done:
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	<-done
	if d := time.Since(start); d < hostileTimeouts.head {
		t.Errorf("408 after %s, before the head timeout %s", d, hostileTimeouts.head)
	}
	return got.String()
}

func silentClient(t *testing.T, p *Proxy, _ *recorder) string {
	start := time.Now()
	c := dialProxy(t, p)
	raw := readAll(t, c, 5*time.Second)
	if d := time.Since(start); d < hostileTimeouts.head {
		t.Errorf("closed after %s, before the head timeout %s", d, hostileTimeouts.head)
	}
	return raw
}

func idleClient(t *testing.T, p *Proxy, _ *recorder) string {
	c := dialProxy(t, p)
	sent := time.Now() // the idle timeout runs from the end of the answer, after this
	io.WriteString(c, getReq("/1"))
	br := bufio.NewReader(c)
	raw := readAnswer(t, c, br)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(br)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	if d := time.Since(sent); d < hostileTimeouts.idle {
		t.Errorf("an idle connection was closed %s after its request, before the idle timeout %s", d, hostileTimeouts.idle)
	}
	return raw + string(rest)
}

func idleThenSlowHead(t *testing.T, p *Proxy, _ *recorder) string {
	c := dialProxy(t, p)
	sent := time.Now()
	io.WriteString(c, getReq("/1"))
	br := bufio.NewReader(c)
	raw := readAnswer(t, c, br)
	// Idle past the head timeout but not the idle one, then start a head
	// and stall. The proxy's wait began between sent and the answer (or
	// a moment after, if the proxy's goroutine was delayed): the first
	// byte goes midway between the two timeouts after the answer, past
	// the one and before the other by a margin of their half gap.
	time.Sleep(hostileTimeouts.head + (hostileTimeouts.idle-hostileTimeouts.head)/2)
	if d := time.Since(sent); d >= hostileTimeouts.idle {
		t.Logf("the answer and the sleep took %s, past the idle timeout: the proxy may close", d)
	}
	first := time.Now()
	io.WriteString(c, "GET /2 HTTP/1.1\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(br)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	if d := time.Since(first); d < hostileTimeouts.head {
		t.Errorf("408 %s after the first byte, before the head timeout %s", d, hostileTimeouts.head)
	}
	return raw + string(rest)
}

func stalledBody(t *testing.T, p *Proxy, rec *recorder) string {
	c := dialProxy(t, p)
	start := time.Now() // the body timeout runs from the proxy's last read, after the write
	io.WriteString(c, "POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	raw := readAll(t, c, 5*time.Second)
	if d := time.Since(start); d < hostileTimeouts.body {
		t.Errorf("408 after %s, before the body timeout %s", d, hostileTimeouts.body)
	}
	// The upstream connection was closed: the upstream saw the request cut.
	waitFor(t, 5*time.Second, "the upstream to see the cut request", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.bad) > 0
	})
	return raw
}

func movingBody(t *testing.T, p *Proxy, _ *recorder) string {
	c := dialProxy(t, p)
	// Each byte comes well before the body timeout; all of them take
	// longer than it.
	gap := movingTimeouts.body / 10
	n := int(movingTimeouts.body/gap) + 4
	fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for range n {
		<-tick.C
		io.WriteString(c, "x")
	}
	c.(*net.TCPConn).CloseWrite()
	return readAll(t, c, 5*time.Second)
}

// lateBytes: the upstream answers /a correctly and, a moment later, sends
// bytes no request asked for; the next request must not get them.
func lateBytes(t *testing.T, p *Proxy, rec *recorder) string {
	c := dialProxy(t, p)
	br := bufio.NewReader(c)
	io.WriteString(c, getReq("/a"))
	raw := readAnswer(t, c, br)
	up := rec.requests()
	if len(up) != 1 {
		t.Fatalf("upstream saw %v", up)
	}
	// On loopback, written bytes are in the proxy's receive queue when the
	// write returns.
	if _, err := io.WriteString(rec.conn(up[0].Conn), "EVIL! HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, getReq("/b"))
	raw += readAnswer(t, c, br)
	c.(*net.TCPConn).CloseWrite()
	return raw + readAll(t, c, 5*time.Second)
}
