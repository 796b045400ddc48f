package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// colorAnswer answers with its color.
func colorAnswer(color string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, color) })
}

// canaryCookieRE is the Set-Cookie field of a canary cookie as the proxy
// writes it.
var canaryCookieRE = regexp.MustCompile(`^bluegreen_canary=([0-9a-f]{32}); Path=/; HttpOnly; SameSite=Lax$`)

// getWith sends GET / with the canary cookie value v ("": none) and returns
// the color that answered and the cookie value the answer set ("": none).
func getWith(t *testing.T, c *http.Client, p *Proxy, v string) (color, set string) {
	t.Helper()
	req := mustRequest(t, "GET", proxyURL(p)+"/")
	if v != "" {
		req.Header.Set("Cookie", "theme=dark; "+CanaryCookie+"="+v)
	}
	resp, body := get(t, c, req)
	sets := resp.Header.Values("Set-Cookie")
	switch len(sets) {
	case 0:
	case 1:
		m := canaryCookieRE.FindStringSubmatch(sets[0])
		if m == nil {
			t.Fatalf("Set-Cookie %q", sets[0])
		}
		set = m[1]
	default:
		t.Fatalf("Set-Cookie %q", sets)
	}
	return body, set
}

func TestProxy_canary(t *testing.T) {
	_, blue := upstream(t, colorAnswer("blue"))
	_, green := upstream(t, colorAnswer("green"))

	t.Run("clients without the cookie get one and are routed by it", func(t *testing.T) {
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, blue)
		p.SetCanary(ColorGreen, green, 30)
		if c, addr, pc := p.Canary(); c != ColorGreen || addr != green || pc != 30 {
			t.Fatalf("Canary() = %s %s %d", c, addr, pc)
		}
		c := newClient(t)
		onGreen := 0
		const clients = 400
		for range clients {
			color, v := getWith(t, c, p, "")
			if v == "" {
				t.Fatal("an answer to a client without the cookie sets none")
			}
			if want := map[bool]string{true: "green", false: "blue"}[bucketOf([]byte(v)) < 30]; color != want {
				t.Fatalf("cookie %s (bucket %d) answered by %s, want %s", v, bucketOf([]byte(v)), color, want)
			}
			if color == "green" {
				onGreen++
			}
			// The client keeps the cookie: it stays on its color, and
			// gets no new one.
			for range 3 {
				again, set := getWith(t, c, p, v)
				if again != color || set != "" {
					t.Fatalf("with cookie %s: answered by %s (was %s), Set-Cookie %q", v, again, color, set)
				}
			}
		}
		if share := float64(onGreen) / clients; share < 0.22 || share > 0.38 {
			t.Errorf("%d of %d clients on the canary at 30%%", onGreen, clients)
		}
	})

	t.Run("a step's clients stay as the percent grows", func(t *testing.T) {
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, blue)
		c := newClient(t)
		values := make([]string, 300)
		for i := range values {
			values[i] = fmt.Sprintf("%032x", i*7919)
		}
		was := map[string]string{}
		for _, pc := range []int{10, 50, 99} {
			p.SetCanary(ColorGreen, green, pc)
			for _, v := range values {
				color, set := getWith(t, c, p, v)
				if set != "" {
					t.Fatalf("a client with the cookie got another: %s", set)
				}
				if was[v] == "green" && color != "green" {
					t.Fatalf("at %d%% cookie %s went back to %s", pc, v, color)
				}
				if want := bucketOf([]byte(v)) < uint32(pc); (color == "green") != want {
					t.Fatalf("at %d%% cookie %s (bucket %d) answered by %s", pc, v, bucketOf([]byte(v)), color)
				}
				was[v] = color
			}
		}
	})

	t.Run("the switch, the end of a step and the drain", func(t *testing.T) {
		p := startProxy(t, Options{})
		p.SetTarget(ColorBlue, blue)
		p.SetCanary(ColorGreen, green, 50)
		c := newClient(t)
		p.SetCanary("", "", 0)
		for i := range 20 {
			if color, set := getWith(t, c, p, fmt.Sprintf("%032x", i)); color != "blue" || set != "" {
				t.Fatalf("after the step ended: %s, Set-Cookie %q", color, set)
			}
		}
		if r := p.Drain(context.Background(), ColorGreen, time.Second, time.Second); r.HTTPCut != 0 {
			t.Fatalf("drain of the canary color: %+v", r)
		}
		p.SetCanary(ColorGreen, green, 50)
		p.SetTarget(ColorBlue, blue) // the same route: the step goes on
		if color, _, _ := p.Canary(); color != ColorGreen {
			t.Fatal("the same route again ended the step")
		}
		p.SetTarget(ColorGreen, green) // the switch: every client there
		if color, _, pc := p.Canary(); color != "" || pc != 0 {
			t.Fatalf("after the switch Canary() = %s %d", color, pc)
		}
		for i := range 20 {
			if color, set := getWith(t, c, p, fmt.Sprintf("%032x", i)); color != "green" || set != "" {
				t.Fatalf("after the switch: %s, Set-Cookie %q", color, set)
			}
		}
		if color, set := getWith(t, c, p, ""); color != "green" || set != "" {
			t.Fatalf("without canary a cookie is set: %s %q", color, set)
		}
	})

	t.Run("the proxy's own 502 for the canary color counts as its, with the cookie", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		p := startProxy(t, Options{Settings: Settings{OutageHold: 0}})
		p.SetTarget(ColorBlue, blue)
		p.SetCanary(ColorGreen, dead, 99)
		c := newClient(t)
		v := ""
		for i := 0; v == ""; i++ { // a value whose bucket is 99 stays on blue
			if s := fmt.Sprintf("%032x", i); bucketOf([]byte(s)) < 99 {
				v = s
			}
		}
		req := mustRequest(t, "GET", proxyURL(p)+"/")
		resp, _ := get(t, c, req)
		if resp.StatusCode == http.StatusBadGateway && len(resp.Header.Values("Set-Cookie")) != 1 {
			t.Fatalf("a 502 to a client without the cookie sets none: %v", resp.Header)
		}
		req = mustRequest(t, "GET", proxyURL(p)+"/")
		req.Header.Set("Cookie", CanaryCookie+"="+v)
		if resp, _ := get(t, c, req); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want the proxy's 502", resp.StatusCode)
		}
		waitFor(t, 5*time.Second, "the 502s counted as green's", func() bool {
			tl := p.Stats().Color(ColorGreen).Tally()
			return tl.Errors >= 1 && tl.Errors == tl.Answers
		})
	})
}

