package proxy

import (
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/internal/histogram"
)

// The proxy counts every answer it sends to a client: by the color the
// request was routed to, by the status code sent, and the time from the
// request's first byte to the end of the answer. The counters are atomics
// resolved before any request (each routing holds its color's counters),
// so counting takes no lock and allocates nothing; a metrics collector
// reads them at scrape time (bluegreen_proxy_requests_total and
// bluegreen_proxy_request_duration_seconds, docs/metrics.md).

// ColorNone labels the answers to requests that were routed to no color:
// the 503 when no color is active, and the requests refused before routing
// (400, 408, 417, 431).
const ColorNone = "none"

// DurationBuckets are the upper bounds, in seconds, of the request
// duration histogram.
var DurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Status codes counted one by one: the three digits the codec accepts.
const (
	minCode = 100
	maxCode = 999
)

// Stats counts the answers of one app's proxy per color. The app owner
// keeps it across proxies (Options.Stats), so that a replaced proxy (a new
// port after a reload) goes on counting where the old one was.
type Stats struct {
	blue, green, none ColorStats
}

// NewStats returns empty counters.
func NewStats() *Stats {
	s := &Stats{}
	for _, c := range []*ColorStats{&s.blue, &s.green, &s.none} {
		c.durations.Init(DurationBuckets)
	}
	return s
}

// Color returns the counters of color: "blue", "green", or anything else
// for ColorNone.
func (s *Stats) Color(color string) *ColorStats {
	switch color {
	case ColorBlue:
		return &s.blue
	case ColorGreen:
		return &s.green
	}
	return &s.none
}

// ColorStats counts the answers of the requests routed to one color.
type ColorStats struct {
	codes     [maxCode - minCode + 1]atomic.Uint64
	durations histogram.Histogram
	latency   histogram.Latency // finer, for a verification window's p99 (window.go)
}

// Observe counts one answer with status code that took d. A code the codec
// would not pass (outside 100..999) is not counted.
func (c *ColorStats) Observe(code int, d time.Duration) {
	if code < minCode || code > maxCode {
		return
	}
	c.codes[code-minCode].Add(1)
	c.durations.Observe(d)
	c.latency.Observe(d)
}

// Codes calls f for each status code sent at least once, in order, with
// how many times it was sent.
func (c *ColorStats) Codes(f func(code int, n uint64)) {
	for i := range c.codes {
		if n := c.codes[i].Load(); n > 0 {
			f(i+minCode, n)
		}
	}
}

// Durations returns the histogram of the answers' durations.
func (c *ColorStats) Durations() *histogram.Histogram { return &c.durations }

// Stats returns the counters of the answers p sends.
func (p *Proxy) Stats() *Stats { return p.stats }

// colorOf returns the color whose counters c are (ColorNone for nil).
func (s *Stats) colorOf(c *ColorStats) string {
	switch c {
	case &s.blue:
		return ColorBlue
	case &s.green:
		return ColorGreen
	}
	return ColorNone
}
