package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// AddHealthCheck records one health check of app's color container
// containerID. A zero c.At is stamped with s.Now.
func (s *Store) AddHealthCheck(ctx context.Context, app string, color deploy.Color, containerID string, c deploy.HealthCheck) error {
	if app == "" {
		return errors.New("add health check: empty app")
	}
	if !color.Valid() {
		return fmt.Errorf("add health check of %s: invalid color %q", app, color)
	}
	_, err := s.exec(ctx, `INSERT INTO health_checks
		(app, color, container_id, at, success, status_code, response_time_ms, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		app, color, containerID, formatTime(s.stampOr(c.At)), c.Success, c.StatusCode, c.ResponseTimeMS, c.Error)
	if err != nil {
		return fmt.Errorf("add health check of %s-%s: %w", app, color, err)
	}
	return nil
}

// HealthChecks returns the newest checks of app's color, newest first, at
// most limit (limit <= 0: no limit).
func (s *Store) HealthChecks(ctx context.Context, app string, color deploy.Color, limit int) ([]deploy.HealthCheck, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, success, status_code, response_time_ms, error
		FROM health_checks WHERE app = ? AND color = ?
		ORDER BY at DESC, id DESC LIMIT ?`, app, color, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("health checks of %s-%s: %w", app, color, err)
	}
	defer rows.Close()
	checks := []deploy.HealthCheck{}
	for rows.Next() {
		var c deploy.HealthCheck
		var at string
		if err := rows.Scan(&at, &c.Success, &c.StatusCode, &c.ResponseTimeMS, &c.Error); err != nil {
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

// PruneHealthChecks deletes all but the newest keep checks of every app and
// color and returns how many it deleted.
func (s *Store) PruneHealthChecks(ctx context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, fmt.Errorf("prune health checks: keep %d is negative", keep)
	}
	res, err := s.exec(ctx, `DELETE FROM health_checks WHERE id IN (
		SELECT id FROM (
			SELECT id, row_number() OVER (PARTITION BY app, color ORDER BY at DESC, id DESC) AS n
			FROM health_checks
		) WHERE n > ?)`, keep)
	if err != nil {
		return 0, fmt.Errorf("prune health checks: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune health checks: %w", err)
	}
	return n, nil
}
