package http1

import "bytes"

// Cookie returns the value of the request cookie named name: the first
// name=value pair of the request's Cookie fields (RFC 6265 §5.4, pairs
// separated by ";"), its surrounding spaces and double quotes taken off.
// Names are compared exactly, as browsers send them. ok is false when no
// pair has that name or its value is empty. It allocates nothing, and its
// cost grows linearly with the size of the Cookie fields.
func (h *Head) Cookie(name string) (value []byte, ok bool) {
	for i := range h.fields {
		f := &h.fields[i]
		if !EqualFold(h.Name(f), "Cookie") {
			continue
		}
		if v, ok := cookieIn(h.Value(f), name); ok {
			return v, true
		}
	}
	return nil, false
}

// cookieIn finds name's value among the ";"-separated pairs of a Cookie
// field's value.
func cookieIn(b []byte, name string) ([]byte, bool) {
	for len(b) > 0 {
		pair := b
		if i := bytes.IndexByte(b, ';'); i >= 0 {
			pair, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		pair = trimOWS(pair)
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 || string(trimOWS(pair[:eq])) != name {
			continue
		}
		v := trimOWS(pair[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = trimOWS(v[1 : len(v)-1])
		}
		if len(v) == 0 {
			return nil, false
		}
		return v, true
	}
	return nil, false
}
