// Package store keeps bluegreen's state, deployment history, health checks
// and audit trail in one SQLite file.
//
// Writes go through one connection, and writers queue for it in Go in
// arrival order; reads use a separate pool of read-only connections, which
// WAL mode lets run beside the writer. WAL checkpoints run in the background
// on a connection of their own (see Checkpoint), not in the commit that
// happens to fill the WAL. Measured with 20 goroutines at once, the queued
// single writer beat pools of 2 and 8 writers that wait for SQLite's lock
// through busy_timeout: for lone INSERTs in throughput and p99 latency, and
// for what an actor does in a deployment (BenchmarkStore_actorRound, with
// transactions) far more in p99, as SQLite's busy handler sleeps in steps of
// milliseconds. Times are stored as UTC text with nanoseconds and come back
// in UTC.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/mattn/go-sqlite3"
)

// ErrNotFound is returned (wrapped) when a looked-up row does not exist. Its
// code is deploy.ENOTFOUND.
var ErrNotFound = &deploy.Error{Code: deploy.ENOTFOUND, Message: "not found"}

// DefaultBusyTimeout is how long a connection waits for a lock held by
// another connection or process before it gives up.
const DefaultBusyTimeout = 5 * time.Second

// defaultWriters is the size of the write pool; see the package comment.
const defaultWriters = 1

// Store is the SQLite state of bluegreen. Its methods are safe for
// concurrent use.
type Store struct {
	// Now returns the current time; tests replace it. It stamps rows whose
	// time the caller left zero.
	Now func() time.Time

	path       string
	abs        string        // path, absolute
	w          *sql.DB       // one connection: all writes
	r          *sql.DB       // read-only pool
	gate       chan struct{} // FIFO queue in front of a single-connection w
	ckpt       *sql.DB       // one connection: WAL checkpoints
	stopCkpt   chan struct{}
	ckptDone   chan struct{}
	health     healthQueue // health checks not written yet (health.go)
	stopHealth chan struct{}
	healthDone chan struct{}
	history    historyCache // Stats and last deployments per app (stats.go)
	// dataVersion is the writer's last PRAGMA data_version, read with
	// the writers' queue held (checkpoint.go).
	dataVersion int64
	closeOnce   sync.Once
	closeErr    error

	lastCheckpoint atomic.Pointer[checkpointResult] // tests read it
}

// Open opens (creating if needed, with its parent folder) the database at
// path and applies the pending migrations.
func Open(path string) (*Store, error) {
	s, err := open(path, options{})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database. It is safe to call more than once; later calls
// return nil.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		// Write the queued health checks, stop the checkpoints (before
		// taking the writers' queue: a checkpoint waits in it), wait for
		// the running write, let SQLite refresh its query planner
		// statistics (best effort), then close; later writers get errors
		// from the closed pool. Closing the last connection checkpoints
		// the WAL and removes it.
		if s.stopHealth != nil {
			close(s.stopHealth)
			<-s.healthDone
		}
		if s.stopCkpt != nil {
			close(s.stopCkpt)
			<-s.ckptDone
		}
		_ = s.enter(context.Background())
		defer s.leave()
		_, _ = s.w.Exec("PRAGMA optimize")
		s.closeErr = errors.Join(s.ckpt.Close(), s.r.Close(), s.w.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close database %s: %w", s.path, s.closeErr)
		}
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// Path returns the database file's path as given to Open.
func (s *Store) Path() string { return s.path }

// options tune how open sets up the pools; the zero value is what Open uses.
// Benchmarks use it to compare pool layouts.
type options struct {
	// writers is the size of the write pool, default defaultWriters. 1
	// queues writers in Go in arrival order; more let connections contend
	// for SQLite's write lock through busy_timeout.
	writers int
	// readers is the size of the read-only pool; default max(4, NumCPU).
	readers int
	// checkpointEvery is the checkpoint interval, default
	// DefaultCheckpointInterval; negative: only explicit Checkpoint calls.
	checkpointEvery time.Duration
	// noHealthLoop leaves queued health checks to explicit flushes (tests).
	noHealthLoop bool
}

func open(path string, o options) (*Store, error) {
	abs, err := prepare(path)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	s := &Store{Now: time.Now, path: path, abs: abs}
	s.health.full = make(chan struct{}, 1)
	if s.w, err = pool(abs, false, o.writers); err != nil {
		return nil, err
	}
	if o.writers == 1 {
		s.gate = make(chan struct{}, 1)
	}
	ctx := context.Background()
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, explain(err)
	}
	if err := migrate(ctx, s.w); err != nil {
		s.w.Close()
		return nil, explain(err)
	}
	if s.r, err = pool(abs, true, o.readers); err != nil {
		s.w.Close()
		return nil, err
	}
	if err := s.r.PingContext(ctx); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, explain(err)
	}
	if s.ckpt, err = poolWith(dsn(abs, false, truncateBusyTimeout), 1); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, err
	}
	if o.checkpointEvery > 0 {
		s.stopCkpt, s.ckptDone = make(chan struct{}), make(chan struct{})
		go s.checkpointLoop(o.checkpointEvery, s.stopCkpt, s.ckptDone)
	}
	if !o.noHealthLoop {
		s.stopHealth, s.healthDone = make(chan struct{}), make(chan struct{})
		go s.healthLoop(s.stopHealth, s.healthDone)
	}
	return s, nil
}

