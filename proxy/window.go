package proxy

import (
	"time"

	"github.com/bluegreen/bluegreen/internal/histogram"
)

// A verification window (docs/verification.md) watches one color's answers
// for a while: how many, how many 5xx, and their p99. The proxy keeps no
// window of its own: a color's counters (ColorStats) only grow, so a Tally
// read at a window's start and one read later give the window as their
// difference. Reading takes no lock and stops nothing: the request path
// goes on counting with atomic adds while a tally is read.

// Tally is what one color's counters held at one moment.
type Tally struct {
	Answers uint64 // answers sent to clients, whatever their status
	Errors  uint64 // 5xx answers, the proxy's own 502, 503 and 504 included
	Latency histogram.LatencyCounts
}

// Tally reads the color's counters. Answers that end meanwhile may be
// counted in one part and not yet in another; the next read has them all.
func (c *ColorStats) Tally() Tally {
	var t Tally
	for i := range c.codes {
		n := c.codes[i].Load()
		t.Answers += n
		if code := i + minCode; code >= 500 && code <= 599 {
			t.Errors += n
		}
	}
	t.Latency = c.latency.Counts()
	return t
}

// Sub returns what was counted between an earlier tally of the same color
// and t.
func (t *Tally) Sub(earlier *Tally) Tally {
	return Tally{
		Answers: t.Answers - min(earlier.Answers, t.Answers),
		Errors:  t.Errors - min(earlier.Errors, t.Errors),
		Latency: t.Latency.Sub(&earlier.Latency),
	}
}

// P99 is the p99 of the durations of the answers t holds; 0 without any.
func (t *Tally) P99() time.Duration { return t.Latency.Quantile(0.99) }
