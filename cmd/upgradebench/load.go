// The load, WebSockets and watchers that the measurements of main.go drive.

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// load is keep-alive clients asking GET / in a loop.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	stop       chan struct{}
	wg         sync.WaitGroup
	start      time.Time
	end        time.Time
}

func startLoad(port, clients int) *load {
	l := &load{stop: make(chan struct{}), start: time.Now()}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for range clients {
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
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err.Error())
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
	l.end = time.Now()
}

func (l *load) rate() float64 { return float64(l.ok.Load()) / l.end.Sub(l.start).Seconds() }

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
