package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// walBound is what the WAL file may reach with a hundred apps' health
// checks (a MiB or two is normal; before the fix it grew by about 2 MB/s).
const walBound = 16 << 20

// TestStore_walBounded writes a hundred apps' health checks, each in a
// commit of its own (the worst case: the app actors queue them in batches),
// ten times faster than a hundred apps checked every 500 ms do (and
// checkpoints ten times as often), with
// readers like the API's beside them, deployments, and two prunes of the
// health history, for walTestTime, and fails when the WAL file ever passes
// walBound. Before the checkpoint held the writers' queue it passed 16 MiB
// within ten seconds.
func TestStore_walBounded(t *testing.T) {
	walTestTime := 20 * time.Second
	if testing.Short() {
		walTestTime = 5 * time.Second
	}
	const apps = 100
	const every = 50 * time.Millisecond // 500 ms compressed ten times
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	// Time runs ten times faster for the checkpoints too.
	s, err := open(path, options{checkpointEvery: DefaultCheckpointInterval / 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), walTestTime)
	defer cancel()
	name := func(i int) string { return fmt.Sprintf("app%03d", i) }

	var wg sync.WaitGroup
	var written, failed atomic.Int64
	for i := range apps {
		wg.Go(func() {
			tk := time.NewTicker(every)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				err := s.AddHealthCheck(context.Background(), name(i), deploy.Blue, "c0ffee",
					deploy.HealthCheck{Success: true, StatusCode: 200, ResponseTimeMS: 1.25})
				if err != nil {
					failed.Add(1)
					continue
				}
				written.Add(1)
			}
		})
	}
	// Readers as the API's: status, history, health of every app in turn.
	var reads atomic.Int64
	for range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				app := name(i % apps)
				_, _ = s.Stats(context.Background(), app)
				_, _ = s.LastFinished(context.Background(), app)
				_, _ = s.ListDeployments(context.Background(), app, 20, 0)
				_, _ = s.HealthChecks(context.Background(), app, deploy.Blue, 20)
				reads.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	// A deployment a second, with logs, and a prune of the health history
	// at a third and at two thirds of the time.
	wg.Go(func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			d := deploy.Deployment{App: name(i % apps), Status: deploy.StatusPulling, ToImage: "web:v2",
				Logs: []string{"pulling web:v2", "starting green", "health checks passed"}}
			if err := s.CreateDeployment(context.Background(), &d); err != nil {
				failed.Add(1)
				continue
			}
			d.Status = deploy.StatusCompleted
			if err := s.UpdateDeployment(context.Background(), &d); err != nil {
				failed.Add(1)
			}
		}
	})
	wg.Go(func() {
		for range 2 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(walTestTime / 3):
			}
			if _, err := s.PruneHealthChecks(context.Background(), 20); err != nil {
				t.Errorf("PruneHealthChecks: %v", err)
			}
		}
	})

	var peak int64
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for ctx.Err() == nil {
		<-tk.C
		if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > peak {
			peak = fi.Size()
			if peak > walBound {
				break
			}
		}
	}
	cancel()
	wg.Wait()
	t.Logf("%d health checks written in %s (%d reader rounds); WAL peak %.1f MiB",
		written.Load(), walTestTime, reads.Load(), float64(peak)/(1<<20))
	if n := failed.Load(); n > 0 {
		t.Errorf("%d writes failed", n)
	}
	if written.Load() < apps*int64(walTestTime/every)/10 {
		t.Errorf("only %d health checks written: the test did not load the store", written.Load())
	}
	if peak > walBound {
		t.Errorf("WAL file reached %.1f MiB, bound %d MiB", float64(peak)/(1<<20), walBound>>20)
	}
}

// TestStore_Checkpoint_truncate: a WAL that grew past walTruncateBytes
// while a reader held an old snapshot is cut to zero by the next
// checkpoint once the reader is gone.
func TestStore_Checkpoint_truncate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	s, err := open(path, options{checkpointEvery: -1, noHealthLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	reader, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM health_checks").Scan(&n); err != nil {
		t.Fatal(err)
	}
	big := deploy.HealthCheck{Error: string(make([]byte, 8<<10))}
	for walSize(t, path) <= walTruncateBytes {
		if err := s.AddHealthCheck(ctx, "web", deploy.Blue, "c", big); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if r := s.lastCheckpoint.Load(); !r.busy {
		t.Fatalf("checkpoint %+v finished with a reader on an old snapshot", *r)
	}
	if got := walSize(t, path); got <= walTruncateBytes {
		t.Fatalf("WAL %d bytes with the reader open; want it still large", got)
	}
	reader.Rollback()
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := walSize(t, path); got != 0 {
		t.Errorf("WAL %d bytes after the reader ended; want truncated to 0", got)
	}
}
