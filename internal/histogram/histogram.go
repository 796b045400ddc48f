// Package histogram counts durations into fixed buckets with atomic adds, for
// the Prometheus histograms of bluegreen: Observe takes no lock and
// allocates nothing, so the proxy can count every request on its path; a
// collector reads a Snapshot at scrape time. Latency counts durations into
// finer buckets, for the p99 of a verification window (latency.go).
package histogram

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram is a histogram of durations. New or Init gives it its bounds
// before its first use; it must not be copied after.
type Histogram struct {
	bounds []time.Duration // upper bounds (inclusive), ascending
	le     []float64       // the same in seconds, the buckets' "le"
	counts []atomic.Uint64 // counts[i]: observations in (bounds[i-1], bounds[i]]; the last: beyond every bound
	sum    atomic.Int64    // nanoseconds
	_      [0]func()       // not comparable
}

// New returns a histogram with the given upper bounds in seconds,
// ascending.
func New(le []float64) *Histogram {
	h := &Histogram{}
	h.Init(le)
	return h
}

// Init gives h its bounds, in seconds, ascending; it panics on bounds that
// are not. Init must be called once, before h is used.
func (h *Histogram) Init(le []float64) {
	h.bounds = make([]time.Duration, len(le))
	for i, s := range le {
		if math.IsNaN(s) || i > 0 && s <= le[i-1] {
			panic("histogram: bounds not ascending")
		}
		h.bounds[i] = time.Duration(s * float64(time.Second))
	}
	h.le = append([]float64(nil), le...)
	h.counts = make([]atomic.Uint64, len(le)+1)
}

// Observe counts one duration. A negative one counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot is what a histogram counted, in the shape of
// prometheus.MustNewConstHistogram: the count, the sum in seconds and the
// cumulative count of each upper bound.
type Snapshot struct {
	Count   uint64
	Sum     float64
	Buckets map[float64]uint64
}

// Snapshot reads h. Observations that run meanwhile may be in the sum and
// not in the buckets or the other way round; count is always the +Inf
// bucket, the sum of the buckets read.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Buckets: make(map[float64]uint64, len(h.le))}
	var n uint64
	for i, le := range h.le {
		n += h.counts[i].Load()
		s.Buckets[le] = n
	}
	s.Count = n + h.counts[len(h.le)].Load()
	s.Sum = float64(h.sum.Load()) / float64(time.Second)
	return s
}

// Count returns how many durations h counted.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}
