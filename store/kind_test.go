package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

// A deployment's kind is stored as created (deploy when none is given),
// and the stats leave switches out.
func TestStore_Kind(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, d := range []deploy.Deployment{
		{App: "web", Kind: deploy.KindConfig, Status: deploy.StatusCompleted, DurationMS: 1000},
		{App: "web", Status: deploy.StatusCompleted, DurationMS: 2000},
		{App: "web", Kind: deploy.KindSwitch, Status: deploy.StatusCompleted, DurationMS: 50},
		{App: "web", Kind: deploy.KindSwitch, Status: deploy.StatusRolledBack, DurationMS: 9000},
		{App: "web", Kind: deploy.KindRollback, Status: deploy.StatusFailed, DurationMS: 300},
	} {
		if err := s.CreateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.ListDeployments(ctx, "web", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []deploy.Kind
	for _, d := range ds {
		kinds = append(kinds, d.Kind)
	}
	want := []deploy.Kind{deploy.KindRollback, deploy.KindSwitch, deploy.KindSwitch, deploy.KindDeploy, deploy.KindConfig}
	if len(kinds) != len(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
	}
	st, err := s.Stats(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if st.Deployments != 3 || st.Completed != 2 || st.Failed != 1 || st.RolledBack != 0 || st.AvgDurationMS != 1500 || st.P95DurationMS != 2000 {
		t.Fatalf("stats %+v: want the 3 deployments that are no switch", st)
	}
	if all, _ := s.Stats(ctx, ""); all.Deployments != 3 {
		t.Fatalf("stats of all apps %+v", all)
	}
	bad := deploy.Deployment{App: "web", Kind: "upgrade", Status: deploy.StatusQueued}
	if err := s.CreateDeployment(ctx, &bad); err == nil {
		t.Fatal("a kind that is none was stored")
	}
}

// A database of the version before 0004 gains the kinds: config by the
// trigger, switch by a first phase of starting, deploy for the rest.
func TestMigration_0004Kinds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", dsn(path, false, DefaultBusyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var before []Migration
	for _, m := range ms {
		if m.Version < 4 {
			before = append(before, m)
		}
	}
	if err := applyMigrations(ctx, db, before); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO deployments (id, app, trigger_source, status, started_at) VALUES
			(1, 'web', 'config', 'completed', '2025-06-30T10:00:00.000000000Z'),
			(2, 'web', 'manual', 'completed', '2025-06-30T10:01:00.000000000Z'),
			(3, 'web', 'manual', 'completed', '2025-06-30T10:02:00.000000000Z'),
			(4, 'web', 's3dock', 'queued', '2025-06-30T10:03:00.000000000Z')`,
		`INSERT INTO deployment_phases (deployment_id, seq, name, started_at) VALUES
			(1, 0, 'pulling', '2025-06-30T10:00:00.000000000Z'),
			(2, 0, 'pulling', '2025-06-30T10:01:00.000000000Z'),
			(3, 0, 'starting', '2025-06-30T10:02:00.000000000Z')`,
		`INSERT INTO health_checks (app, color, container_id, at, success) VALUES ('web', 'blue', 'c1', '2025-06-30T10:00:00.000000000Z', 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[int64]deploy.Kind{1: deploy.KindConfig, 2: deploy.KindDeploy, 3: deploy.KindSwitch, 4: deploy.KindDeploy}
	for id, kind := range want {
		d, err := s.GetDeployment(ctx, id)
		if err != nil || d.Kind != kind {
			t.Errorf("deployment %d: kind %q, %v; want %q", id, d.Kind, err, kind)
		}
	}
	checks, err := s.HealthChecks(ctx, "web", deploy.Blue, 0)
	if err != nil || len(checks) != 1 || checks[0].Starting {
		t.Fatalf("the old check %+v, %v: want kept, not starting", checks, err)
	}
}

// Health checks keep their starting mark and their container: a color's
// checks can be read for its current container only.
func TestStore_ContainerHealthChecks(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, c := range []struct {
		id    string
		check deploy.HealthCheck
	}{
		{"old", deploy.HealthCheck{Error: "status 500"}},
		{"new", deploy.HealthCheck{Error: "connection reset by peer", Starting: true}},
		{"new", deploy.HealthCheck{Success: true, StatusCode: 200}},
	} {
		if err := s.AddHealthCheck(ctx, "web", deploy.Green, c.id, c.check); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ContainerHealthChecks(ctx, "web", deploy.Green, "new", 0)
	if err != nil || len(got) != 2 || !got[0].Success || !got[1].Starting || got[1].Error != "connection reset by peer" {
		t.Fatalf("the new container's checks %+v, %v", got, err)
	}
	if all, _ := s.ContainerHealthChecks(ctx, "web", deploy.Green, "", 0); len(all) != 3 || all[2].Starting {
		t.Fatalf("every check of green %+v", all)
	}
	if none, _ := s.ContainerHealthChecks(ctx, "web", deploy.Green, "gone", 0); len(none) != 0 {
		t.Fatalf("checks of a container never checked %+v", none)
	}
}
