package http1

import (
	"bytes"
	"strings"
	"testing"
)

func TestHead_Cookie(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fields string // the request's header fields
		want   string
		ok     bool
	}{
		{"alone", "Cookie: bluegreen_canary=ab12\r\n", "ab12", true},
		{"among others", "Cookie: a=1; bluegreen_canary=ab12; b=2\r\n", "ab12", true},
		{"no spaces", "Cookie: a=1;bluegreen_canary=ab12;b=2\r\n", "ab12", true},
		{"last, trailing semicolon", "Cookie: a=1; bluegreen_canary=x;\r\n", "x", true},
		{"quoted", "Cookie: bluegreen_canary=\"q1\"\r\n", "q1", true},
		{"first of two", "Cookie: bluegreen_canary=one; bluegreen_canary=two\r\n", "one", true},
		{"in a second field", "Cookie: a=1\r\ncookie: bluegreen_canary=two\r\n", "two", true},
		{"name case counts", "Cookie: Bluegreen_Canary=x\r\n", "", false},
		{"a longer name", "Cookie: xbluegreen_canary=x; bluegreen_canary_2=y\r\n", "", false},
		{"empty value", "Cookie: bluegreen_canary=\r\n", "", false},
		{"empty quoted value", "Cookie: bluegreen_canary=\"\"\r\n", "", false},
		{"no equals", "Cookie: bluegreen_canary\r\n", "", false},
		{"value with equals", "Cookie: bluegreen_canary=a=b\r\n", "a=b", true},
		{"not a cookie field", "X-Cookie: bluegreen_canary=x\r\nSet-Cookie: bluegreen_canary=y\r\n", "", false},
		{"none", "", "", false},
		{"empty field", "Cookie: \r\n", "", false},
		{"only semicolons", "Cookie: ;;;;\r\n", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := readRequest(t, "GET / HTTP/1.1\r\nHost: x\r\n"+tt.fields+"\r\n")
			if err != nil {
				t.Fatal(err)
			}
			got, ok := h.Cookie("bluegreen_canary")
			if string(got) != tt.want || ok != tt.ok {
				t.Fatalf("Cookie = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHead_Cookie_allocations(t *testing.T) {
	h, err := readRequest(t, "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; b=2; bluegreen_canary=v\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { h.Cookie("bluegreen_canary") }); n != 0 {
		t.Fatalf("Cookie allocates %v times", n)
	}
}

// FuzzCookie checks what Cookie finds in any Cookie field: a value without
// ";" or surrounding spaces that follows the name and "=" in one pair of
// the field (quoted or not), and nothing when no pair names it.
func FuzzCookie(f *testing.F) {
	for _, s := range []string{"bluegreen_canary=ab12", "a=1; bluegreen_canary=\"x\"; b", ";;=;bluegreen_canary=;", "bluegreen_canary = v "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		if strings.ContainsAny(cookie, "\r\n") {
			return
		}
		h, err := readRequest(t, "GET / HTTP/1.1\r\nHost: x\r\nCookie: "+cookie+"\r\n\r\n")
		if err != nil {
			return
		}
		v, ok := h.Cookie("bluegreen_canary")
		named := false
		for _, pair := range strings.Split(cookie, ";") {
			if k, _, found := strings.Cut(pair, "="); found && strings.Trim(k, " \t") == "bluegreen_canary" {
				named = true
			}
		}
		switch {
		case !ok && len(v) != 0:
			t.Fatalf("no cookie, yet a value %q", v)
		case ok && !named:
			t.Fatalf("found %q in %q, where no pair names it", v, cookie)
		case ok && (bytes.ContainsAny(v, ";") || len(bytes.Trim(v, " \t")) != len(v)):
			t.Fatalf("found %q in %q", v, cookie)
		case ok && !strings.Contains(cookie, string(v)):
			t.Fatalf("found %q, which %q does not hold", v, cookie)
		}
	})
}
