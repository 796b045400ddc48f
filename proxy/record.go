package proxy

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// The access log's records of a connection's requests (the encoder is in
// accesslog.go). A request's record is filled from its head and counters
// when its answer ended (releaseScratch), after the answer was flushed; a
// WebSocket's record is copied at its handshake and written when it ends.

// logging reports whether the request being served gets a record.
func (cc *clientConn) logging() bool {
	return cc.sc.set.AccessLog && cc.p.logs != nil
}

// logRequest writes the record of the request whose answer just ended.
func (cc *clientConn) logRequest(now time.Time) {
	if !cc.logging() || cc.wsRec != nil { // a WebSocket's record waits for its end
		return
	}
	sc := cc.sc
	cc.fillRecord(&sc.rec, now)
	cc.p.logs.add(sc.enc.encode(cc.p.opts.AccessLogFormat, now, &sc.rec))
	sc.rec = accessRecord{} // keeps no slice of the head
}

// fillRecord fills r from the request being served, at now.
func (cc *clientConn) fillRecord(r *accessRecord, now time.Time) {
	sc, rq := cc.sc, &cc.req
	*r = accessRecord{app: cc.p.opts.App, color: cc.p.stats.colorOf(cc.stats), proto: "HTTP/1.1",
		status: cc.code, duration: now.Sub(cc.start), upstream: -1,
		clientIP: cc.clientIP(), requestID: cc.requestID()}
	if sc.lineParsed { // also of a head refused for its fields (two Host fields): its method and target
		if rq.HTTP10 {
			r.proto = "HTTP/1.0"
		}
		r.method = rq.Method()
		r.path, r.query, _ = bytes.Cut(rq.Target(), []byte("?"))
	}
	if sc.parsed {
		r.host, r.userAgent = rq.Host(), fieldValue(rq, "User-Agent")
	}
	if !sc.upStart.IsZero() {
		end := sc.upHead
		if end.IsZero() {
			end = now // sent, and no answer came
		}
		r.upstream = end.Sub(sc.upStart)
	}
	in := cc.pc.in
	if cc.br != nil {
		in -= int64(cc.br.Buffered()) // read, and the next request's
	}
	r.bytesIn, r.bytesOut = in-sc.inMark, cc.pc.out-sc.outMark
}

// fieldValue returns the value of the request's first field called name
// (nil when none).
func fieldValue(rq *http1.Head, name string) []byte {
	for i := range rq.NumFields() {
		if f := rq.Field(i); http1.EqualFold(rq.Name(f), name) {
			return rq.Value(f)
		}
	}
	return nil
}

// requestID returns the request's ID (docs/traffic.md, "X-Request-ID"):
// a trusted peer's valid one, else a new one, chosen once per request.
func (cc *clientConn) requestID() []byte {
	sc := cc.sc
	if sc.reqIDN == 0 {
		if v, one := cc.req.RequestID(); cc.trusted && sc.parsed && one && validRequestID(v) {
			sc.reqIDN = copy(sc.reqID[:], v)
		} else {
			newRequestID((*[requestIDLen]byte)(sc.reqID[:requestIDLen]))
			sc.reqIDN = requestIDLen
		}
	}
	return sc.reqID[:sc.reqIDN]
}

// clientIP returns the client's address: the peer's (a PROXY protocol
// header's), or for a trusted peer the X-Real-Ip the proxy forwards.
func (cc *clientConn) clientIP() string {
	if !cc.trusted || !cc.sc.parsed {
		return cc.peer
	}
	var xff []string
	rq := &cc.req
	for i := range rq.NumFields() {
		if f := rq.Field(i); f.Kind == http1.KindForwardedFor {
			xff = append(xff, string(rq.Value(f)))
		}
	}
	return realIP(strings.Join(append(xff, cc.peer), ", "), cc.p.trusted)
}

// encoders encode the records of WebSockets, which hold no scratch when
// they end.
var encoders = sync.Pool{New: func() any { return new(recordEncoder) }}

// keepWebSocketRecord copies the record of a WebSocket's handshake, whose
// answer was just sent, for logWebSocket.
func (cc *clientConn) keepWebSocketRecord() {
	if !cc.logging() {
		return
	}
	r := &accessRecord{}
	cc.fillRecord(r, time.Now())
	fields := []*[]byte{&r.method, &r.path, &r.query, &r.host, &r.userAgent, &r.requestID}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	buf := make([]byte, 0, n) // one allocation for the WebSocket's life
	for _, f := range fields {
		start := len(buf)
		buf = append(buf, *f...)
		*f = buf[start:len(buf):len(buf)]
	}
	cc.wsRec = r
}

// logWebSocket writes the record of a WebSocket that ended, with the
// bytes it carried each way after its handshake.
func (cc *clientConn) logWebSocket(in, out int64) {
	r := cc.wsRec
	if r == nil {
		return
	}
	cc.wsRec = nil
	now := time.Now()
	r.duration = now.Sub(cc.start)
	r.bytesIn += in
	r.bytesOut += out
	e := encoders.Get().(*recordEncoder)
	cc.p.logs.add(e.encode(cc.p.opts.AccessLogFormat, now, r))
	encoders.Put(e)
}
