package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// PutTraffic stores the traffic mode of app (docs/traffic.md): what a
// restarted serve, or the process an upgrade starts, holds from its start.
// A zero t.Since is stamped with s.Now; durations are kept in whole
// milliseconds.
func (s *Store) PutTraffic(ctx context.Context, app string, t deploy.TrafficState) error {
	if app == "" {
		return errors.New("put traffic: empty app")
	}
	mode := t.Mode
	if mode == "" {
		mode = deploy.TrafficServing
	}
	if !mode.Valid() {
		return fmt.Errorf("put traffic of %s: invalid mode %q", app, mode)
	}
	if t.MaxWait < 0 || t.RetryAfter < 0 {
		return fmt.Errorf("put traffic of %s: negative duration (max_wait %s, retry_after %s)", app, t.MaxWait, t.RetryAfter)
	}
	_, err := s.exec(ctx, `INSERT INTO app_traffic (app, mode, since, max_wait_ms, message, retry_after_ms)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (app) DO UPDATE SET
			mode = excluded.mode,
			since = excluded.since,
			max_wait_ms = excluded.max_wait_ms,
			message = excluded.message,
			retry_after_ms = excluded.retry_after_ms`,
		app, mode, formatTime(s.stampOr(t.Since)), t.MaxWait.Milliseconds(), t.Message, t.RetryAfter.Milliseconds())
	if err != nil {
		return fmt.Errorf("put traffic of %s: %w", app, err)
	}
	return nil
}

// Traffic returns the stored traffic mode of app; for an app that has none
// stored, the zero TrafficState (it serves, and always has).
func (s *Store) Traffic(ctx context.Context, app string) (deploy.TrafficState, error) {
	var (
		t                   deploy.TrafficState
		since               string
		maxWait, retryAfter int64
	)
	err := s.r.QueryRowContext(ctx, `SELECT mode, since, max_wait_ms, message, retry_after_ms
		FROM app_traffic WHERE app = ?`, app).Scan(&t.Mode, &since, &maxWait, &t.Message, &retryAfter)
	if errors.Is(err, sql.ErrNoRows) {
		return deploy.TrafficState{}, nil
	}
	if err != nil {
		return deploy.TrafficState{}, fmt.Errorf("traffic of %s: %w", app, err)
	}
	if t.Since, err = parseTime(since); err != nil {
		return deploy.TrafficState{}, fmt.Errorf("traffic of %s: %w", app, err)
	}
	t.MaxWait = time.Duration(maxWait) * time.Millisecond
	t.RetryAfter = time.Duration(retryAfter) * time.Millisecond
	return t, nil
}
