package store

import (
	"context"
	"fmt"
	"github.com/bluegreen/bluegreen/deploy"
	"time"
)

// Container is the container of one app and color as the supervisor last
// saw it.
type Container struct {
	App          string
	Color        deploy.Color
	ID           string
	Image        string
	DeploymentID int64  // the deployment that created it; 0 when unknown
	State        string // created, running, stopped, removed, ...
	UpdatedAt    time.Time
}

// PutContainer inserts or replaces the container of (c.App, c.Color). A zero
// UpdatedAt is stamped with s.Now.
func (s *Store) PutContainer(ctx context.Context, c Container) error {
	if c.App == "" {
		return fmt.Errorf("put container: empty app")
	}
	if !c.Color.Valid() {
		return fmt.Errorf("put container %s: invalid color %q", c.App, c.Color)
	}
	_, err := s.exec(ctx, `INSERT INTO containers (app, color, container_id, image, deployment_id, state, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app, color) DO UPDATE SET
			container_id = excluded.container_id,
			image = excluded.image,
			deployment_id = excluded.deployment_id,
			state = excluded.state,
			updated_at = excluded.updated_at`,
		c.App, c.Color, c.ID, c.Image, c.DeploymentID, c.State, formatTime(s.stampOr(c.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("put container %s-%s: %w", c.App, c.Color, err)
	}
	return nil
}

// DeleteContainer forgets the container of (app, color). Deleting one that
// is not there is not an error.
func (s *Store) DeleteContainer(ctx context.Context, app string, color deploy.Color) error {
	if _, err := s.exec(ctx, `DELETE FROM containers WHERE app = ? AND color = ?`, app, color); err != nil {
		return fmt.Errorf("delete container %s-%s: %w", app, color, err)
	}
	return nil
}

// Containers returns the containers of app keyed by color; the map is empty,
// not nil, when there are none.
func (s *Store) Containers(ctx context.Context, app string) (map[deploy.Color]Container, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT app, color, container_id, image, deployment_id, state, updated_at
		FROM containers WHERE app = ?`, app)
	if err != nil {
		return nil, fmt.Errorf("containers of %s: %w", app, err)
	}
	defer rows.Close()
	cs := map[deploy.Color]Container{}
	for rows.Next() {
		var c Container
		var updated string
		if err := rows.Scan(&c.App, &c.Color, &c.ID, &c.Image, &c.DeploymentID, &c.State, &updated); err != nil {
			return nil, fmt.Errorf("containers of %s: %w", app, err)
		}
		if c.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("containers of %s: %w", app, err)
		}
		cs[c.Color] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("containers of %s: %w", app, err)
	}
	return cs, nil
}
