package http1

import "bytes"

// Kind classifies a header field by its name.
type Kind uint8

// Kinds of fields. Every kind but KindOther is handled by the proxy itself
// and never passed on verbatim (see Field.Drop); a KindOther field is
// end-to-end unless the Connection field names it.
const (
	KindOther            Kind = iota // an end-to-end field
	KindHost                         // Host
	KindContentLength                // Content-Length
	KindTransferEncoding             // Transfer-Encoding
	KindConnection                   // Connection
	KindUpgrade                      // Upgrade
	KindExpect                       // Expect
	KindTE                           // TE
	KindHop                          // the other hop-by-hop fields: Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, Trailer
	KindForwardedFor                 // X-Forwarded-For
	KindRealIP                       // X-Real-Ip
	KindForwardedProto               // X-Forwarded-Proto
	KindForwardedHost                // X-Forwarded-Host
	KindForwardedPort                // X-Forwarded-Port
	KindForwarded                    // Forwarded
	KindForwardingAlias              // a forwarding field (or X-Request-ID) spelled with '_' for '-' (X_Forwarded_For, X_Real_IP): always dropped
	KindRequestID                    // X-Request-ID: the proxy writes its own
)

// ForwardingNames are the forwarding fields, in the order of their kinds
// from KindForwardedFor.
var ForwardingNames = [...]string{"X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "Forwarded"}

// Forwarding returns the index in ForwardingNames of a forwarding field's
// kind, or -1.
func (k Kind) Forwarding() int {
	if k >= KindForwardedFor && k <= KindForwarded {
		return int(k - KindForwardedFor)
	}
	return -1
}

// classify returns the kind of a field name; it costs a length switch and
// at most three comparisons, whatever the name.
func classify(name []byte) Kind {
	switch len(name) {
	case 2:
		if EqualFold(name, "TE") {
			return KindTE
		}
	case 4:
		if EqualFold(name, "Host") {
			return KindHost
		}
	case 6:
		if EqualFold(name, "Expect") {
			return KindExpect
		}
	case 7:
		if EqualFold(name, "Upgrade") {
			return KindUpgrade
		}
		if EqualFold(name, "Trailer") {
			return KindHop
		}
	case 9:
		if EqualFold(name, "Forwarded") {
			return KindForwarded
		}
		return forwarding(name, KindRealIP)
	case 10:
		if EqualFold(name, "Connection") {
			return KindConnection
		}
		if EqualFold(name, "Keep-Alive") {
			return KindHop
		}
	case 12:
		if equalFoldDash(name, "X-Request-Id") {
			if bytes.IndexByte(name, '_') >= 0 {
				return KindForwardingAlias
			}
			return KindRequestID
		}
	case 14:
		if EqualFold(name, "Content-Length") {
			return KindContentLength
		}
	case 15:
		return forwarding(name, KindForwardedFor)
	case 16:
		if EqualFold(name, "Proxy-Connection") {
			return KindHop
		}
		if k := forwarding(name, KindForwardedHost); k != KindOther {
			return k
		}
		return forwarding(name, KindForwardedPort)
	case 17:
		if EqualFold(name, "Transfer-Encoding") {
			return KindTransferEncoding
		}
		return forwarding(name, KindForwardedProto)
	case 18:
		if EqualFold(name, "Proxy-Authenticate") {
			return KindHop
		}
	case 19:
		if EqualFold(name, "Proxy-Authorization") {
			return KindHop
		}
	}
	return KindOther
}

// forwarding returns k when name is k's forwarding field, KindForwardingAlias
// when it is that name with some '-' spelled '_', and KindOther otherwise.
func forwarding(name []byte, k Kind) Kind {
	if !equalFoldDash(name, ForwardingNames[k.Forwarding()]) {
		return KindOther
	}
	if bytes.IndexByte(name, '_') >= 0 {
		return KindForwardingAlias
	}
	return k
}

// maxConnTokens is how many distinct field names named in Connection are
// compared one by one with every field; beyond it they go into a map, so
// that the work stays linear in the size of the head.
const maxConnTokens = 8

// markHop sets Drop on the hop-by-hop fields (RFC 9110 §7.6.1): the fixed
// ones, and the end-to-end fields the Connection field names. A name in
// Connection never removes a field the proxy handles itself: framing
// (Content-Length, Transfer-Encoding), Host, or the forwarding fields.
func (h *Head) markHop() {
	var small [maxConnTokens][]byte
	n := 0
	var many map[string]struct{}
	for i := range h.fields {
		f := &h.fields[i]
		if f.Kind != KindOther {
			f.Drop = true
		}
		if f.Kind != KindConnection {
			continue
		}
		for tok := range Tokens(h.bytes(f.value)) {
			if classify(tok) != KindOther || EqualFold(tok, "close") || EqualFold(tok, "keep-alive") {
				continue // handled by the proxy, or names no field
			}
			if many != nil {
				many[lowerString(tok)] = struct{}{}
				continue
			}
			dup := false
			for _, s := range small[:n] {
				h.ops++
				if EqualFold(tok, s) {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			if n < maxConnTokens {
				small[n] = tok
				n++
				continue
			}
			many = make(map[string]struct{}, 2*maxConnTokens)
			for _, s := range small[:n] {
				many[lowerString(s)] = struct{}{}
			}
			many[lowerString(tok)] = struct{}{}
		}
	}
	if n == 0 {
		return
	}
	var scratch [64]byte
	for i := range h.fields {
		f := &h.fields[i]
		if f.Kind != KindOther {
			continue
		}
		name := h.Name(f)
		if many != nil {
			h.ops++
			if _, ok := many[string(appendLower(scratch[:0], name))]; ok {
				f.Drop = true
			}
			continue
		}
		for _, s := range small[:n] {
			h.ops++
			if EqualFold(name, s) {
				f.Drop = true
				break
			}
		}
	}
}

func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, lower(c))
	}
	return dst
}

func lowerString(b []byte) string {
	var scratch [64]byte
	return string(appendLower(scratch[:0], b))
}
