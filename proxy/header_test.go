package proxy

import (
	"net/netip"
	"testing"
)

func TestRealIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		xff, want string
	}{
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7, 10.0.0.1", "203.0.113.7"},
		{"1.1.1.1, 203.0.113.7, 10.0.0.2, 10.0.0.1", "203.0.113.7"},
		{"garbage, 10.0.0.1", "10.0.0.1"},
		{"10.0.0.3, 10.0.0.1", "10.0.0.3"},
		{"[2001:db8::1]:443, ::1", "2001:db8::1"},
		{"198.51.100.2:8080, 10.0.0.1", "198.51.100.2"},
	}
	for _, tt := range tests {
		t.Run(tt.xff, func(t *testing.T) {
			if got := realIP(tt.xff, trusted); got != tt.want {
				t.Errorf("realIP(%q) = %q, want %q", tt.xff, got, tt.want)
			}
		})
	}
}
