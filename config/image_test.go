package config

import (
	"strings"
	"testing"
)

func TestCheckImage(t *testing.T) {
	sha := "sha256:" + strings.Repeat("0f", 32)
	good := []string{
		"web", "web:1", "web-api:20250630-1010-a333666", "library/nginx:1.27-alpine", "a__b/c.d-e--f:TAG_1.x",
		"localhost/web", "localhost:5000/web:1", "registry.example.com/team/web", "Registry.Example.com:443/web",
		"[::1]:5000/web", "web@" + sha, "ghcr.io/o/web:v1@" + sha, "web:" + strings.Repeat("t", 128),
	}
	for _, ref := range good {
		t.Run("good "+ref, func(t *testing.T) {
			if why := checkImage(ref); why != "" {
				t.Errorf("checkImage(%q) = %q, want valid", ref, why)
			}
		})
	}
	bad := []struct{ ref, why string }{
		{"", "is empty"},
		{"Web", `path component "Web" must be lowercase`},
		{"web:", `tag "" may hold only letters, digits, '_', '.' and '-' (not first), at most 128`},
		{"web:" + strings.Repeat("t", 129), `tag "` + strings.Repeat("t", 129) + `" may hold only letters, digits, '_', '.' and '-' (not first), at most 128`},
		{"web:.x", `tag ".x" may hold only letters, digits, '_', '.' and '-' (not first), at most 128`},
		{"web@sha256:ABC", `digest "sha256:ABC" is not sha256:<64 lowercase hex digits>`},
		{"web@md5:" + strings.Repeat("0", 32), `digest "md5:` + strings.Repeat("0", 32) + `" is not sha256:<64 lowercase hex digits>`},
		{"-web", `path component "-web" may hold only lowercase letters, digits and single separators (. _ __ -) between them`},
		{"web_", `path component "web_" may hold only lowercase letters, digits and single separators (. _ __ -) between them`},
		{"a___b", `path component "a___b" may hold only lowercase letters, digits and single separators (. _ __ -) between them`},
		{"/web", "has an empty path component"},
		{"-bad.com/web", `registry "-bad.com" is not a valid host[:port]`},
		{"reg.com:port/web", `registry "reg.com:port" is not a valid host[:port]`},
		{":1", "has no repository name"},
		{"web 1", "contains whitespace or control characters"},
		{strings.Repeat("a", 256), "repository name is longer than 255 characters"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.ref, func(t *testing.T) {
			if got := checkImage(tt.ref); got != tt.why {
				t.Errorf("checkImage(%q) = %q, want %q", tt.ref, got, tt.why)
			}
		})
	}
}
