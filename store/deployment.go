package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// CreateDeployment inserts d with its phases and sets d.DeploymentID. A zero
// d.StartedAt is set to s.Now, an empty d.Status to deploy.StatusQueued and
// an empty d.Kind to deploy.KindDeploy.
func (s *Store) CreateDeployment(ctx context.Context, d *deploy.Deployment) error {
	if d.App == "" {
		return errors.New("create deployment: empty app")
	}
	if d.StartedAt.IsZero() {
		d.StartedAt = s.now()
	}
	if d.Status == "" {
		d.Status = deploy.StatusQueued
	}
	if d.Kind == "" {
		d.Kind = deploy.KindDeploy
	}
	logs, err := marshalLogs(d.Logs)
	if err != nil {
		return fmt.Errorf("create deployment of %s: %w", d.App, err)
	}
	verification, err := marshalVerification(d.Verification)
	if err != nil {
		return fmt.Errorf("create deployment of %s: %w", d.App, err)
	}
	var id int64
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO deployments
			(app, from_image, to_image, color, trigger_source, status, error, logs, started_at, completed_at, duration_ms, kind, verification)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.App, d.FromImage, d.ToImage, d.Color, d.TriggerSource, d.Status, d.Error, logs,
			formatTime(d.StartedAt), nullTime(d.CompletedAt), d.DurationMS, d.Kind, verification)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		return insertPhases(ctx, tx, id, d.Phases)
	})
	if err != nil {
		return fmt.Errorf("create deployment of %s: %w", d.App, err)
	}
	s.history.changed(d.App)
	d.DeploymentID = id
	return nil
}

// UpdateDeployment writes d's status, error, logs, color, from and to image,
// completed_at, duration_ms and verification, and replaces its phases with d.Phases. App,
// trigger source, kind and start time stay as created. An unknown
// d.DeploymentID is an error wrapping ErrNotFound.
func (s *Store) UpdateDeployment(ctx context.Context, d *deploy.Deployment) error {
	logs, err := marshalLogs(d.Logs)
	if err != nil {
		return fmt.Errorf("update deployment %d: %w", d.DeploymentID, err)
	}
	verification, err := marshalVerification(d.Verification)
	if err != nil {
		return fmt.Errorf("update deployment %d: %w", d.DeploymentID, err)
	}
	// Whatever the outcome, the app's cached history (stats.go) may be
	// stale now: the commit may have happened before an error came back.
	app := d.App
	defer func() { s.history.changed(app) }()
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE deployments SET
			status = ?, error = ?, logs = ?, color = ?, from_image = ?, to_image = ?, completed_at = ?, duration_ms = ?, verification = ?
			WHERE id = ? RETURNING app`,
			d.Status, d.Error, logs, d.Color, d.FromImage, d.ToImage, nullTime(d.CompletedAt), d.DurationMS, verification, d.DeploymentID).Scan(&app)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM deployment_phases WHERE deployment_id = ?`, d.DeploymentID); err != nil {
			return err
		}
		return insertPhases(ctx, tx, d.DeploymentID, d.Phases)
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("deployment %d: %w", d.DeploymentID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("update deployment %d: %w", d.DeploymentID, err)
	}
	return nil
}

// GetDeployment returns the deployment id with its phases, or an error
// wrapping ErrNotFound.
func (s *Store) GetDeployment(ctx context.Context, id int64) (deploy.Deployment, error) {
	ds, err := s.queryDeployments(ctx, `WHERE id = ?`, id)
	if err != nil {
		return deploy.Deployment{}, fmt.Errorf("get deployment %d: %w", id, err)
	}
	if len(ds) == 0 {
		return deploy.Deployment{}, fmt.Errorf("deployment %d: %w", id, ErrNotFound)
	}
	return ds[0], nil
}

// ListDeployments returns app's deployments with their phases, newest
// (highest id) first, skipping offset and returning at most limit; limit <= 0
// means no limit.
func (s *Store) ListDeployments(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error) {
	ds, err := s.queryDeployments(ctx, `WHERE app = ? ORDER BY id DESC LIMIT ? OFFSET ?`, app, sqlLimit(limit), max(offset, 0))
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s: %w", app, err)
	}
	return ds, nil
}

// DeploymentsByStatus returns the deployments whose status is one of
// statuses, newest first, at most limit (limit <= 0: no limit); app ""
// means all apps. No statuses match nothing.
func (s *Store) DeploymentsByStatus(ctx context.Context, app string, statuses []deploy.Status, limit int) ([]deploy.Deployment, error) {
	if len(statuses) == 0 {
		return []deploy.Deployment{}, nil
	}
	var where strings.Builder
	args := make([]any, 0, len(statuses)+2)
	where.WriteString("WHERE status IN (?" + strings.Repeat(", ?", len(statuses)-1) + ")")
	for _, st := range statuses {
		args = append(args, st)
	}
	if app != "" {
		where.WriteString(" AND app = ?")
		args = append(args, app)
	}
	where.WriteString(" ORDER BY id DESC LIMIT ?")
	args = append(args, sqlLimit(limit))
	ds, err := s.queryDeployments(ctx, where.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("deployments by status: %w", err)
	}
	return ds, nil
}