// prepare checks the database path and creates its folder; it returns the
// absolute path.
func prepare(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", errors.New("is a directory")
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return "", fmt.Errorf("create folder: %w", err)
	}
	return abs, nil
}

// withDefaults fills in what o leaves unset.
func (o options) withDefaults() options {
	if o.writers <= 0 {
		o.writers = defaultWriters
	}
	if o.readers <= 0 {
		o.readers = max(4, runtime.NumCPU())
	}
	if o.checkpointEvery == 0 {
		o.checkpointEvery = DefaultCheckpointInterval
	}
	return o
}

// pool opens a pool of conns connections to the database at abs that live
// as long as the pool.
func pool(abs string, readOnly bool, conns int) (*sql.DB, error) {
	return poolWith(dsn(abs, readOnly, DefaultBusyTimeout), conns)
}

// poolWith opens a pool of conns connections with the connection string
// dsn.
func poolWith(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// exec runs one write statement.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.leave()
	return s.w.ExecContext(ctx, query, args...)
}

// writeTx runs fn in a write transaction, committed when fn returns nil.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// enter waits for the writer connection. Writers queue in a channel, which
// serves them in arrival order; database/sql alone would hand the freed
// connection to a random waiter, so one unlucky actor could wait for many.
func (s *Store) enter(ctx context.Context) error {
	if s.gate == nil {
		return nil
	}
	select {
	case s.gate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave lets the next writer in.
func (s *Store) leave() {
	if s.gate != nil {
		<-s.gate
	}
}

// dsn builds the go-sqlite3 connection string of the file at abs. The path
// is a percent-escaped file: URI, so no character in it can be taken for a
// parameter.
func dsn(abs string, readOnly bool, busy time.Duration) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_synchronous", "NORMAL")
	q.Set("_stmt_cache_size", "32")
	if readOnly {
		q.Set("_query_only", "on")
	} else {
		// BEGIN IMMEDIATE: a write transaction takes the write lock at
		// once, so it never fails halfway on a lock another process holds.
		q.Set("_txlock", "immediate")
	}
	return u.String() + "?" + q.Encode()
}

// explain adds what an operator can do about the common SQLite open errors.
func explain(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrNotADB:
		return fmt.Errorf("%w (the file is not a SQLite database: point --db at another file)", err)
	case sqlite3.ErrCantOpen, sqlite3.ErrPerm, sqlite3.ErrReadonly:
		return fmt.Errorf("%w (check the file's and its folder's permissions)", err)
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return fmt.Errorf("%w (another process holds the database: is a second bluegreen running?)", err)
	case sqlite3.ErrCorrupt:
		return fmt.Errorf("%w (the database is damaged: restore it from a backup)", err)
	}
	return err
}

// timeFormat is how times are stored: fixed width, so text order is time
// order, and exact to the nanosecond.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

// now returns s.Now in UTC.
func (s *Store) now() time.Time { return s.Now().UTC() }

// formatTime renders t for storage.
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime reads a stored time.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", v, err)
	}
	return t.UTC(), nil
}

// stampOr returns t, or the store's current time when t is zero.
func (s *Store) stampOr(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t.UTC()
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}
