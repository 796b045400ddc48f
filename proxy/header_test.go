package proxy

import (
	"net/http"
	"net/netip"
	"reflect"
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

func TestRemoveHopHeaders(t *testing.T) {
	tests := []struct {
		name    string
		in      http.Header
		upgrade bool
		want    http.Header
	}{
		{
			name: "standard and listed fields go",
			in: http.Header{
				"Connection": {"close, X-Private"}, "X-Private": {"1"}, "Keep-Alive": {"5"},
				"Te": {"gzip"}, "Trailer": {"X"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"},
				"Proxy-Connection": {"keep-alive"}, "Cookie": {"a=1"},
			},
			want: http.Header{"Cookie": {"a=1"}},
		},
		{
			name: "TE trailers survives",
			in:   http.Header{"Te": {"trailers"}},
			want: http.Header{"Te": {"trailers"}},
		},
		{
			name:    "websocket upgrade keeps Upgrade",
			in:      http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"}},
			upgrade: true,
			want:    http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"k"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			removeHopHeaders(tt.in, tt.upgrade)
			if !reflect.DeepEqual(tt.in, tt.want) {
				t.Errorf("got %v, want %v", tt.in, tt.want)
			}
		})
	}
}

func TestIsUpgrade(t *testing.T) {
	tests := []struct {
		h    http.Header
		want bool
	}{
		{http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, true},
		{http.Header{"Connection": {"keep-alive, upgrade"}, "Upgrade": {"WebSocket"}}, true},
		{http.Header{"Upgrade": {"websocket"}}, false},
		{http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}}, false},
	}
	for _, tt := range tests {
		if got := isUpgrade(tt.h); got != tt.want {
			t.Errorf("isUpgrade(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
}
