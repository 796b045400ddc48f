package histogram

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestLatency_buckets(t *testing.T) {
	// Every bucket's bounds hold exactly the durations that fall into it,
	// the buckets tile the range without a gap, and each is at most 1/16 of
	// its lower bound wide.
	var prevHi time.Duration
	for i := range LatencyBuckets {
		lo, hi := latencyBounds(i)
		if lo != prevHi || hi <= lo {
			t.Fatalf("bucket %d: [%s, %s) after one that ended at %s", i, lo, hi, prevHi)
		}
		prevHi = hi
		if i >= subBuckets && (hi-lo)*subBuckets > lo {
			t.Fatalf("bucket %d: [%s, %s) is wider than 1/16 of its start", i, lo, hi)
		}
		for _, d := range []time.Duration{lo, hi - time.Microsecond, (lo + hi) / 2} {
			if got := latencyIndex(d); got != i {
				t.Fatalf("%s is in bucket %d, want %d [%s, %s)", d, got, i, lo, hi)
			}
		}
	}
	if prevHi < 17*time.Minute {
		t.Fatalf("the buckets end at %s", prevHi)
	}
	for _, d := range []time.Duration{-time.Second, 0, 999 * time.Nanosecond} {
		if latencyIndex(d) != 0 {
			t.Errorf("%s is not in the first bucket", d)
		}
	}
	if latencyIndex(24*time.Hour) != LatencyBuckets-1 {
		t.Error("a day is not in the last bucket")
	}
}

func TestLatency_Quantile(t *testing.T) {
	var empty LatencyCounts
	if empty.Quantile(0.99) != 0 {
		t.Error("an empty window has a p99")
	}
	// Random durations from 100µs to 10s, log-spread: the p50, p90 and p99
	// read from the buckets are within 4% of the exact ones.
	r := rand.New(rand.NewPCG(1, 2))
	var l Latency
	ds := make([]time.Duration, 0, 20000)
	for range cap(ds) {
		d := time.Duration(float64(100*time.Microsecond) * math.Pow(1e5, r.Float64()))
		ds = append(ds, d)
		l.Observe(d)
	}
	slices.Sort(ds)
	c := l.Counts()
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		exact := ds[int(q*float64(len(ds)))-1]
		got := c.Quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.04 || diff < -0.04 {
			t.Errorf("q%v: %s, exact %s (%.1f%% off)", q, got, exact, diff*100)
		}
	}
	// A single slow answer among 99 fast ones is the p99 of 100 but not of 200.
	var w Latency
	for range 99 {
		w.Observe(time.Millisecond)
	}
	w.Observe(3 * time.Second)
	c = w.Counts()
	if p := c.Quantile(0.99); p < time.Millisecond || p > 1100*time.Microsecond {
		t.Errorf("p99 of 99×1ms and 1×3s = %s, want about 1ms (the 99th)", p)
	}
	if p := c.Quantile(1); p < 2900*time.Millisecond || p > 3100*time.Millisecond {
		t.Errorf("max = %s, want about 3s", p)
	}
	w.Observe(3 * time.Second)
	c = w.Counts()
	if p := c.Quantile(0.99); p < 2900*time.Millisecond {
		t.Errorf("p99 of 99×1ms and 2×3s = %s, want about 3s", p)
	}
}

func TestLatency_Sub(t *testing.T) {
	var l Latency
	l.Observe(time.Millisecond)
	before := l.Counts()
	for range 10 {
		l.Observe(2 * time.Second)
	}
	after := l.Counts()
	window := after.Sub(&before)
	if window.Total() != 10 || after.Total() != 11 {
		t.Fatalf("window %d of %d", window.Total(), after.Total())
	}
	if p := window.Quantile(0.99); p < 1900*time.Millisecond || p > 2100*time.Millisecond {
		t.Errorf("the window's p99 = %s, want about 2s", p)
	}
	if d := before.Sub(&after); d.Total() != 0 {
		t.Errorf("an earlier reading minus a later one holds %d", d.Total())
	}
}

func TestLatency_concurrent(t *testing.T) {
	var l Latency
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				l.Observe(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if c := l.Counts(); c.Total() != 8000 {
		t.Fatalf("counted %d of 8000", c.Total())
	}
}

func TestLatency_allocations(t *testing.T) {
	var l Latency
	if n := testing.AllocsPerRun(1000, func() { l.Observe(1234 * time.Microsecond) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
}

func BenchmarkLatency_Observe(b *testing.B) {
	var l Latency
	for i := 0; b.Loop(); i++ {
		l.Observe(time.Duration(i&0xffff) * time.Microsecond)
	}
}
