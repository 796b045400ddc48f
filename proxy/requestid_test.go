package proxy

import (
	"strings"
	"testing"
)

func TestValidRequestID(t *testing.T) {
	for v, want := range map[string]bool{
		"a": true, "0123456789abcdef0123456789abcdef": true, "req-1.2_3:4": true, strings.Repeat("A", 128): true,
		"": false, strings.Repeat("A", 129): false, "a b": false, "a,b": false, "a/b": false, "caf\u00e9": false,
		"a\x00": false, "a\"b": false, "=": false,
	} {
		if got := validRequestID([]byte(v)); got != want {
			t.Errorf("validRequestID(%q) = %v", v, got)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	var id [requestIDLen]byte
	for range 1000 {
		newRequestID(&id)
		s := string(id[:])
		if !validRequestID(id[:]) || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("%q is not 32 hex digits", s)
		}
		if seen[s] {
			t.Fatalf("%q twice", s)
		}
		seen[s] = true
	}
	if n := testing.AllocsPerRun(100, func() { newRequestID(&id) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
