package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// Health checks are many (a hundred apps checked twice a second are two
// hundred a second) and each alone matters little, so they are written in
// batches: QueueHealthCheck keeps a check in memory, and the store writes
// what is queued in one transaction every HealthFlushInterval, when
// healthBatchRows are queued, before a read of health checks and at Close.
// A transaction per check cost a commit each (and WAL pages each: see
// checkpoint.go); a batch costs one commit for all.

// HealthFlushInterval is how long a queued health check waits at most
// before it is written.
const HealthFlushInterval = time.Second

const (
	// healthBatchRows queued checks are written without waiting for the
	// interval.
	healthBatchRows = 1024
	// healthQueueMax bounds the queue while the database cannot be
	// written: further checks are dropped (and counted in the log).
	healthQueueMax = 64 << 10
)

// healthRow is one queued health check.
type healthRow struct {
	app, containerID string
	color            deploy.Color
	check            deploy.HealthCheck
}

// healthQueue holds the checks not written yet.
type healthQueue struct {
	mu      sync.Mutex
	rows    []healthRow
	spare   []healthRow // the slice of the last flush, for reuse
	dropped int
	full    chan struct{} // signalled when healthBatchRows are queued

	flushMu sync.Mutex // one flush at a time, in queue order
}

// QueueHealthCheck queues one health check of app's color container
// containerID, to be written with the next batch. A zero c.At is stamped
// with s.Now now. Only a bad app or color is an error; a batch that cannot
// be written is logged.
func (s *Store) QueueHealthCheck(app string, color deploy.Color, containerID string, c deploy.HealthCheck) error {
	if app == "" {
		return errors.New("add health check: empty app")
	}
	if !color.Valid() {
		return fmt.Errorf("add health check of %s: invalid color %q", app, color)
	}
	c.At = s.stampOr(c.At)
	q := &s.health
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.rows) >= healthQueueMax {
		q.dropped++
		return nil
	}
	q.rows = append(q.rows, healthRow{app: app, color: color, containerID: containerID, check: c})
	if len(q.rows) == healthBatchRows {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
	return nil
}

// AddHealthCheck records one health check of app's color container
// containerID now, with the queued ones, and returns an error when they
// could not be written. A zero c.At is stamped with s.Now.
func (s *Store) AddHealthCheck(ctx context.Context, app string, color deploy.Color, containerID string, c deploy.HealthCheck) error {
	if err := s.QueueHealthCheck(app, color, containerID, c); err != nil {
		return err
	}
	if err := s.FlushHealthChecks(ctx); err != nil {
		return fmt.Errorf("add health check of %s-%s: %w", app, color, err)
	}
	return nil
}

// FlushHealthChecks writes the queued health checks in one transaction.
// Checks that cannot be written are dropped (a full disk must not make the
// queue grow without a bound); the error says so.
func (s *Store) FlushHealthChecks(ctx context.Context) error {
	q := &s.health
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	rows, dropped := q.rows, q.dropped
	q.rows, q.spare, q.dropped = q.spare[:0], nil, 0
	q.mu.Unlock()
	if dropped > 0 {
		slog.Warn("health checks dropped: the database took none for a while", "dropped", dropped)
	}
	if len(rows) == 0 {
		q.mu.Lock()
		q.spare = rows
		q.mu.Unlock()
		return nil
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO health_checks
			(app, color, container_id, at, success, status_code, response_time_ms, error, starting)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range rows {
			c := r.check
			if _, err := stmt.ExecContext(ctx, r.app, r.color, r.containerID, formatTime(c.At),
				c.Success, c.StatusCode, c.ResponseTimeMS, c.Error, c.Starting); err != nil {
				return err
			}
		}
		return nil
	})
	n := len(rows)
	clear(rows) // no strings kept alive by the spare slice
	q.mu.Lock()
	q.spare = rows[:0]
	q.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write %d health checks: %w", n, err)
	}
	return nil
}

// healthLoop writes the queued checks every HealthFlushInterval, or when a
// batch is full, until stop is closed; then it writes what is left.
func (s *Store) healthLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(HealthFlushInterval)
	defer t.Stop()
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.FlushHealthChecks(ctx); err != nil {
			slog.Warn("write health checks", "err", err)
		}
	}
	for {
		select {
		case <-stop:
			flush()
			return
		case <-t.C:
		case <-s.health.full:
		}
		flush()
	}
}

// HealthChecks returns the newest checks of app's color, newest first, at
// most limit (limit <= 0: no limit). Queued checks are written first.
func (s *Store) HealthChecks(ctx context.Context, app string, color deploy.Color, limit int) ([]deploy.HealthCheck, error) {
	return s.ContainerHealthChecks(ctx, app, color, "", limit)
}