func TestProxy_canaryRawCookies(t *testing.T) {
	_, blue := upstream(t, colorAnswer("blue"))
	_, green := upstream(t, colorAnswer("green"))
	p := startProxy(t, Options{})
	p.SetTarget(ColorBlue, blue)
	p.SetCanary(ColorGreen, green, 50)
	// Odd Cookie fields: the value found (or a new one) decides, never a
	// failure.
	for _, cookie := range []string{"bluegreen_canary=", "bluegreen_canary", ";;;", "bluegreen_canary=\"\"",
		"a=" + strings.Repeat("x", 8000) + "; bluegreen_canary=abc", "bluegreen_canary=abc; bluegreen_canary=def"} {
		got := talk(t, p, "GET / HTTP/1.1\r\nHost: a\r\nCookie: "+cookie+"\r\n\r\n", 5*time.Second)
		answers, _ := parseAnswers(got, nil)
		if len(answers) != 1 || answers[0].Status != 200 {
			t.Fatalf("Cookie: %.40q: %q", cookie, got)
		}
		set := strings.Contains(got, "Set-Cookie: bluegreen_canary=")
		if _, ok := parseCookie(cookie); ok == set {
			t.Errorf("Cookie: %.40q: Set-Cookie %v", cookie, set)
		}
	}
}

// parseCookie is what the proxy finds of bluegreen_canary in a Cookie
// field, the way a test reads it.
func parseCookie(field string) (string, bool) {
	for _, pair := range strings.Split(field, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && k == CanaryCookie {
			v = strings.Trim(strings.TrimSpace(v), "\"")
			return v, v != ""
		}
	}
	return "", false
}

// BenchmarkProxy_rawCanary proxies small GET requests over one client
// keep-alive connection with a raw client and raw upstreams, as
// BenchmarkProxy_rawKeepAliveGet: without a canary step, and during one
// for a client with the cookie and for one without (each answer then sets
// a new cookie). -benchmem shows the proxy's own allocations per request.
func BenchmarkProxy_rawCanary(b *testing.B) {
	blue, green := rawUpstream(b), rawUpstream(b)
	setCookie := len("Set-Cookie: " + CanaryCookie + "=; Path=/; HttpOnly; SameSite=Lax\r\n" + strings.Repeat("x", canaryValueLen))
	for _, tc := range []struct {
		name   string
		canary bool
		cookie string
		extra  int // bytes the answer has beyond the upstream's
	}{
		{"canary=off", false, "", 0},
		{"canary=on/cookie", true, "Cookie: theme=dark; " + CanaryCookie + "=0123456789abcdef0123456789abcdef\r\n", 0},
		{"canary=on/no-cookie", true, "", setCookie},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := New(Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err := p.Start(); err != nil {
				b.Fatal(err)
			}
			defer p.Stop(context.Background())
			p.SetTarget(ColorBlue, blue)
			if tc.canary {
				p.SetCanary(ColorGreen, green, 50)
			}
			req := []byte("GET /bench?x=1 HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n" + tc.cookie + "\r\n")
			want := len(rawAnswer) + tc.extra
			c := dialProxy(b, p)
			buf := make([]byte, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				for n := 0; n < want; {
					m, err := c.Read(buf[n:])
					if err != nil {
						b.Fatal(err)
					}
					n += m
				}
			}
		})
	}
}
