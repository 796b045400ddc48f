package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Idle keep-alive connections at a stop and at a handover (stop.go): a
// request sent on one while the proxy stops is answered, with Connection:
// close, never met by a closed connection.

// handedListener is a listener whose socket another process serves once
// handed is set (internal/handover's listeners, for the proxy).
type handedListener struct {
	net.Listener
	handed atomic.Bool
}

func (l *handedListener) HandedOver() bool { return l.handed.Load() }

// goShutdown runs p.Shutdown and returns its result when it ends.
func goShutdown(p *Proxy, httpT, wsT time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Shutdown(context.Background(), httpT, wsT) }()
	return ch
}

// waitListenerClosed waits until p's listener refuses connections.
func waitListenerClosed(t *testing.T, p *Proxy) {
	t.Helper()
	waitFor(t, 5*time.Second, "the listener closed", func() bool {
		c, err := net.DialTimeout("tcp", p.Addr().String(), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

// askAgain sends GET /again on c and checks the answer: 200 "ok" with
// Connection: close, and then the end of the stream.
func askAgain(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, getReq("/again")); err != nil {
		t.Fatalf("send on the idle connection: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request on the idle connection: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "ok" || !resp.Close {
		t.Fatalf("answer %d %q close %v, want 200 \"ok\" with Connection: close", resp.StatusCode, b, resp.Close)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Fatalf("after the answer: %q %v, want the end", rest, err)
	}
}

// TestProxy_stopIdleConnection: while a stop drains a request, a
// connection that was idle sends its next request: it is served with
// Connection: close.
func TestProxy_stopIdleConnection(t *testing.T) {
	var started atomic.Int32
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/slow", slowUpstream("blue", &started, release))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	_, blue := upstream(t, mux)
	p := startProxyTimeouts(t, Options{}, parkTimeouts)
	p.SetTarget("blue", blue)
	c := dialProxy(t, p)
	br := bufio.NewReader(c)
	io.WriteString(c, getReq("/"))
	readOK(t, c, br)
	waitParked(t, p, 1) // idle long enough to hold no goroutine
	slow := goGet(newClient(t), proxyURL(p)+"/slow")
	waitFor(t, 5*time.Second, "the slow request upstream", func() bool { return started.Load() == 1 })

	stopped := goShutdown(p, 5*time.Second, time.Second)
	waitListenerClosed(t, p)
	askAgain(t, c, br)
	close(release)
	if r := <-slow; r.err != nil || r.status != 200 {
		t.Fatalf("the request in flight: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestProxy_handoverIdleConnections: after a handover an idle connection
// (parked or not) stays until its next request, which is served with
// Connection: close, also past the HTTP bound of the stop; one that sends
// nothing is closed at its idle timeout, without an answer, and then the
// stop ends.
func TestProxy_handoverIdleConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl := &handedListener{Listener: ln}
	tmo := parkTimeouts
	tmo.idle = 2 * time.Second
	p := startProxyTimeouts(t, Options{Listener: hl}, tmo)
	p.SetTarget("blue", rawUpstream(t))
	var conns [3]net.Conn
	var brs [3]*bufio.Reader
	for i := range conns {
		conns[i] = dialProxy(t, p)
		brs[i] = bufio.NewReader(conns[i])
		io.WriteString(conns[i], getReq("/"))
		readOK(t, conns[i], brs[i])
	}
	waitParked(t, p, 3)

	hl.handed.Store(true)
	start := time.Now()
	stopped := goShutdown(p, 100*time.Millisecond, 100*time.Millisecond)
	waitListenerClosed(t, p)
	askAgain(t, conns[0], brs[0])
	time.Sleep(300 * time.Millisecond) // past the stop's HTTP bound
	askAgain(t, conns[1], brs[1])

	// The third sends nothing: the idle timeout closes it, then the stop ends.
	conns[2].SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(brs[2]); err != nil || len(rest) > 0 {
		t.Fatalf("the connection that sent nothing got %q, %v; want the end", rest, err)
	}
	if d := time.Since(start); d < tmo.idle-time.Second {
		t.Errorf("closed %s after the stop began: before its idle timeout (%s since its answer)", d, tmo.idle)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not end once its connections were gone")
	}
}

// TestProxy_handoverUnderLoad hands a listening socket from one proxy to
// the next, as an upgrade of serve does, again and again, under keep-alive
// clients that GET and POST bodies without pause: not one request fails
// (Go's client sends a POST only once).
func TestProxy_handoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %d", r.Method, n)
	}))
	t.Cleanup(srv.Close)
	upAddr := srv.Listener.Addr().String()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	next := func() (*Proxy, *handedListener) {
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		dup, err := net.FileListener(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		hl := &handedListener{Listener: dup}
		p := New(Options{App: "web", Listener: hl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		p.SetTarget("blue", upAddr)
		return p, hl
	}
	cur, curLn := next()

	const clients = 8
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var errs []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	url := "http://" + ln.Addr().String() + "/"
	body := bytes.Repeat([]byte("b"), 2048)
	for i := range clients {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var resp *http.Response
				var err error
				want := "GET 0"
				if i%2 == 0 {
					resp, err = c.Post(url, "application/octet-stream", bytes.NewReader(body))
					want = fmt.Sprintf("POST %d", len(body))
				} else {
					resp, err = c.Get(url)
				}
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(b) != want) {
						err = fmt.Errorf("%d %q", resp.StatusCode, b)
					}
				}
				if err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		})
	}
	const handovers = 20
	for i := range handovers {
		before := ok.Load()
		waitFor(t, 10*time.Second, "traffic", func() bool { return ok.Load() > before+200 })
		p, pl := next()
		curLn.handed.Store(true)
		select {
		case err := <-goShutdown(cur, 5*time.Second, time.Second):
			if err != nil {
				t.Fatalf("handover %d: %v", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("handover %d: the old proxy still has connections", i)
		}
		cur, curLn = p, pl
	}
	close(stop)
	wg.Wait()
	cur.Stop(context.Background())
	t.Logf("%d handovers: %d requests answered, %d failed", handovers, ok.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed: %q", failed.Load(), errs[:min(len(errs), 10)])
	}
}
