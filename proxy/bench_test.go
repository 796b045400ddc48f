package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/bluegreen/bluegreen/internal/logsink"
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

// BenchmarkProxy_rawKeepAliveGet proxies small GET requests over client
// keep-alive connections (1, and 16 in parallel) with a raw client and a
// raw upstream, so that -benchmem shows the proxy's own allocations per
// request (0) and cpu-µs/op the CPU time of the whole process (proxy,
// client and upstream) per request; with log=on each request also writes
// an access log record to a logsink (discarding its output).
func BenchmarkProxy_rawKeepAliveGet(b *testing.B) {
	up := rawUpstream(b)
	req := []byte("GET /bench?x=1 HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	want := len(rawAnswer)
	run := func(b *testing.B, c net.Conn, buf []byte) {
		if _, err := c.Write(req); err != nil {
			b.Error(err)
			return
		}
		for n := 0; n < want; {
			m, err := c.Read(buf[n:])
			if err != nil {
				b.Error(err)
				return
			}
			n += m
		}
	}
	for _, logOn := range []bool{false, true} {
		o := Options{App: "web", ListenAddress: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		name := "log=off"
		if logOn {
			sink := logsink.New(io.Discard, logsink.Options{})
			defer sink.Close()
			o.AccessLogSink, o.AccessLog, name = sink, true, "log=on"
		}
		p := New(o)
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		defer p.Stop(context.Background())
		p.SetTarget("blue", up)
		b.Run(name+"/conns=1", func(b *testing.B) {
			c := dialProxy(b, p)
			buf := make([]byte, 4096)
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				run(b, c, buf)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
		})
		b.Run(name+"/conns=16", func(b *testing.B) {
			b.SetParallelism(8) // 8 × GOMAXPROCS goroutines
			b.ReportAllocs()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				c := dialProxy(b, p)
				buf := make([]byte, 4096)
				for pb.Next() {
					run(b, c, buf)
				}
			})
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
