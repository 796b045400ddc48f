package proxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startProxy starts a proxy on 127.0.0.1:0 and stops it at cleanup.
func startProxy(t *testing.T, o Options) *Proxy {
	t.Helper()
	if o.App == "" {
		o.App = "web"
	}
	if o.ListenAddress == "" {
		o.ListenAddress = "127.0.0.1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := New(o)
	if err := p.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return p
}

// upstream starts an httptest server on 127.0.0.1 and returns its host:port.
func upstream(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "http://")
}

// proxyURL is the base URL of p.
func proxyURL(p *Proxy) string { return "http://" + p.Addr().String() }

// newClient returns an HTTP client with its own connection pool.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func get(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// echoHeaders answers with the request's header, Host and URI as JSON.
func echoHeaders(color string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Color", color)
		json.NewEncoder(w).Encode(seen{Color: color, Host: r.Host, URI: r.RequestURI, Header: r.Header})
	})
}

type seen struct {
	Color  string
	Host   string
	URI    string
	Header http.Header
}

func TestProxy_Start(t *testing.T) {
	t.Run("bind failure names the address", func(t *testing.T) {
		p := startProxy(t, Options{})
		port := p.Addr().(*net.TCPAddr).Port
		q := New(Options{App: "web", ListenAddress: "127.0.0.1", Port: port})
		err := q.Start()
		if err == nil {
			t.Fatal("second bind on the same port succeeded")
		}
		if want := fmt.Sprintf("127.0.0.1:%d", port); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
		if err := q.Stop(context.Background()); err != nil {
			t.Errorf("stop of an unstarted proxy: %v", err)
		}
	})
	t.Run("stop twice", func(t *testing.T) {
		p := New(Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		addr := p.Addr().String()
		for i := range 2 {
			if err := p.Stop(context.Background()); err != nil {
				t.Fatalf("stop %d: %v", i, err)
			}
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Error("proxy still accepts after Stop")
		}
	})
}

func TestProxy_SetTarget(t *testing.T) {
	_, blue := upstream(t, echoHeaders("blue"))
	_, green := upstream(t, echoHeaders("green"))
	p := startProxy(t, Options{})
	c := newClient(t)

	t.Run("no active color is 503 naming the app", func(t *testing.T) {
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		resp, body := get(t, c, req)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"web"`) {
			t.Fatalf("got %d %q, want 503 naming the app", resp.StatusCode, body)
		}
	})

	t.Run("switch applies on an open keep-alive connection", func(t *testing.T) {
		p.SetTarget("blue", blue)
		if color, addr := p.Active(); color != "blue" || addr != blue {
			t.Fatalf("Active() = %s %s", color, addr)
		}
		var reused []bool
		do := func() string {
			req, _ := http.NewRequest("GET", proxyURL(p)+"/x", nil)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) },
			}))
			resp, _ := get(t, c, req)
			return resp.Header.Get("X-Color")
		}
		if got := do(); got != "blue" {
			t.Fatalf("before switch: %s", got)
		}
		p.SetTarget("green", green)
		if got := do(); got != "green" {
			t.Fatalf("after switch: %s", got)
		}
		if len(reused) != 2 || !reused[1] {
			t.Fatalf("second request did not reuse the client connection: %v", reused)
		}
	})

	t.Run("clear gives 503", func(t *testing.T) {
		p.SetTarget("", "")
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		if resp, _ := get(t, c, req); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got %d, want 503", resp.StatusCode)
		}
	})
}

func TestProxy_ServeHTTP(t *testing.T) {
	t.Run("end-to-end headers pass unchanged", func(t *testing.T) {
		_, up := upstream(t, echoHeaders("blue"))
		p := startProxy(t, Options{})
		p.SetTarget("blue", up)
		req, _ := http.NewRequest("GET", proxyURL(p)+"/a%2Fb/c?q=1&q=2", nil)
		req.Host = "shop.example.com"
		req.Header.Set("Authorization", "Bearer s3cret")
		req.Header.Add("Cookie", "a=1")
		req.Header.Add("Cookie", "b=2")
		req.Header.Add("X-Custom", "one")
		req.Header.Add("X-Custom", "two")
		req.Header.Set("Connection", "keep-alive, X-Hop")
		req.Header.Set("X-Hop", "must go")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Authorization", "Basic eA==")
		resp, body := get(t, newClient(t), req)
		var s seen
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("decode %q: %v", body, err)
		}
		if s.Host != "shop.example.com" {
			t.Errorf("Host = %q", s.Host)
		}
		if s.URI != "/a%2Fb/c?q=1&q=2" {
			t.Errorf("request URI = %q", s.URI)
		}
		for k, want := range map[string][]string{
			"Authorization": {"Bearer s3cret"},
			"Cookie":        {"a=1", "b=2"},
			"X-Custom":      {"one", "two"},
		} {
			if got := s.Header[k]; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization"} {
			if v, ok := s.Header[k]; ok {
				t.Errorf("hop-by-hop %s forwarded: %q", k, v)
			}
		}
		if got, want := s.Header.Get("User-Agent"), "Go-http-client/1.1"; got != want {
			t.Errorf("User-Agent = %q, want the client's %q", got, want)
		}
		if resp.Header.Get("X-Color") != "blue" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("response header = %v", resp.Header)
		}
	})

	t.Run("response headers pass unchanged without additions", func(t *testing.T) {
		_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1; Path=/")
			w.Header().Add("Set-Cookie", "b=2; HttpOnly")
			w.Header()["Date"] = nil
			w.Header()["Content-Type"] = nil
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "hop")
			io.WriteString(w, "<html>no type</html>")
		}))
		p := startProxy(t, Options{})
		p.SetTarget("blue", up)
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		resp, body := get(t, newClient(t), req)
		if body != "<html>no type</html>" {
			t.Fatalf("body %q", body)
		}
		if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[1] != "b=2; HttpOnly" {
			t.Errorf("Set-Cookie = %q", got)
		}
		if v, ok := resp.Header["Content-Type"]; ok {
			t.Errorf("proxy added Content-Type %q", v)
		}
		if v, ok := resp.Header["X-Internal"]; ok {
			t.Errorf("hop-by-hop X-Internal forwarded: %q", v)
		}
	})

	t.Run("forwarding headers from an untrusted peer are replaced", func(t *testing.T) {
		_, up := upstream(t, echoHeaders("blue"))
		p := startProxy(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		p.SetTarget("blue", up)
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		req.Host = "shop.example.com:8443"
		req.Header.Set("X-Forwarded-For", "1.2.3.4")
		req.Header.Set("X-Real-IP", "1.2.3.4")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Port", "443")
		req.Header.Set("Forwarded", "for=1.2.3.4")
		_, body := get(t, newClient(t), req)
		var s seen
		json.Unmarshal([]byte(body), &s)
		want := map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Real-Ip":         "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "shop.example.com:8443",
			"X-Forwarded-Port":  fmt.Sprint(p.Addr().(*net.TCPAddr).Port),
		}
		for k, v := range want {
			if got := s.Header[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s = %q, want exactly %q", k, got, v)
			}
		}
		if v, ok := s.Header["Forwarded"]; ok {
			t.Errorf("spoofed Forwarded passed: %q", v)
		}
	})

	t.Run("forwarding headers from a trusted peer are kept", func(t *testing.T) {
		_, up := upstream(t, echoHeaders("blue"))
		p := startProxy(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}})
		p.SetTarget("blue", up)
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		req.Host = "internal:8000"
		req.Header.Add("X-Forwarded-For", "198.51.100.9, 203.0.113.7")
		req.Header.Add("X-Forwarded-For", "10.1.2.3")
		req.Header.Set("X-Real-IP", "6.6.6.6")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "shop.example.com")
		req.Header.Set("X-Forwarded-Port", "443")
		_, body := get(t, newClient(t), req)
		var s seen
		json.Unmarshal([]byte(body), &s)
		want := map[string]string{
			"X-Forwarded-For":   "198.51.100.9, 203.0.113.7, 10.1.2.3, 127.0.0.1",
			"X-Real-Ip":         "203.0.113.7",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "shop.example.com",
			"X-Forwarded-Port":  "443",
		}
		for k, v := range want {
			if got := s.Header[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s = %q, want exactly %q", k, got, v)
			}
		}
	})

	t.Run("upstream refusing is 502 naming the app", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := startProxy(t, Options{})
		p.SetTarget("green", addr)
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		resp, body := get(t, newClient(t), req)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `"web"`) || !strings.Contains(body, "refused") {
			t.Fatalf("got %d %q, want 502 naming the app and the refusal", resp.StatusCode, body)
		}
	})

	t.Run("upstream reset is 502", func(t *testing.T) {
		_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}))
		p := startProxy(t, Options{})
		p.SetTarget("blue", up)
		req, _ := http.NewRequest("GET", proxyURL(p)+"/", nil)
		resp, body := get(t, newClient(t), req)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `"web"`) {
			t.Fatalf("got %d %q, want 502", resp.StatusCode, body)
		}
	})

	t.Run("stale upstream keep-alive connection is retried", func(t *testing.T) {
		srv, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %d", r.Method, len(b))
		}))
		p := startProxy(t, Options{})
		p.SetTarget("blue", up)
		c := newClient(t)
		for i := range 4 {
			req, _ := http.NewRequest("POST", proxyURL(p)+"/", strings.NewReader("hello"))
			if i%2 == 1 {
				req, _ = http.NewRequest("GET", proxyURL(p)+"/", nil)
			}
			resp, body := get(t, c, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d after the upstream closed idle connections: %d %q", i, resp.StatusCode, body)
			}
			srv.CloseClientConnections()
		}
	})

	t.Run("server-sent events arrive one by one", func(t *testing.T) {
		next := make(chan struct{})
		_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: event %d\n\n", i)
				http.NewResponseController(w).Flush()
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
		}))
		p := startProxy(t, Options{})
		p.SetTarget("blue", up)
		resp, err := newClient(t).Get(proxyURL(p) + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for i := range 3 {
			// The upstream writes the next event only after the client has
			// read this one: a buffering proxy deadlocks here.
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if want := fmt.Sprintf("data: event %d\n", i); line != want {
				t.Fatalf("got %q, want %q", line, want)
			}
			br.ReadString('\n')
			next <- struct{}{}
		}
	})

	t.Run("50 MiB upload and download", func(t *testing.T) {
		const size = 50 << 20
		_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				h := sha256.New()
				n, err := io.Copy(h, r.Body)
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(size))
			io.Copy(w, io.LimitReader(&pattern{}, size))
		}))
		p := startProxy(t, Options{})
		p.SetTarget("blue", up)
		c := newClient(t)
		want := sha256.New()
		io.Copy(want, io.LimitReader(&pattern{}, size))
		wantSum := fmt.Sprintf("%x", want.Sum(nil))

		// Chunked upload (unknown length) streams through.
		req, _ := http.NewRequest("POST", proxyURL(p)+"/up", io.LimitReader(&pattern{}, size))
		resp, body := get(t, c, req)
		if resp.StatusCode != 200 || body != fmt.Sprintf("%d %s", size, wantSum) {
			t.Fatalf("upload: %d %q", resp.StatusCode, body)
		}
		dl, err := c.Get(proxyURL(p) + "/down")
		if err != nil {
			t.Fatal(err)
		}
		defer dl.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, dl.Body)
		if err != nil || n != size || fmt.Sprintf("%x", h.Sum(nil)) != wantSum {
			t.Fatalf("download: %d bytes, err %v", n, err)
		}
		if dl.ContentLength != size {
			t.Errorf("Content-Length %d, want %d", dl.ContentLength, size)
		}
	})
}

// pattern is an endless reader of a repeating byte pattern.
type pattern struct{ off int }

func (r *pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.off % 251)
		r.off++
	}
	return len(p), nil
}

func TestProxy_Connections(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	_, up := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
	}))
	p := startProxy(t, Options{})
	if got := p.Connections(); len(got) != 2 || got["blue"] != (Connections{}) || got["green"] != (Connections{}) {
		t.Fatalf("Connections() = %v, want blue and green at zero", got)
	}
	p.SetTarget("green", up)
	c := newClient(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			resp, err := c.Get(proxyURL(p) + "/slow")
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "two requests in flight", func() bool { return p.Connections()["green"].HTTP == 2 })
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Idle keep-alive connections count for the active color, where their
	// next request goes, until they close.
	if got := p.Connections(); got["green"].HTTP != 2 || got["blue"].HTTP != 0 {
		t.Errorf("Connections() with two idle keep-alive connections = %v, want green at 2", got)
	}
	c.CloseIdleConnections()
	waitFor(t, 5*time.Second, "no connection open", func() bool { return p.Connections()["green"].HTTP == 0 })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
