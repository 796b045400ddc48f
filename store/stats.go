package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/bluegreen/bluegreen/deploy"
)

// Stats summarises app's deployment history (app "" means all apps):
// Deployments counts all of them; SuccessRate is completed / (completed +
// failed + rolled back), 0 when there are none; AvgDurationMS (rounded) and
// P95DurationMS (nearest rank) are over completed deployments.
func (s *Store) Stats(ctx context.Context, app string) (deploy.Stats, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return deploy.Stats{}, fmt.Errorf("stats of %s: %w", app, err)
	}
	defer tx.Rollback()

	where, args := "", []any{deploy.StatusCompleted, deploy.StatusFailed, deploy.StatusRolledBack, deploy.StatusCompleted}
	if app != "" {
		where, args = "WHERE app = ?", append(args, app)
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
	where, args = "WHERE status = ?", []any{deploy.StatusCompleted}
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
