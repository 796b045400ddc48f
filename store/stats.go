package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sync"

	"github.com/bluegreen/bluegreen/deploy"
)

// historyCache keeps, per app, what GET /api/apps shows of its history
// (Stats and the last finished deployment), so that listing a hundred apps
// costs no query per app: they change only when a deployment of the app is
// written, which bumps the app's version and so invalidates the entry. A
// reader tags what it read with the version it saw before reading; a
// writer bumps the version after its commit, so an entry never holds data
// older than its tag.
type historyCache struct {
	mu      sync.Mutex
	version map[string]uint64 // per app; absent: 0
	all     uint64            // bumped by writes whose app is unknown
	entries map[string]historyEntry
}

type historyEntry struct {
	version, all uint64
	stats        *deploy.Stats
	last         *deploy.Deployment // nil: none finished
	lastRead     bool
}

// versionOf returns app's version and the global one.
func (h *historyCache) versionOf(app string) (uint64, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.version[app], h.all
}

// changed marks app's history as changed ("" : any app's).
func (h *historyCache) changed(app string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if app == "" {
		h.all++
		return
	}
	if h.version == nil {
		h.version = map[string]uint64{}
	}
	h.version[app]++
}

// get returns app's entry if it is of versions v and all.
func (h *historyCache) get(app string, v, all uint64) (historyEntry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.entries[app]
	return e, ok && e.version == v && e.all == all
}

// put stores what was read at versions v and all, merged into an entry of
// the same versions.
func (h *historyCache) put(app string, v, all uint64, fill func(*historyEntry)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.version[app] != v || h.all != all {
		return // changed meanwhile: not worth keeping
	}
	if h.entries == nil {
		h.entries = map[string]historyEntry{}
	}
	e, ok := h.entries[app]
	if !ok || e.version != v || e.all != all {
		e = historyEntry{version: v, all: all}
	}
	fill(&e)
	h.entries[app] = e
}

// Stats summarises app's deployment history (app "" means all apps),
// leaving manual switches out (deploy.KindSwitch: they deploy nothing):
// Deployments counts all the others; SuccessRate is completed / (completed +
// failed + rolled back), 0 when there are none; AvgDurationMS (rounded) and
// P95DurationMS (nearest rank) are over completed deployments. An app's
// stats are kept until one of its deployments is written.
func (s *Store) Stats(ctx context.Context, app string) (deploy.Stats, error) {
	if app == "" {
		return s.stats(ctx, "")
	}
	v, all := s.history.versionOf(app)
	if e, ok := s.history.get(app, v, all); ok && e.stats != nil {
		return *e.stats, nil
	}
	st, err := s.stats(ctx, app)
	if err != nil {
		return st, err
	}
	s.history.put(app, v, all, func(e *historyEntry) { e.stats = &st })
	return st, nil
}

// LastFinished returns app's newest deployment in a final status, nil when
// none ended yet. It is kept until one of app's deployments is written;
// callers must not modify it.
func (s *Store) LastFinished(ctx context.Context, app string) (*deploy.Deployment, error) {
	v, all := s.history.versionOf(app)
	if e, ok := s.history.get(app, v, all); ok && e.lastRead {
		return e.last, nil
	}
	ds, err := s.DeploymentsByStatus(ctx, app, deploy.FinalStatuses, 1)
	if err != nil {
		return nil, err
	}
	var last *deploy.Deployment
	if len(ds) > 0 {
		last = &ds[0]
	}
	s.history.put(app, v, all, func(e *historyEntry) { e.last, e.lastRead = last, true })
	return last, nil
}

func (s *Store) stats(ctx context.Context, app string) (deploy.Stats, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return deploy.Stats{}, fmt.Errorf("stats of %s: %w", app, err)
	}
	defer tx.Rollback()

	where, args := "WHERE kind != ?", []any{deploy.StatusCompleted, deploy.StatusFailed, deploy.StatusRolledBack, deploy.StatusCompleted, deploy.KindSwitch}
	if app != "" {
		where, args = where+" AND app = ?", append(args, app)
	}
	var st deploy.Stats
	var avg sql.NullFloat64
	err = tx.QueryRowContext(ctx, `SELECT
			count(*),
			count(*) FILTER (WHERE status = ?),
			count(*) FILTER (WHERE status = ?),
			count(*) FILTER (WHERE status = ?),
			avg(duration_ms) FILTER (WHERE status = ?)
		FROM deployments `+where, args...,
	).Scan(&st.Deployments, &st.Completed, &st.Failed, &st.RolledBack, &avg)
	if err != nil {
		return deploy.Stats{}, fmt.Errorf("stats of %s: %w", app, err)
	}
	if ended := st.Completed + st.Failed + st.RolledBack; ended > 0 {
		st.SuccessRate = float64(st.Completed) / float64(ended)
	}
	if st.Completed == 0 {
		return st, nil
	}
	st.AvgDurationMS = int64(math.Round(avg.Float64))

	// Nearest rank: the ceil(0.95 n)-th smallest duration.
	rank := int(math.Ceil(0.95 * float64(st.Completed)))
	where, args = "WHERE status = ? AND kind != ?", []any{deploy.StatusCompleted, deploy.KindSwitch}
	if app != "" {
		where, args = where+" AND app = ?", append(args, app)
	}
	err = tx.QueryRowContext(ctx, `SELECT duration_ms FROM deployments `+where+`
		ORDER BY duration_ms LIMIT 1 OFFSET ?`, append(args, rank-1)...,
	).Scan(&st.P95DurationMS)
	if err != nil {
		return deploy.Stats{}, fmt.Errorf("stats of %s: p95: %w", app, err)
	}
	return st, nil
}
