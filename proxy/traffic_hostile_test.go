package proxy

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The differential rows of the traffic-control answers (docs/traffic.md):
// every answer the proxy gives before it read a body (413, the maintenance
// page, a pause's timeout or overflow, an outage hold that ran out) and a
// 504 after a body went out; the body is a request, and must never be
// taken as one.

func trafficHostileCases() []hostileCase {
	limit := Options{Settings: Settings{MaxRequestBody: 20}}
	maintenance := func(_ *testing.T, p *Proxy) { p.Maintenance(MaintenancePage{Message: "soon"}) }
	return []hostileCase{
		{name: "413: a Content-Length body over max_request_body is no request", opts: limit,
			send: postLength("/big", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{413}, check: lastCloses},
		{name: "413: a chunked body over max_request_body that came whole reaches nobody", opts: limit,
			send: postChunked("/big", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{413}, check: lastCloses},
		{name: "413: chunks that came whole past max_request_body reach nobody", opts: limit,
			send:    "POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(smuggledEcho, 8) + getReq("/next"),
			noBytes: true, want: []int{413}, check: lastCloses},
		{name: "413: a chunked body that grows past max_request_body is cut", opts: limit,
			run: trickle("POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n", "8\r\n89abcdef\r\n",
				"8\r\nGET /x H\r\n0\r\n\r\n"+getReq("/next")),
			upBad: true, want: []int{413}, check: lastCloses},
		{name: "maintenance: a Content-Length body is no request", setup: maintenance,
			send: postLength("/m", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{503, 503}, check: keptOpen},
		{name: "maintenance: a chunked body is no request", setup: maintenance,
			send: postChunked("/m", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{503, 503}, check: keptOpen},
		{name: "a pause's timeout: a body is no request",
			setup: func(_ *testing.T, p *Proxy) { p.Pause(200 * time.Millisecond) },
			run:   sendKeepOpen(postLength("/p", smuggledEcho) + getReq("/next")), noBytes: true, want: []int{503, 503}, check: keptOpen},
		{name: "a pause's overflow: a body is no request", opts: Options{Settings: Settings{MaxHeldRequests: 1}},
			setup: pausedFull, send: postChunked("/p", smuggledEcho) + getReq("/next"), noBytes: true, want: []int{503, 503}, check: keptOpen},
		{name: "outage hold past outage_hold: a body is no request", route: routeRefused,
			opts: Options{Settings: Settings{OutageHold: 200 * time.Millisecond}},
			run:  sendKeepOpen(postLength("/o", smuggledEcho) + getReq("/next")), noBytes: true, want: []int{502, 502}, check: keptOpen},
		{name: "504: the body went out as data, the connection goes on",
			opts:   Options{Settings: Settings{ResponseTimeout: 200 * time.Millisecond}},
			answer: answerBy(map[string]string{"/hang": ""}),
			send:   postLength("/hang", smuggledEcho) + getReq("/next"),
			wantUp: []string{"POST /hang", "GET /next"}, want: []int{504, 200},
			check: func(t *testing.T, up []*upReq, _ []clientResp, _ string) {
				if up[0].Body != smuggledEcho || up[0].Conn == up[1].Conn {
					t.Errorf("body %q, connections %d and %d", up[0].Body, up[0].Conn, up[1].Conn)
				}
			}},
		{name: "HTTP/1.0 keep-alive: the connection goes on",
			send:   "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			wantUp: []string{"GET /a", "GET /b"}, want: []int{200, 200}, check: saysKeepAlive},
		{name: "HTTP/1.0 keep-alive: a proxy's own answer keeps it too", route: routeNone,
			send:    "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: " + fmt.Sprint(len(smuggledEcho)) + "\r\n\r\n" + smuggledEcho + "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			noBytes: true, want: []int{503, 503}, check: saysKeepAlive},
		{name: "HTTP/1.0 keep-alive: a chunked answer ends the connection",
			answer: answerBy(map[string]string{"/a": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"}),
			send:   "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			wantUp: []string{"GET /a"}, want: []int{200}, check: lastCloses},
	}
}

// TestProxy_trafficHostile runs the rows above.
func TestProxy_trafficHostile(t *testing.T) {
	runHostile(t, trafficHostileCases())
}

// sendKeepOpen is a row's client that sends data and reads until the proxy
// closes, without closing its own sending side: the client of a held
// request that shuts it gives up.
func sendKeepOpen(data string) func(*testing.T, *Proxy, *recorder) string {
	return func(t *testing.T, p *Proxy, _ *recorder) string {
		c := dialProxy(t, p)
		if _, err := io.WriteString(c, data); err != nil && !errors.Is(err, syscall.EPIPE) {
			t.Logf("write: %v", err)
		}
		return readAll(t, c, 10*time.Second)
	}
}

// trickle is a row's client that sends its pieces 100 ms apart, so that
// the proxy forwards each before the next comes, then reads until the
// proxy closes.
func trickle(pieces ...string) func(*testing.T, *Proxy, *recorder) string {
	return func(t *testing.T, p *Proxy, _ *recorder) string {
		c := dialProxy(t, p)
		for i, piece := range pieces {
			if i > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			if _, err := io.WriteString(c, piece); err != nil {
				break // the proxy answered and closed
			}
		}
		return readAll(t, c, 10*time.Second)
	}
}

// pausedFull pauses p and holds one request: its one slot is taken.
func pausedFull(t *testing.T, p *Proxy) {
	p.Pause(time.Minute)
	openClient(t, p, getReq("/first"))
	waitHeld(t, p, 1)
}

// saysKeepAlive checks that every answer says Connection: keep-alive.
func saysKeepAlive(t *testing.T, _ []*upReq, got []clientResp, _ string) {
	for i, a := range got {
		if !strings.EqualFold(a.Header.Get("Connection"), "keep-alive") || a.Close {
			t.Errorf("answer %d: Connection %q", i, a.Header.Get("Connection"))
		}
	}
}
