package store

import (
	"context"
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// DeployedImage is an image that deployments of an app used.
type DeployedImage struct {
	Image            string   // as the deployments named it
	LastDeploymentID int64    // the app's newest deployment of it
	OtherApps        []string // other apps whose deployments used it too, sorted
}

// DeployedImages returns the images app's deployments used, newest (by
// LastDeploymentID) first. A deployment that never began (queued,
// superseded) used nothing. The result is never nil.
func (s *Store) DeployedImages(ctx context.Context, app string) ([]DeployedImage, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("deployed images of %s: %w", app, err)
	}
	defer tx.Rollback()
	unused := []any{deploy.StatusQueued, deploy.StatusSuperseded}

	rows, err := tx.QueryContext(ctx, `SELECT to_image, max(id) AS last FROM deployments
		WHERE app = ? AND to_image <> '' AND status NOT IN (?, ?)
		GROUP BY to_image ORDER BY last DESC`, append([]any{app}, unused...)...)
	if err != nil {
		return nil, fmt.Errorf("deployed images of %s: %w", app, err)
	}
	out := []DeployedImage{}
	index := map[string]int{}
	for rows.Next() {
		var im DeployedImage
		if err := rows.Scan(&im.Image, &im.LastDeploymentID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("deployed images of %s: %w", app, err)
		}
		index[im.Image] = len(out)
		out = append(out, im)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deployed images of %s: %w", app, err)
	}

	rows, err = tx.QueryContext(ctx, `SELECT DISTINCT to_image, app FROM deployments
		WHERE app <> ? AND status NOT IN (?, ?)
		  AND to_image IN (SELECT to_image FROM deployments WHERE app = ?)
		ORDER BY to_image, app`, append(append([]any{app}, unused...), app)...)
	if err != nil {
		return nil, fmt.Errorf("images of %s deployed by other apps: %w", app, err)
	}
	defer rows.Close()
	for rows.Next() {
		var image, other string
		if err := rows.Scan(&image, &other); err != nil {
			return nil, fmt.Errorf("images of %s deployed by other apps: %w", app, err)
		}
		if i, ok := index[image]; ok {
			out[i].OtherApps = append(out[i].OtherApps, other)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("images of %s deployed by other apps: %w", app, err)
	}
	return out, nil
}
