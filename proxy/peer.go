package proxy

import "github.com/bluegreen/bluegreen/internal/proxyproto"

// The PROXY protocol (docs/traffic.md, "PROXY protocol"): with
// Settings.ProxyProtocol, a connection is accepted only from a trusted
// peer (serveConn), and its first bytes must be a PROXY protocol header,
// whose source address is then the client's.

// readProxyHeader reads the PROXY protocol header the connection begins
// with, under the head timeout from the connection's start; false: the
// connection ends without an answer.
func (cc *clientConn) readProxyHeader() bool {
	cc.needPP = false
	if cc.br == nil {
		cc.takeReader()
	}
	h, err := proxyproto.Read(cc.br)
	if err != nil {
		cc.p.log.Debug("PROXY protocol header refused", "peer", cc.peer, "err", err)
		return false
	}
	if h.Local {
		// No client named (the balancer's own health check, or a family
		// it cannot name): the peer stays the balancer's address, but the
		// bytes that follow are a client's as much as the balancer's, and
		// their X-Forwarded-For or X-Request-ID is not believed.
		cc.trusted = false
		return true
	}
	cc.setPeer(h.Source.Addr().Unmap())
	return true
}
