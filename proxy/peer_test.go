package proxy

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/proxyproto"
)

// TestProxy_proxyProtocol: PROXY protocol headers, v1 and v2, through
// the proxy port: the header's source is the client's; anything else, or
// a peer not trusted, is closed without an answer.
func TestProxy_proxyProtocol(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	pp := Options{TrustedProxies: local, Settings: Settings{ProxyProtocol: true}}
	src := netip.MustParseAddrPort("203.0.113.7:51234")
	dst := netip.MustParseAddrPort("10.0.0.5:80")
	src6 := netip.MustParseAddrPort("[2001:db8::7]:51234")
	dst6 := netip.MustParseAddrPort("[2001:db8::5]:80")
	tlvs := []byte{0x01, 0x00, 0x02, 'h', '2', 0xEA, 0x00, 0x03, 'v', 'p', 'c'}
	for _, tt := range []struct {
		name    string
		pieces  []string // the header, in the writes it comes in
		xff     string   // the X-Forwarded-For the upstream must get
		request string   // after the header (getReq("/pp") when empty)
	}{
		{"v1", []string{string(proxyproto.AppendV1(nil, proxyproto.Header{Source: src, Destination: dst}))}, "203.0.113.7", ""},
		{"v1 split over reads", []string{"PROXY TCP4 203.0.1", "13.7 10.0.0.5 5123", "4 80\r"}, "203.0.113.7", "\n" + getReq("/pp")},
		{"v2 IPv6 with TLVs", []string{string(proxyproto.AppendV2(nil, proxyproto.Header{Source: src6, Destination: dst6}, tlvs))}, "2001:db8::7", ""},
		{"v2 split over reads", splitAt(string(proxyproto.AppendV2(nil, proxyproto.Header{Source: src, Destination: dst}, nil)), 5, 14), "203.0.113.7", ""},
		{"v2 LOCAL: the peer's own address", []string{string(proxyproto.AppendV2(nil, proxyproto.Header{Local: true}, nil))}, "127.0.0.1", ""},
		{"v1 UNKNOWN: the peer's own address", []string{"PROXY UNKNOWN\r\n"}, "127.0.0.1", ""},
		{"v1 UNKNOWN: what the client says of itself is not believed", []string{"PROXY UNKNOWN\r\n"}, "127.0.0.1",
			"GET /pp HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"},
		{"v2 LOCAL: what the client says of itself is not believed", []string{string(proxyproto.AppendV2(nil, proxyproto.Header{Local: true}, nil))}, "127.0.0.1",
			"GET /pp HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-Ip: 6.6.6.6\r\n\r\n"},
		{"the header's client is not trusted: its own X-Forwarded-For is dropped",
			[]string{string(proxyproto.AppendV1(nil, proxyproto.Header{Source: src, Destination: dst}))}, "203.0.113.7",
			"GET /pp HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			p, sink := logged(t, pp, timeouts{})
			p.SetTarget(ColorBlue, rec.addr())
			cl := openClient(t, p, "")
			for _, piece := range tt.pieces {
				cl.send(t, piece)
				time.Sleep(20 * time.Millisecond)
			}
			if tt.request == "" {
				tt.request = getReq("/pp")
			}
			cl.send(t, tt.request)
			if resp, _ := cl.answer(t, "GET", 5*time.Second); resp.StatusCode != 200 {
				t.Fatalf("%d", resp.StatusCode)
			}
			h := rec.requests()[0].Req.Header
			if h.Get("X-Forwarded-For") != tt.xff || h.Get("X-Real-Ip") != tt.xff {
				t.Fatalf("X-Forwarded-For %q, X-Real-Ip %q, want %q", h.Get("X-Forwarded-For"), h.Get("X-Real-Ip"), tt.xff)
			}
			checkFields(t, sink.records(t, 1)[0], map[string]string{"client_ip": tt.xff})
		})
	}
}

// splitAt cuts s at the given offsets.
func splitAt(s string, at ...int) []string {
	var out []string
	prev := 0
	for _, i := range at {
		out = append(out, s[prev:i])
		prev = i
	}
	return append(out, s[prev:])
}

// TestProxy_proxyProtocolRefused: connections closed without an answer,
// and nothing sent upstream.
func TestProxy_proxyProtocolRefused(t *testing.T) {
	local := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	v2 := proxyproto.AppendV2(nil, proxyproto.Header{Source: netip.MustParseAddrPort("1.2.3.4:5"), Destination: netip.MustParseAddrPort("6.7.8.9:80")}, nil)
	badLen := append([]byte{}, v2...)
	binary.BigEndian.PutUint16(badLen[14:16], 11) // an IPv4 address block of 11 bytes
	for _, tt := range []struct {
		name, send string
		trusted    []netip.Prefix
	}{
		{"a peer not trusted", getReq("/x"), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{"a peer not trusted, with a valid header", "PROXY TCP4 1.2.3.4 6.7.8.9 5 80\r\n" + getReq("/x"), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{"no header: a request", getReq("/x"), local},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", local},
		{"a wrong v2 signature", "\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + strings.Repeat("\x00", 12) + getReq("/x"), local},
		{"a v2 address block too short", string(badLen) + getReq("/x"), local},
		{"a v1 line over 107 bytes", "PROXY UNKNOWN " + strings.Repeat("f", 100) + "\r\n" + getReq("/x"), local},
		{"a v1 line with a bare LF", "PROXY TCP4 1.2.3.4 6.7.8.9 5 80\n" + getReq("/x"), local},
		{"a truncated header, then nothing", "PROXY TCP4 1.2.3.4 6.7", local},
		{"nothing", "", local},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			o := Options{TrustedProxies: tt.trusted, Settings: Settings{ProxyProtocol: true}}
			p, sink := logged(t, o, hostileTimeouts)
			p.SetTarget(ColorBlue, rec.addr())
			cl := openClient(t, p, tt.send)
			start := time.Now()
			if got := readAll(t, cl.c, 5*time.Second); got != "" {
				t.Fatalf("answered %q", got)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("closed after %s", d)
			}
			if n := rec.bytes.Load(); n != 0 {
				t.Errorf("%d bytes reached the upstream", n)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if len(sink.recs) != 0 {
				t.Errorf("records %q", sink.recs)
			}
		})
	}
}
