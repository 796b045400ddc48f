package proxy

import (
	"bufio"
	"net/netip"
	"strconv"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// The heads the proxy writes. End-to-end fields pass unchanged and in
// order; everything that frames or routes a message (Host, Content-Length,
// Transfer-Encoding, Connection, the forwarding fields) is written by the
// proxy itself from what the codec parsed, so that the framing the proxy
// sends is always the framing it uses.

// writeRequestHead writes the request head sent upstream: the client's
// method and target (origin form), Host, the end-to-end fields, the
// framing field and the forwarding fields. With upgrade, the WebSocket
// handshake's Upgrade and Connection fields are kept.
func (cc *clientConn) writeRequestHead(w *bufio.Writer, upgrade bool) {
	rq := &cc.req
	target := rq.Target()
	var host []byte
	switch {
	case http1.IsAbsolute(target):
		host, target = http1.SplitAbsolute(target)
	case rq.HasHost() && (!rq.HTTP10 || len(rq.Host()) > 0):
		host = rq.Host()
	default: // HTTP/1.0 without Host: the address the client connected to
		host = cc.localHost()
	}
	w.Write(rq.Method())
	w.WriteByte(' ')
	w.Write(target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.Write(host)
	w.WriteString("\r\n")
	var trustedFwd map[string][]string
	for i := range rq.NumFields() {
		f := rq.Field(i)
		switch {
		case !f.Drop:
			w.Write(rq.Line(f))
		case f.Kind == http1.KindUpgrade && upgrade:
			w.Write(rq.Line(f))
		case cc.trusted && f.Kind.Forwarding() >= 0:
			if trustedFwd == nil {
				trustedFwd = map[string][]string{}
			}
			k := http1.ForwardingNames[f.Kind.Forwarding()]
			trustedFwd[k] = append(trustedFwd[k], string(rq.Value(f)))
		}
	}
	cc.writeProxyFields(w)
	if upgrade {
		w.WriteString("Connection: Upgrade\r\n")
	}
	if !cc.trusted {
		w.Write(cc.fwd)
		w.Write(host)
		w.WriteString("\r\n\r\n")
		return
	}
	if trustedFwd == nil {
		trustedFwd = map[string][]string{}
	}
	peer, _ := netip.ParseAddr(cc.peer)
	forwardHeaders(trustedFwd, peer, string(host), cc.p.port, cc.p.trusted)
	for _, k := range forwardingHeaders {
		for _, v := range trustedFwd[k] {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
}

// writeProxyFields writes the fields of a request head sent upstream that
// the proxy decides: the framing, TE: trailers, and X-Request-ID.
func (cc *clientConn) writeProxyFields(w *bufio.Writer) {
	rq := &cc.req
	switch {
	case rq.Chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case rq.ContentLength >= 0:
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), rq.ContentLength, 10))
		w.WriteString("\r\n")
	}
	if rq.TETrailers {
		w.WriteString("Te: trailers\r\n")
	}
	w.WriteString("X-Request-ID: ")
	w.Write(cc.requestID())
	w.WriteString("\r\n")
}

// writeResponseHead writes the upstream's status line and end-to-end
// fields to the client, then the framing the proxy will use: chunked (not
// to an HTTP/1.0 client, who gets the data until the close), the
// Content-Length (also of a HEAD or 304 answer, which has no body), or
// none; and Connection: close when the client connection ends after it
// (closeClient, or closeAfter's reasons).
func (cc *clientConn) writeResponseHead(rs *http1.Head, body, closeClient bool) {
	closeClient = cc.closeAfter(closeClient)
	cc.code = rs.Status()
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(rs.StatusLine())
	for i := range rs.NumFields() {
		if f := rs.Field(i); !f.Drop {
			w.Write(rs.Line(f))
		}
	}
	cc.writeCanaryCookie(w)
	switch {
	case body && rs.Chunked:
		if !cc.req.HTTP10 {
			w.WriteString("Transfer-Encoding: chunked\r\n")
		}
	case rs.ContentLength >= 0 && (body || rs.Status() != 204):
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), rs.ContentLength, 10))
		w.WriteString("\r\n")
	}
	if c := connectionValue(closeClient, cc.req.HTTP10); c != "" {
		w.WriteString("Connection: ")
		w.WriteString(c)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// writeSwitchingHead writes a 101 answer to a WebSocket handshake: status,
// end-to-end fields, the Upgrade field and Connection: Upgrade.
func (cc *clientConn) writeSwitchingHead(rs *http1.Head) {
	cc.code = rs.Status()
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(rs.StatusLine())
	for i := range rs.NumFields() {
		if f := rs.Field(i); !f.Drop || f.Kind == http1.KindUpgrade {
			w.Write(rs.Line(f))
		}
	}
	cc.writeCanaryCookie(w)
	w.WriteString("Connection: Upgrade\r\n\r\n")
}

// writeError answers with a short plain-text body naming the app; the
// connection ends after it when closeClient or closeAfter says so (a body
// not read yet that could not be read now).
func (cc *clientConn) writeError(status int, msg string, closeClient bool) {
	cc.writeErrorWith(status, msg, closeClient, "")
}

// writeErrorWith is writeError with fields (whole lines) added to the
// answer's head.
func (cc *clientConn) writeErrorWith(status int, msg string, closeClient bool, fields string) {
	closeClient = cc.closeAfter(closeClient) // before the answer: it may read the body
	cc.code = status
	body := "bluegreen: " + msg + "\n"
	w := cc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(status))
	w.WriteByte(' ')
	w.WriteString(statusText(status))
	w.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n")
	w.WriteString(fields)
	cc.writeCanaryCookie(w)
	w.WriteString("Content-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	if c := connectionValue(closeClient, cc.req.HTTP10); c != "" {
		w.WriteString("\r\nConnection: ")
		w.WriteString(c)
	}
	w.WriteString("\r\n\r\n")
	if !cc.req.IsHEAD() {
		w.WriteString(body)
	}
	w.Flush()
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 408:
		return "Request Timeout"
	case 413:
		return "Content Too Large"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "Error"
}
