package proxy

import (
	"io"
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
