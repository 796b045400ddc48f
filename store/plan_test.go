package store

import (
	"context"
	"strings"
	"testing"
)

// TestStore_queryPlans checks that the hot queries use an index: no full
// table scan and, unless sorting only the matched rows is fine, no sort in a
// temporary b-tree. The queries mirror those the methods run.
func TestStore_queryPlans(t *testing.T) {
	s := newStore(t)
	queries := []struct {
		name, sql string
		args      []any
		sortOK    bool // several index ranges whose rows must be merged
	}{
		{"app", `SELECT ` + appColumns + ` FROM apps WHERE name = ?`, []any{"web"}, false},
		{"containers", `SELECT * FROM containers WHERE app = ?`, []any{"web"}, false},
		{"history", `SELECT ` + deploymentColumns + ` FROM deployments WHERE app = ? ORDER BY id DESC LIMIT ? OFFSET ?`, []any{"web", 10, 0}, false},
		{"by status", `SELECT ` + deploymentColumns + ` FROM deployments WHERE status IN (?, ?) ORDER BY id DESC LIMIT ?`, []any{"queued", "pulling", 10}, true},
		{"phases", `SELECT deployment_id, name FROM deployment_phases WHERE deployment_id IN (SELECT value FROM json_each(?)) ORDER BY deployment_id, seq`, []any{"[1,2]"}, false},
		{"p95", `SELECT duration_ms FROM deployments WHERE status = ? AND kind != ? AND app = ? ORDER BY duration_ms LIMIT 1 OFFSET ?`, []any{"completed", "switch", "web", 3}, false},
		{"health checks", `SELECT at FROM health_checks WHERE app = ? AND color = ? AND (? = '' OR container_id = ?) ORDER BY at DESC, id DESC LIMIT ?`, []any{"web", "blue", "c1", "c1", 20}, false},
		{"events after", `SELECT id FROM events WHERE id > ? AND app = ? ORDER BY id ASC LIMIT ?`, []any{5, "web", 100}, false},
		{"events newest", `SELECT id FROM events WHERE id > ? AND app = ? ORDER BY id DESC LIMIT ?`, []any{0, "web", 100}, false},
		{"all events newest", `SELECT id FROM events WHERE id > ? ORDER BY id DESC LIMIT ?`, []any{0, 100}, false},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q.sql, q.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for _, d := range plan {
				fields := strings.Fields(d)
				fullScan := len(fields) == 2 && fields[0] == "SCAN" && fields[1] != "json_each"
				if fullScan || (!q.sortOK && strings.Contains(d, "TEMP B-TREE")) {
					t.Errorf("plan %q", plan)
					break
				}
			}
		})
	}
}
