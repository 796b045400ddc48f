package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/bluegreen/bluegreen/deploy"
	"time"
)

// AppState is the last known state of one app.
type AppState struct {
	Name         string
	ActiveColor  deploy.Color // "" when no color is active
	CurrentImage string
	DesiredImage string
	Status       deploy.State // as last recorded
	Error        string       // why the app is failed or degraded
	UpdatedAt    time.Time
}

// GetApp returns the state of the app name, or an error wrapping ErrNotFound.
func (s *Store) GetApp(ctx context.Context, name string) (AppState, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE name = ?`, name)
	a, err := scanApp(row)
	if errors.Is(err, sql.ErrNoRows) {
		return AppState{}, fmt.Errorf("app %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return AppState{}, fmt.Errorf("get app %q: %w", name, err)
	}
	return a, nil
}

// PutApp inserts or replaces the state of a.Name. A zero UpdatedAt is
// stamped with s.Now.
func (s *Store) PutApp(ctx context.Context, a AppState) error {
	if a.Name == "" {
		return errors.New("put app: empty name")
	}
	if a.ActiveColor != "" && !a.ActiveColor.Valid() {
		return fmt.Errorf("put app %q: invalid active color %q", a.Name, a.ActiveColor)
	}
	_, err := s.exec(ctx, `INSERT INTO apps (name, active_color, current_image, desired_image, status, error, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET
			active_color = excluded.active_color,
			current_image = excluded.current_image,
			desired_image = excluded.desired_image,
			status = excluded.status,
			error = excluded.error,
			updated_at = excluded.updated_at`,
		a.Name, a.ActiveColor, a.CurrentImage, a.DesiredImage, a.Status, a.Error, formatTime(s.stampOr(a.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("put app %q: %w", a.Name, err)
	}
	return nil
}

// ListApps returns the state of every app, sorted by name.
func (s *Store) ListApps(ctx context.Context) ([]AppState, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+appColumns+` FROM apps ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	apps := []AppState{}
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

const appColumns = `name, active_color, current_image, desired_image, status, error, updated_at`

func scanApp(sc scanner) (AppState, error) {
	var a AppState
	var updated string
	if err := sc.Scan(&a.Name, &a.ActiveColor, &a.CurrentImage, &a.DesiredImage, &a.Status, &a.Error, &updated); err != nil {
		return AppState{}, err
	}
	var err error
	a.UpdatedAt, err = parseTime(updated)
	return a, err
}
