package config

import "testing"

func TestCheckVolume(t *testing.T) {
	tests := []struct {
		spec, dest, why string
	}{
		{"/srv/web/data:/app/data", "/app/data", ""},
		{"/srv/web/data:/app/data/:rw", "/app/data", ""},
		{"app-data:/data:ro,nocopy", "/data", ""},
		{"/etc/ssl:/etc/ssl:ro,z,rprivate,cached", "/etc/ssl", ""},
		{"/srv", "", "is not host:container[:options] (e.g. /srv/app/data:/data:rw or app-data:/data)"},
		{"/a:/b:ro:x", "", "is not host:container[:options] (e.g. /srv/app/data:/data:rw or app-data:/data)"},
		{"data/x:/b", "", `host part "data/x" must be an absolute path or a volume name`},
		{"a:/b", "", `host part "a" must be an absolute path or a volume name`},
		{":/b", "", `host part "" must be an absolute path or a volume name`},
		{"/a:b", "", `container path "b" must be absolute`},
		{"/a:/..", "", "cannot mount over the container's /"},
		{"/a:/b:", "", `unknown option "" (use ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate, consistent, cached, delegated)`},
		{"/a:/b:RO", "", `unknown option "RO" (use ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate, consistent, cached, delegated)`},
		{"/a:/b:z,Z", "", `options "z" and "Z" cannot be combined`},
		{"/a:/b:shared,slave", "", `options "shared" and "slave" cannot be combined`},
		{"/a:/b:nocopy", "", `option "nocopy" applies only to named volumes`},
		{"vol:/b:rshared", "", `option "rshared" applies only to host paths`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			dest, why := checkVolume(tt.spec)
			if dest != tt.dest || why != tt.why {
				t.Errorf("checkVolume(%q) = %q, %q; want %q, %q", tt.spec, dest, why, tt.dest, tt.why)
			}
		})
	}
}
