package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/mattn/go-sqlite3"
)

// WAL upkeep. Why the WAL grew without a bound before: the checkpoint ran
// PASSIVE every second beside the writers, and a PASSIVE checkpoint copies
// only the frames that were committed when it began. With a hundred apps'
// health checks committing two hundred transactions a second, some write
// always committed while the checkpoint ran, so the WAL was never wholly
// copied back at the moment a writer began. SQLite starts the WAL over only
// then (the next writer finds every frame copied and no reader on an old
// snapshot), so each commit appended to the end of the file instead: it
// grew by what was written, about 2 MB/s, and without journal_size_limit
// never shrank, also across restarts. Readers made it worse: a reader on an
// older snapshot stops a PASSIVE checkpoint at its frame.
//
// Now the checkpoint holds the writers' queue while it runs, so it sees a
// WAL that does not move and copies all of it unless a reader holds an
// older snapshot; the next write then starts the WAL over. Health checks
// are written in batches (health.go), so there is little to copy. When the
// file is larger than walTruncateBytes anyway (a big transaction, a long
// reader), a TRUNCATE checkpoint waits briefly for the readers and cuts
// the file to zero; journal_size_limit cuts it back whenever the WAL
// starts over.

// DefaultCheckpointInterval is how often the store copies the WAL back into
// the database file.
const DefaultCheckpointInterval = time.Second

// WAL size bounds.
const (
	// walTruncateBytes: a WAL file larger than this after a checkpoint is
	// truncated to zero by a TRUNCATE checkpoint.
	walTruncateBytes = 4 << 20
	// journalSizeLimit is SQLite's journal_size_limit: a WAL file that
	// starts over is cut back to this size.
	journalSizeLimit = 4 << 20
	// truncateBusyTimeout bounds how long a TRUNCATE checkpoint waits for
	// readers, with the writers held.
	truncateBusyTimeout = 200 * time.Millisecond
)

// driverName is go-sqlite3 with SQLite's automatic checkpoints turned off:
// the commit that crossed 1000 WAL pages ran the checkpoint, fsyncs
// included, while every queued writer waited (p99 of an insert from 20
// goroutines 13 ms; with checkpoints in the background 1.4 ms).
const driverName = "sqlite3_bluegreen"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d", journalSizeLimit), nil)
			return err
		},
	})
}

// Checkpoint copies the committed WAL frames into the database file, with
// the writers held meanwhile, so that the next write starts the WAL over;
// when the WAL file is larger than walTruncateBytes it also truncates it
// (waiting up to truncateBusyTimeout for readers on older snapshots). The
// store runs it every DefaultCheckpointInterval.
func (s *Store) Checkpoint(ctx context.Context) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	s.noteOtherWriters(ctx)
	mode := "PASSIVE"
	if s.walSize() > walTruncateBytes {
		mode = "TRUNCATE"
	}
	res, err := s.checkpoint(ctx, mode)
	if err != nil {
		return err
	}
	if mode == "PASSIVE" && res.busy && s.walSize() > walTruncateBytes {
		// A reader kept the checkpoint from finishing and the file is big.
		_, err = s.checkpoint(ctx, "TRUNCATE")
	}
	return err
}

// checkpointResult is what PRAGMA wal_checkpoint reports.
type checkpointResult struct {
	busy         bool // it could not finish (a reader, or a TRUNCATE that timed out)
	frames, done int  // frames in the WAL, frames copied back
}

func (s *Store) checkpoint(ctx context.Context, mode string) (checkpointResult, error) {
	var busy int
	var r checkpointResult
	if err := s.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &r.frames, &r.done); err != nil {
		return r, fmt.Errorf("checkpoint %s: %w", s.path, err)
	}
	r.busy = busy != 0 || r.done < r.frames
	s.lastCheckpoint.Store(&r)
	return r, nil
}

// noteOtherWriters drops the cached history (stats.go) when a connection
// other than the writer committed since the last look, as the old process
// does during an upgrade: SQLite's data_version on the writer connection
// changes only then (and when a TRUNCATE checkpoint resets the WAL, which
// costs only a re-read). It is called with the writers' queue held.
func (s *Store) noteOtherWriters(ctx context.Context) {
	var v int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return
	}
	if s.dataVersion != 0 && v != s.dataVersion {
		s.history.changed("")
	}
	s.dataVersion = v
}

// walSize returns the size of the WAL file (0 when there is none).
func (s *Store) walSize() int64 {
	fi, err := os.Stat(s.abs + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
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