const deploymentColumns = `id, app, from_image, to_image, color, trigger_source, status, error, logs, started_at, completed_at, duration_ms, kind, verification`

// queryDeployments selects deployments by the SQL tail rest (WHERE ...
// ORDER BY ...) and loads their phases, all in one read transaction so they
// match. The result is never nil.
func (s *Store) queryDeployments(ctx context.Context, rest string, args ...any) ([]deploy.Deployment, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT `+deploymentColumns+` FROM deployments `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ds := []deploy.Deployment{}
	index := map[int64]int{}
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, err
		}
		index[d.DeploymentID] = len(ds)
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(ds) == 0 {
		return ds, nil
	}

	ids := make([]any, len(ds))
	for i, d := range ds {
		ids[i] = d.DeploymentID
	}
	prows, err := tx.QueryContext(ctx, `SELECT deployment_id, name, started_at, duration_ms, error
		FROM deployment_phases WHERE deployment_id IN (SELECT value FROM json_each(?))
		ORDER BY deployment_id, seq`, idsJSON(ids))
	if err != nil {
		return nil, fmt.Errorf("phases: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var id int64
		var p deploy.Phase
		var started string
		if err := prows.Scan(&id, &p.Name, &started, &p.DurationMS, &p.Error); err != nil {
			return nil, fmt.Errorf("phases: %w", err)
		}
		if p.StartedAt, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("phases: %w", err)
		}
		i := index[id]
		ds[i].Phases = append(ds[i].Phases, p)
	}
	if err := prows.Err(); err != nil {
		return nil, fmt.Errorf("phases: %w", err)
	}
	return ds, nil
}

func scanDeployment(sc scanner) (deploy.Deployment, error) {
	var d deploy.Deployment
	var logs, started string
	var completed, verification sql.NullString
	if err := sc.Scan(&d.DeploymentID, &d.App, &d.FromImage, &d.ToImage, &d.Color, &d.TriggerSource,
		&d.Status, &d.Error, &logs, &started, &completed, &d.DurationMS, &d.Kind, &verification); err != nil {
		return deploy.Deployment{}, err
	}
	if verification.Valid {
		d.Verification = &deploy.Verification{}
		if err := json.Unmarshal([]byte(verification.String), d.Verification); err != nil {
			return deploy.Deployment{}, fmt.Errorf("deployment %d: verification: %w", d.DeploymentID, err)
		}
	}
	if err := json.Unmarshal([]byte(logs), &d.Logs); err != nil {
		return deploy.Deployment{}, fmt.Errorf("deployment %d: logs: %w", d.DeploymentID, err)
	}
	if d.Logs == nil {
		d.Logs = []string{}
	}
	var err error
	if d.StartedAt, err = parseTime(started); err != nil {
		return deploy.Deployment{}, fmt.Errorf("deployment %d: %w", d.DeploymentID, err)
	}
	if completed.Valid {
		t, err := parseTime(completed.String)
		if err != nil {
			return deploy.Deployment{}, fmt.Errorf("deployment %d: %w", d.DeploymentID, err)
		}
		d.CompletedAt = &t
	}
	d.Phases = []deploy.Phase{}
	return d, nil
}

// insertPhases writes phases of deployment id in order.
func insertPhases(ctx context.Context, tx *sql.Tx, id int64, phases []deploy.Phase) error {
	if len(phases) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO deployment_phases (deployment_id, seq, name, started_at, duration_ms, error)
		VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("phases: %w", err)
	}
	defer stmt.Close()
	for i, p := range phases {
		if _, err := stmt.ExecContext(ctx, id, i, p.Name, formatTime(p.StartedAt), p.DurationMS, p.Error); err != nil {
			return fmt.Errorf("phase %q: %w", p.Name, err)
		}
	}
	return nil
}

// marshalLogs renders logs as a JSON array; nil is [].
func marshalLogs(logs []string) (string, error) {
	if logs == nil {
		return "[]", nil
	}
	b, err := json.Marshal(logs)
	if err != nil {
		return "", fmt.Errorf("logs: %w", err)
	}
	return string(b), nil
}

// marshalVerification renders a verification as JSON; nil is NULL.
func marshalVerification(v *deploy.Verification) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("verification: %w", err)
	}
	return string(b), nil
}

// nullTime stores a missing time as NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// idsJSON renders ids as a JSON array for json_each, one parameter however
// many ids there are.
func idsJSON(ids []any) string {
	b, _ := json.Marshal(ids) // int64s always marshal
	return string(b)
}

// sqlLimit turns "limit <= 0 means no limit" into SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}
