package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers the proxy sets (docs/proxy.md, "Forwarding headers and trusted_proxies").
const (
	headerXForwardedFor   = "X-Forwarded-For"
	headerXRealIP         = "X-Real-Ip"
	headerXForwardedProto = "X-Forwarded-Proto"
	headerXForwardedHost  = "X-Forwarded-Host"
	headerXForwardedPort  = "X-Forwarded-Port"
	headerForwarded       = "Forwarded"
)

// forwardingHeaders are the client-supplied forwarding fields dropped from
// an untrusted peer.
var forwardingHeaders = []string{
	headerXForwardedFor,
	headerXRealIP,
	headerXForwardedProto,
	headerXForwardedHost,
	headerXForwardedPort,
	headerForwarded,
}

// httpProto is the shared value of X-Forwarded-Proto from untrusted peers;
// outgoing header values are never modified, so sharing is safe.
var httpProto = []string{"http"}

// forwardHeaders sets the X-Forwarded-* fields on h (a copy of the client's
// header without hop-by-hop fields) for a request from peer with Host host to
// the proxy listening on port (a shared one-element value).
func forwardHeaders(h http.Header, peer netip.Addr, host string, port []string, trusted []netip.Prefix) {
	if !isTrusted(peer, trusted) {
		for _, k := range forwardingHeaders {
			delete(h, k)
		}
		v := []string{peer.String(), host} // one allocation for the new values
		h[headerXForwardedFor] = v[0:1:1]
		h[headerXRealIP] = v[0:1:1]
		h[headerXForwardedProto] = httpProto
		h[headerXForwardedHost] = v[1:2:2]
		h[headerXForwardedPort] = port
		return
	}
	xff := peer.String()
	if prior := h[headerXForwardedFor]; len(prior) > 0 {
		xff = strings.Join(prior, ", ") + ", " + xff
	}
	h[headerXForwardedFor] = []string{xff}
	h[headerXRealIP] = []string{realIP(xff, trusted)}
	if len(h[headerXForwardedProto]) == 0 {
		h[headerXForwardedProto] = httpProto
	}
	if len(h[headerXForwardedHost]) == 0 {
		h[headerXForwardedHost] = []string{host}
	}
	if len(h[headerXForwardedPort]) == 0 {
		h[headerXForwardedPort] = port
	}
}

// realIP returns the right-most address of an X-Forwarded-For list that is
// not trusted; when all are trusted, the left-most address.
func realIP(xff string, trusted []netip.Prefix) string {
	var first string
	parts := strings.Split(xff, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, ok := parseForwardedAddr(parts[i])
		if !ok {
			continue
		}
		first = a.String()
		if !isTrusted(a, trusted) {
			return first
		}
	}
	return first
}

// parseForwardedAddr parses one X-Forwarded-For element: an address,
// optionally with a port ("1.2.3.4:80", "[::1]:80").
func parseForwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses a RemoteAddr ("1.2.3.4:5678") into an address.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	a, _ := parseForwardedAddr(remote)
	return a
}
