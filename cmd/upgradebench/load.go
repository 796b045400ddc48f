// The load, WebSockets and watchers that the measurements of main.go drive.

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// load is keep-alive clients asking in a loop: half of them GET /, the
// other half POST /upload with a body of bodySize bytes (whose answer names
// its size), when bodySize > 0. A POST is never sent twice by Go's client,
// so one that an upstream or a proxy closed under it fails; a GET that met
// a closed keep-alive connection is sent again silently, which the trace
// counts as retried.
type load struct {
	ok, failed [2]atomic.Int64 // by kind: GET, POST
	retried    atomic.Int64    // requests Go's client sent a second time
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
	start      time.Time
	end        time.Time
}

// Kinds of the load's requests.
const (
	kindGET = iota
	kindPOST
)

func startLoad(port, clients, bodySize int) *load {
	l := &load{stop: make(chan struct{}), start: time.Now()}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	body := bytes.Repeat([]byte("0123456789abcdef"), bodySize/16+1)[:bodySize]
	for i := range clients {
		kind := kindGET
		if bodySize > 0 && i%2 == 1 {
			kind = kindPOST
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.record(kind, l.once(c, kind, base, body))
			}
		}()
	}
	return l
}

// once sends one request of kind and checks its answer.
func (l *load) once(c *http.Client, kind int, base string, body []byte) error {
	conns := 0
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns++ }}
	var req *http.Request
	if kind == kindPOST {
		req, _ = http.NewRequest(http.MethodPost, base+"/upload", bytes.NewReader(body))
	} else {
		req, _ = http.NewRequest(http.MethodGet, base+"/", nil)
	}
	resp, err := c.Do(req.WithContext(httptrace.WithClientTrace(context.Background(), trace)))
	if conns > 1 {
		l.retried.Add(1)
	}
	if err != nil {
		return err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d: %.100s", resp.StatusCode, got)
	case kind == kindPOST && !bytes.Contains(got, fmt.Appendf(nil, `"bytes":%d,`, len(body))):
		return fmt.Errorf("upload answered %.100s, want %d bytes", got, len(body))
	}
	return nil
}

func (l *load) record(kind int, err error) {
	if err == nil {
		l.ok[kind].Add(1)
		return
	}
	l.failed[kind].Add(1)
	l.mu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+[]string{"GET", "POST"}[kind]+": "+err.Error())
	}
	l.mu.Unlock()
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
	l.end = time.Now()
}

func (l *load) rate() float64 {
	return float64(l.ok[kindGET].Load()+l.ok[kindPOST].Load()) / l.end.Sub(l.start).Seconds()
}

// socket is a WebSocket echoing until it ends.
type socket struct {
	err  error
	done chan struct{}
}

func openSocket(port int) (*socket, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", port), nil)
	if err != nil {
		return nil, fmt.Errorf("open a WebSocket: %w", err)
	}
	s := &socket{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer ws.CloseNow()
		for i := 0; ; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "echo %d", i))
			if err == nil {
				_, _, err = ws.Read(ctx)
			}
			cancel()
			if err != nil {
				s.err = err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return s, nil
}

// watch asks every 10ms and notes the first and last failed answer.
type watch struct {
	mu          sync.Mutex
	first, last time.Time
	stop, done  chan struct{}
}

func startWatch(port int) *watch {
	w := &watch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if code, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || code != 200 {
				w.mu.Lock()
				if w.first.IsZero() {
					w.first = time.Now()
				}
				w.last = time.Now()
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *watch) halt() time.Duration {
	close(w.stop)
	<-w.done
	return w.last.Sub(w.first)
}

func get(url string) (int, error) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// freePorts returns n distinct free ports on 127.0.0.1.
func freePorts(n int) []int {
	var ports []int
	var lns []net.Listener
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range lns {
		l.Close()
	}
	return ports
}
