package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_AddHealthCheck(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("round trip", func(t *testing.T) {
		want := deploy.HealthCheck{At: t0, Success: false, StatusCode: 503, ResponseTimeMS: 12.75, Error: "status 503"}
		if err := s.AddHealthCheck(ctx, "web", "blue", "c1", want); err != nil {
			t.Fatal(err)
		}
		got, err := s.HealthChecks(ctx, "web", "blue", 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("HealthChecks = %+v, %v", got, err)
		}
		if !got[0].At.Equal(want.At) || got[0].At.Location() != time.UTC {
			t.Errorf("At = %v, want %v in UTC", got[0].At, want.At)
		}
		got[0].At = want.At
		if got[0] != want {
			t.Errorf("got %+v, want %+v", got[0], want)
		}
	})

	t.Run("zero time is stamped", func(t *testing.T) {
		s.Now = func() time.Time { return t0.Add(time.Hour) }
		if err := s.AddHealthCheck(ctx, "api", "green", "c2", deploy.HealthCheck{Success: true}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.HealthChecks(ctx, "api", "green", 0)
		if len(got) != 1 || !got[0].At.Equal(t0.Add(time.Hour)) || !got[0].Success {
			t.Errorf("got %+v", got)
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		if err := s.AddHealthCheck(ctx, "web", "red", "", deploy.HealthCheck{}); err == nil {
			t.Error("color red accepted")
		}
		if err := s.AddHealthCheck(ctx, "", "blue", "", deploy.HealthCheck{}); err == nil {
			t.Error("empty app accepted")
		}
	})
}

func TestStore_HealthChecks(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// Five checks a second apart, the third added last: order is by time.
	for _, i := range []int{0, 1, 3, 4, 2} {
		c := deploy.HealthCheck{At: t0.Add(time.Duration(i) * time.Second), StatusCode: 200 + i}
		if err := s.AddHealthCheck(ctx, "web", "blue", "c", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddHealthCheck(ctx, "web", "green", "c", deploy.HealthCheck{At: t0.Add(time.Hour), StatusCode: 999}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit int
		want  []int
	}{
		{0, []int{204, 203, 202, 201, 200}},
		{2, []int{204, 203}},
		{10, []int{204, 203, 202, 201, 200}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("limit ", tt.limit), func(t *testing.T) {
			got, err := s.HealthChecks(ctx, "web", "blue", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var codes []int
			for _, c := range got {
				codes = append(codes, c.StatusCode)
			}
			if fmt.Sprint(codes) != fmt.Sprint(tt.want) {
				t.Errorf("codes = %v, want %v", codes, tt.want)
			}
		})
	}
	got, err := s.HealthChecks(ctx, "nope", "blue", 5)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("unknown app: %#v, %v; want an empty slice", got, err)
	}
}

func TestStore_PruneHealthChecks(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	counts := map[[2]string]int{{"web", "blue"}: 10, {"web", "green"}: 3, {"api", "blue"}: 6}
	for k, n := range counts {
		for i := range n {
			c := deploy.HealthCheck{At: t0.Add(time.Duration(i) * time.Second), StatusCode: i}
			if err := s.AddHealthCheck(ctx, k[0], deploy.Color(k[1]), "c", c); err != nil {
				t.Fatal(err)
			}
		}
	}

	deleted, err := s.PruneHealthChecks(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 6+0+2 {
		t.Errorf("deleted %d, want 8", deleted)
	}
	for k, n := range counts {
		got, err := s.HealthChecks(ctx, k[0], deploy.Color(k[1]), 0)
		if err != nil {
			t.Fatal(err)
		}
		keep := min(n, 4)
		if len(got) != keep {
			t.Fatalf("%v: %d left, want %d", k, len(got), keep)
		}
		if got[0].StatusCode != n-1 || got[keep-1].StatusCode != n-keep {
			t.Errorf("%v: kept %d..%d, want the newest %d..%d", k, got[0].StatusCode, got[keep-1].StatusCode, n-1, n-keep)
		}
	}

	if deleted, err := s.PruneHealthChecks(ctx, 4); err != nil || deleted != 0 {
		t.Errorf("second prune deleted %d, %v; want 0", deleted, err)
	}
	if deleted, err := s.PruneHealthChecks(ctx, 0); err != nil || deleted != 4+3+4 {
		t.Errorf("prune to 0 deleted %d, %v; want 11", deleted, err)
	}
	if _, err := s.PruneHealthChecks(ctx, -1); err == nil {
		t.Error("negative keep accepted")
	}
}

// benchStore opens a store for a benchmark.
func benchStore(b *testing.B, o options) *Store {
	b.Helper()
	s, err := open(filepath.Join(b.TempDir(), "bench.db"), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// poolLayouts are the pool layouts the benchmarks compare: the single
// queued writer Open uses, and pools of writers that lean on busy_timeout.
var poolLayouts = []struct {
	name string
	o    options
}{
	{"writers-1", options{writers: 1}},
	{"writers-2", options{writers: 2}},
	{"writers-8", options{writers: 8}},
}

func BenchmarkStore_AddHealthCheck(b *testing.B) {
	ctx := context.Background()
	c := deploy.HealthCheck{Success: true, StatusCode: 200, ResponseTimeMS: 1.5}
	b.Run("serial", func(b *testing.B) {
		s := benchStore(b, options{})
		for b.Loop() {
			if err := s.AddHealthCheck(ctx, "web", "blue", "c1", c); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, l := range poolLayouts {
		b.Run("parallel/"+l.name, func(b *testing.B) {
			s := benchStore(b, l.o)
			runParallel(b, func() error { return s.AddHealthCheck(ctx, "web", "blue", "c1", c) })
		})
	}
}

// runParallel runs op from 10 goroutines per CPU, like many app actors
// writing at once, and reports the 99th percentile latency of one op.
func runParallel(b *testing.B, op func() error) {
	b.Helper()
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(10)
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := op(); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(start))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[(len(all)*99)/100].Nanoseconds()), "p99-ns")
}
