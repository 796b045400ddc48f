package deploy

import "testing"

func TestColor(t *testing.T) {
	if Blue.Other() != Green || Green.Other() != Blue || Color("").Other() != Blue {
		t.Fatal("Other: blue ↔ green, and blue when none is active")
	}
	for _, tt := range []struct {
		in string
		ok bool
	}{{"blue", true}, {"green", true}, {"", false}, {"red", false}, {"Blue", false}} {
		c, err := ParseColor(tt.in)
		if (err == nil) != tt.ok || (tt.ok && string(c) != tt.in) {
			t.Errorf("ParseColor(%q) = %q, %v", tt.in, c, err)
		}
		if err != nil && ErrorCode(err) != EINVALID {
			t.Errorf("ParseColor(%q): code %s, want EINVALID", tt.in, ErrorCode(err))
		}
	}
}
