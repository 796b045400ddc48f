package histogram

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency counts durations into log-linear buckets fine enough for a
// quantile: below 16µs one bucket per microsecond, above it 16 buckets per
// power of two, so a bucket is at most 1/16 of its lower bound wide. Its
// quantiles are off by at most about 3% (the middle of the bucket), where a
// Prometheus histogram's few buckets (1s, 2.5s) would leave a p99 anywhere
// between them. Observe takes no lock, allocates nothing and finds the
// bucket without a loop; the zero value is ready to use. It must not be
// copied after its first use: read it with Counts.
type Latency struct {
	counts [LatencyBuckets]atomic.Uint64
	_      [0]func() // not comparable
}

// Sizes of a Latency's buckets.
const (
	subBuckets = 16 // per power of two: 1/16 relative width
	subBits    = 4  // log2(subBuckets)
	// maxExp bounds the durations told apart: from 2^maxExp µs (about 18
	// minutes) on, every duration falls into the last bucket.
	maxExp = 30
	// LatencyBuckets is how many buckets a Latency has.
	LatencyBuckets = (maxExp - subBits + 1) * subBuckets
)

// Observe counts one duration. A negative one counts as zero.
func (l *Latency) Observe(d time.Duration) {
	l.counts[latencyIndex(d)].Add(1)
}

// Counts reads l's buckets. Observations that run meanwhile may or may not
// be in it; each bucket is read once.
func (l *Latency) Counts() LatencyCounts {
	var c LatencyCounts
	for i := range l.counts {
		c[i] = l.counts[i].Load()
	}
	return c
}

// LatencyCounts are a Latency's bucket counts at one moment. Two of them
// taken apart in time give the durations counted between (Sub).
type LatencyCounts [LatencyBuckets]uint64

// Sub returns the counts that c has beyond an earlier reading of the same
// Latency: what was counted between the two.
func (c *LatencyCounts) Sub(earlier *LatencyCounts) LatencyCounts {
	var d LatencyCounts
	for i := range c {
		if c[i] > earlier[i] {
			d[i] = c[i] - earlier[i]
		}
	}
	return d
}

// Total returns how many durations c holds.
func (c *LatencyCounts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// Quantile returns the duration that a share q (0 < q <= 1; 0.99 for the
// p99) of the counted durations do not exceed: the middle of the bucket
// holding the ceil(q×n)-th smallest. It returns 0 when c is empty.
func (c *LatencyCounts) Quantile(q float64) time.Duration {
	n := c.Total()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if float64(rank) < q*float64(n) {
		rank++ // ceil
	}
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, v := range c {
		if seen += v; seen >= rank {
			lo, hi := latencyBounds(i)
			return (lo + hi) / 2
		}
	}
	return 0 // not reached: seen ends at n >= rank
}

// latencyIndex is the bucket of d.
func latencyIndex(d time.Duration) int {
	us := uint64(max(d, 0) / time.Microsecond)
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - subBits - 1 // us >> exp is in [16, 32)
	i := (exp+1)*subBuckets + int(us>>exp) - subBuckets
	return min(i, LatencyBuckets-1)
}

// latencyBounds are the durations bucket i holds: from lo up to hi
// (exclusive).
func latencyBounds(i int) (lo, hi time.Duration) {
	if i < subBuckets {
		return time.Duration(i) * time.Microsecond, time.Duration(i+1) * time.Microsecond
	}
	exp := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return time.Duration(m<<exp) * time.Microsecond, time.Duration((m+1)<<exp) * time.Microsecond
}
