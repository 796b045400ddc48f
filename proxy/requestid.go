package proxy

import "math/rand/v2"

// Request IDs (docs/traffic.md, "X-Request-ID"): every request sent to a
// container carries X-Request-ID, the one a trusted peer sent when it is
// valid, else a new one; it is the access log's request_id.

// requestIDLen is the length of a generated request ID: 128 random bits in
// hex.
const requestIDLen = 32

// maxRequestIDLen is the longest request ID kept from a trusted peer.
const maxRequestIDLen = 128

// requestIDChar are the bytes of a request ID kept from a trusted peer.
var requestIDChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "._:-" {
		t[c] = true
	}
	return t
}()

// validRequestID reports whether v may be kept: 1 to 128 of A-Z a-z 0-9 .
// _ : -.
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > maxRequestIDLen {
		return false
	}
	for _, c := range v {
		if !requestIDChar[c] {
			return false
		}
	}
	return true
}

// newRequestID fills id with a random request ID (randomHex).
func newRequestID(id *[requestIDLen]byte) { randomHex(id) }

// randomHex fills b with 128 random bits in hex. The bits come from the
// runtime's generator (ChaCha8 per thread, seeded by the system): no
// system call, no lock, and not predictable from the values seen before.
func randomHex(b *[32]byte) {
	for half := range 2 {
		v := rand.Uint64()
		for i := range 16 {
			b[half*16+i] = hexDigits[v>>60]
			v <<= 4
		}
	}
}
