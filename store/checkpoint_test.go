package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// walSize returns the size of the store's WAL file.
func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// addChecks writes n health checks.
func addChecks(t *testing.T, s *Store, n int) {
	t.Helper()
	for range n {
		if err := s.AddHealthCheck(context.Background(), "web", "blue", "c", deploy.HealthCheck{Error: "some text to fill pages"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStore_Checkpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	s, err := open(path, options{checkpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	// Without checkpoints the WAL only grows.
	addChecks(t, s, 300)
	first := walSize(t, path)
	addChecks(t, s, 300)
	grown := walSize(t, path)
	if grown <= first {
		t.Fatalf("WAL %d then %d bytes: automatic checkpoints are not off", first, grown)
	}

	// After a checkpoint, writes start the WAL over instead of growing it.
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	addChecks(t, s, 300)
	if after := walSize(t, path); after > grown {
		t.Errorf("WAL grew from %d to %d bytes after a checkpoint", grown, after)
	}
	checks, err := s.HealthChecks(context.Background(), "web", "blue", 0)
	if err != nil || len(checks) != 900 {
		t.Fatalf("HealthChecks = %d, %v; want 900", len(checks), err)
	}
}

func TestStore_checkpointLoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	s, err := open(path, options{checkpointEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	dbSize := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Let the loop copy the schema in, then note the file's size.
	deadline := time.Now().Add(5 * time.Second)
	for dbSize() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := dbSize()
	addChecks(t, s, 300)

	// Only a checkpoint writes the new pages into the database file.
	for dbSize() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 5s: no background checkpoint", before)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
