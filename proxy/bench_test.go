package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

// BenchmarkProxy_keepAliveGet proxies small GET requests over one client
// keep-alive connection to a local upstream; -benchmem shows the
// allocations of the whole path (client, proxy and upstream).
func BenchmarkProxy_keepAliveGet(b *testing.B) {
	_, up := upstream(&testing.T{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello, World!")
	}))
	p := startProxy(&testing.T{}, Options{})
	p.SetTarget("blue", up)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := proxyURL(p) + "/bench?x=1"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkProxy_rawKeepAliveGet proxies small GET requests over one
// client keep-alive connection with a raw client and a raw upstream, so
// that -benchmem shows the proxy's own allocations per request (0).
func BenchmarkProxy_rawKeepAliveGet(b *testing.B) {
	up := rawUpstream(b)
	p := New(Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	defer p.Stop(context.Background())
	p.SetTarget("blue", up)
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /bench?x=1 HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	want := len("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
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
}
