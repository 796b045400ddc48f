package histogram

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestHistogram_Observe(t *testing.T) {
	h := New([]float64{0.001, 0.01, 1})
	for _, d := range []time.Duration{
		-time.Second,         // counts as 0
		0,                    // le 0.001
		time.Millisecond,     // le 0.001: the bound is inclusive
		time.Millisecond + 1, // le 0.01
		500 * time.Millisecond,
		time.Second,
		2 * time.Second, // +Inf only
	} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if got := fmt.Sprint(s.Buckets); got != "map[0.001:3 0.01:4 1:6]" {
		t.Errorf("buckets %s", got)
	}
	if s.Count != 7 || h.Count() != 7 {
		t.Errorf("count %d, %d", s.Count, h.Count())
	}
	if want := 3.502000001; s.Sum < want-1e-9 || s.Sum > want+1e-9 {
		t.Errorf("sum %v, want %v", s.Sum, want)
	}
}

func TestHistogram_concurrent(t *testing.T) {
	h := New([]float64{0.01})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Observe(time.Duration(i) * 20 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count != 8000 || s.Buckets[0.01] != 8*501 {
		t.Fatalf("%+v", s)
	}
}

func TestHistogram_Init(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("bounds out of order accepted")
		}
	}()
	New([]float64{1, 0.5})
}

func TestHistogram_allocations(t *testing.T) {
	h := New([]float64{0.001, 0.01, 0.1, 1})
	if n := testing.AllocsPerRun(1000, func() { h.Observe(5 * time.Millisecond) }); n != 0 {
		t.Fatalf("Observe allocates %v times", n)
	}
}

func BenchmarkHistogram_Observe(b *testing.B) {
	h := New([]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
	for b.Loop() {
		h.Observe(3 * time.Millisecond)
	}
}
