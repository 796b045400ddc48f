package proxy

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestColorStats_Tally(t *testing.T) {
	s := NewStats()
	c := s.Color(ColorGreen)
	c.Observe(200, time.Millisecond)
	start := c.Tally()
	for range 90 {
		c.Observe(200, 10*time.Millisecond)
	}
	for _, code := range []int{500, 502, 503, 504, 599, 404, 418, 101} {
		c.Observe(code, 10*time.Millisecond)
	}
	c.Observe(200, 3*time.Second) // the one slow answer of 99: its p99
	c.Observe(200, 3*time.Second)
	now := c.Tally()
	w := now.Sub(&start)
	if w.Answers != 100 || w.Errors != 5 {
		t.Fatalf("window: %d answers, %d errors; want 100 and 5", w.Answers, w.Errors)
	}
	if p := w.P99(); p < 2900*time.Millisecond || p > 3100*time.Millisecond {
		t.Errorf("window p99 %s, want about 3s", p)
	}
	if n := s.Color(ColorBlue).Tally(); n.Answers != 0 || n.Errors != 0 || n.P99() != 0 {
		t.Errorf("blue counted green's answers: %+v", n.Answers)
	}
	if n := testing.AllocsPerRun(100, func() { c.Observe(503, time.Millisecond) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
}

// The window of a color is read while requests run: the proxy goes on
// counting (nothing stops it), the proxy's own 502 counts as the color's
// error, and every answer is in the last reading.
func TestProxy_window(t *testing.T) {
	var mu sync.Mutex
	fail := false
	_, green := upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		f := fail
		mu.Unlock()
		if f {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	p := startProxy(t, Options{})
	p.SetTarget(ColorGreen, green)
	c := newClient(t)
	for range 10 {
		get(t, c, mustRequest(t, "GET", proxyURL(p)+"/"))
	}
	waitCodes(t, p.Stats(), ColorGreen, map[int]uint64{200: 10})
	start := p.Stats().Color(ColorGreen).Tally()

	done := make(chan error, 1)
	reads := 0
	go func() {
		var err error
		for i := range 50 {
			if i == 40 {
				mu.Lock()
				fail = true
				mu.Unlock()
			}
			var resp *http.Response
			if resp, err = c.Get(proxyURL(p) + "/"); err != nil {
				break
			}
			resp.Body.Close()
		}
		done <- err
	}()
	for running := true; running; reads++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		now := p.Stats().Color(ColorGreen).Tally()
		if w := now.Sub(&start); w.Errors > w.Answers || w.Answers > 50 {
			t.Fatalf("a window read while requests run: %d errors of %d answers", w.Errors, w.Answers)
		}
	}
	// The proxy's own 502 for green: its upstream is gone.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p.SetTarget(ColorGreen, dead)
	if resp, _ := get(t, c, mustRequest(t, "GET", proxyURL(p)+"/")); resp.StatusCode != 502 {
		t.Fatalf("status %d, want the proxy's 502", resp.StatusCode)
	}
	waitCodes(t, p.Stats(), ColorGreen, map[int]uint64{200: 50, 500: 10, 502: 1})
	now := p.Stats().Color(ColorGreen).Tally()
	if w := now.Sub(&start); w.Answers != 51 || w.Errors != 11 {
		t.Fatalf("window: %d answers, %d errors; want 51 and 11", w.Answers, w.Errors)
	}
	t.Logf("the window was read %d times while requests ran", reads)
}
