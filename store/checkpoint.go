package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/mattn/go-sqlite3"
)

// DefaultCheckpointInterval is how often the store copies the WAL back into
// the database file.
const DefaultCheckpointInterval = time.Second

// driverName is go-sqlite3 with SQLite's automatic checkpoints turned off:
// the commit that crossed 1000 WAL pages ran the checkpoint, fsyncs
// included, while every queued writer waited (p99 of an insert from 20
// goroutines 13 ms; with checkpoints in the background 1.4 ms).
const driverName = "sqlite3_bluegreen"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
			return err
		},
	})
}

// Checkpoint copies the committed WAL frames into the database file without
// waiting for readers or blocking writers (a PASSIVE checkpoint). The store
// runs it every DefaultCheckpointInterval; once it caught up, the next
// write starts the WAL file over, so it does not grow.
func (s *Store) Checkpoint(ctx context.Context) error {
	var busy, frames, done int
	if err := s.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("checkpoint %s: %w", s.path, err)
	}
	return nil
}

// checkpointLoop runs Checkpoint every interval until stop is closed.
func (s *Store) checkpointLoop(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.Checkpoint(context.Background()); err != nil {
				slog.Warn("wal checkpoint", "err", err)
			}
		}
	}
}