// ContainerHealthChecks returns the newest checks of app's color container
// containerID ("": of any container of the color), newest first, at most
// limit (limit <= 0: no limit). Queued checks are written first.
func (s *Store) ContainerHealthChecks(ctx context.Context, app string, color deploy.Color, containerID string, limit int) ([]deploy.HealthCheck, error) {
	if err := s.FlushHealthChecks(ctx); err != nil {
		slog.Warn("write health checks", "err", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at, success, status_code, response_time_ms, error, starting
		FROM health_checks WHERE app = ? AND color = ? AND (? = '' OR container_id = ?)
		ORDER BY at DESC, id DESC LIMIT ?`, app, color, containerID, containerID, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("health checks of %s-%s: %w", app, color, err)
	}
	defer rows.Close()
	checks := []deploy.HealthCheck{}
	for rows.Next() {
		var c deploy.HealthCheck
		var at string
		if err := rows.Scan(&at, &c.Success, &c.StatusCode, &c.ResponseTimeMS, &c.Error, &c.Starting); err != nil {
			return nil, fmt.Errorf("health checks of %s-%s: %w", app, color, err)
		}
		if c.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("health checks of %s-%s: %w", app, color, err)
		}
		checks = append(checks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("health checks of %s-%s: %w", app, color, err)
	}
	return checks, nil
}

// pruneChunk bounds the rowid range one pruning transaction covers, and so
// what it adds to the WAL: about 8192 rows of the table (some 200 pages)
// and their index entries.
const pruneChunk = 8192

// PruneHealthChecks deletes all but the newest keep checks of every app and
// color and returns how many it deleted.
//
// Rows are stored in insertion order, so the old checks of all apps share
// the table's first pages. The deletion walks those pages once, in rowid
// order, a chunk per transaction with a checkpoint after each, rather than
// app by app (which would rewrite each page once per app whose rows it
// holds) or in one transaction (which put the whole deletion into the WAL
// at once: tens of MB for a hundred apps).
func (s *Store) PruneHealthChecks(ctx context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, fmt.Errorf("prune health checks: keep %d is negative", keep)
	}
	cuts, lo, hi, err := s.pruneCutoffs(ctx, keep)
	if err != nil {
		return 0, fmt.Errorf("prune health checks: %w", err)
	}
	var total int64
	for ; len(cuts) > 0 && lo <= hi; lo += pruneChunk {
		var n int64
		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS prune_cutoffs (
				app TEXT NOT NULL, color TEXT NOT NULL, at TEXT NOT NULL, id INTEGER NOT NULL,
				PRIMARY KEY (app, color)) WITHOUT ROWID`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM temp.prune_cutoffs`); err != nil {
				return err
			}
			for _, c := range cuts {
				if _, err := tx.ExecContext(ctx, `INSERT INTO temp.prune_cutoffs (app, color, at, id) VALUES (?, ?, ?, ?)`,
					c.app, c.color, c.at, c.id); err != nil {
					return err
				}
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM health_checks WHERE id >= ? AND id < ? AND EXISTS (
				SELECT 1 FROM temp.prune_cutoffs c
				WHERE c.app = health_checks.app AND c.color = health_checks.color
					AND (health_checks.at, health_checks.id) <= (c.at, c.id))`, lo, lo+pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune health checks: %w", err)
		}
		total += n
		if err := s.Checkpoint(ctx); err != nil {
			return total, fmt.Errorf("prune health checks: %w", err)
		}
	}
	return total, nil
}

// pruneCutoff is the newest check of an app and color that a prune deletes:
// it and every older one go.
type pruneCutoff struct {
	app, color, at string
	id             int64
}

// pruneCutoffs reads, for every app and color with more than keep checks,
// its cutoff, and the rowid range the deletion covers.
func (s *Store) pruneCutoffs(ctx context.Context, keep int) (cuts []pruneCutoff, lo, hi int64, err error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT app, color FROM health_checks`)
	if err != nil {
		return nil, 0, 0, err
	}
	var pairs [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			rows.Close()
			return nil, 0, 0, err
		}
		pairs = append(pairs, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, 0, err
	}
	for _, p := range pairs {
		c := pruneCutoff{app: p[0], color: p[1]}
		err := tx.QueryRowContext(ctx, `SELECT at, id FROM health_checks WHERE app = ? AND color = ?
			ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`, p[0], p[1], keep).Scan(&c.at, &c.id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue
		case err != nil:
			return nil, 0, 0, err
		}
		// The last row to go may come after the cutoff in rowid order
		// (a check recorded late): the range covers every row to delete.
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT max(id) FROM health_checks WHERE app = ? AND color = ?
			AND (at, id) <= (?, ?)`, c.app, c.color, c.at, c.id).Scan(&last); err != nil {
			return nil, 0, 0, err
		}
		cuts = append(cuts, c)
		hi = max(hi, last)
	}
	if len(cuts) == 0 {
		return nil, 0, 0, nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT min(id) FROM health_checks`).Scan(&lo); err != nil {
		return nil, 0, 0, err
	}
	return cuts, lo, hi, nil
}
