package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// records is a slog.Handler that keeps every record.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h } // the tests look at record attributes only
func (h *records) WithGroup(string) slog.Handler            { return h }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

// lines returns how many records have message msg, and how many failures
// they account for: one each plus their suppressed counts (a line that
// only flushes a count carries no error and accounts for its count alone).
func (h *records) lines(msg string) (n int, total int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		n++
		own := int64(0)
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "suppressed":
				total += a.Value.Int64()
			case "err", "method":
				own = 1
			}
			return true
		})
		total += own
	}
	return n, total
}

func TestWarnLimiter_warn(t *testing.T) {
	h := &records{}
	l := newWarnLimiter(slog.New(h), "upstream failed", "color", "blue")
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for range 100 {
		l.warn("err", "refused")
	}
	if n, total := h.lines("upstream failed"); n != 1 || total != 1 {
		t.Fatalf("after 100 warnings in one instant: %d lines for %d failures, want 1 for 1", n, total)
	}
	now = now.Add(warnEvery)
	l.warn("err", "refused")
	h.mu.Lock()
	last := h.recs[len(h.recs)-1]
	h.mu.Unlock()
	var suppressed int64
	last.Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			suppressed = a.Value.Int64()
		}
		return true
	})
	if suppressed != 99 {
		t.Errorf("the line a second later says suppressed=%d, want 99", suppressed)
	}
	if n, total := h.lines("upstream failed"); n != 2 || total != 101 {
		t.Errorf("%d lines for %d failures, want 2 for 101", n, total)
	}
}

func TestWarnLimiter_flush(t *testing.T) {
	h := &records{}
	l := newWarnLimiter(slog.New(h), "upstream failed")
	for range 50 {
		l.warn("err", "refused")
	}
	// No further failure: the count still goes out, about a second later.
	waitFor(t, 5*time.Second, "the suppressed count", func() bool { _, total := h.lines("upstream failed"); return total == 50 })
	if n, _ := h.lines("upstream failed"); n != 2 {
		t.Errorf("%d lines, want 2 (the first failure, then the count of the others)", n)
	}
}

// TestProxy_warnRateLimited sends requests to a dead upstream: each gets
// its 502, the log gets a line or two, and every failure is counted.
func TestProxy_warnRateLimited(t *testing.T) {
	h := &records{}
	p := startProxy(t, Options{Logger: slog.New(h)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p.SetTarget("blue", dead)
	c := newClient(t)
	const n = 40
	for range n {
		resp, err := c.Get(proxyURL(p) + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
	}
	waitFor(t, 5*time.Second, "every failure counted", func() bool { _, total := h.lines("upstream failed"); return total == n })
	if lines, _ := h.lines("upstream failed"); lines > 4 {
		t.Errorf("%d lines for %d failures, want one a second", lines, n)
	}
}
