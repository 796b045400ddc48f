package config

import "testing"

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"100b", 100, ""},
		{"64k", 64 << 10, ""},
		{"64KB", 64 << 10, ""},
		{"512m", 512 << 20, ""},
		{"512M", 512 << 20, ""},
		{"512mb", 512 << 20, ""},
		{"512MiB", 512 << 20, ""},
		{"1g", 1 << 30, ""},
		{"1.5g", 3 << 29, ""},
		{"2 g", 2 << 30, ""},
		{"8589934592g", 0, `"8589934592g" is too large`},
		{"", 0, `"" is not a memory size (use a number with b, k, m or g, e.g. 512m)`},
		{"m", 0, `"m" is not a memory size (use a number with b, k, m or g, e.g. 512m)`},
		{"-1m", 0, `"-1m" is not a memory size (use a number with b, k, m or g, e.g. 512m)`},
		{"1t", 0, `"1t" is not a memory size (use a number with b, k, m or g, e.g. 512m)`},
		{"1.g", 0, `"1.g" is not a memory size (use a number with b, k, m or g, e.g. 512m)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMemory(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("parseMemory(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseMemory(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}
