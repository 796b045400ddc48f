package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init.sql" {
		t.Fatalf("first migration = %+v, want 0001_init.sql", ms)
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %s has version %d, want %d (no gaps)", m.Name, m.Version, i+1)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []string // names in order, or
		err   string
	}{
		{
			name: "sorted by version, other files ignored",
			files: fstest.MapFS{
				"m/0010_ten.sql": {Data: []byte("x")},
				"m/0002_two.sql": {Data: []byte("x")},
				"m/README.md":    {Data: []byte("x")},
			},
			want: []string{"0002_two.sql", "0010_ten.sql"},
		},
		{
			name:  "bad name",
			files: fstest.MapFS{"m/init.sql": {Data: []byte("x")}},
			err:   "must be NNNN_name.sql",
		},
		{
			name: "duplicate version",
			files: fstest.MapFS{
				"m/0001_a.sql": {Data: []byte("x")},
				"m/001_b.sql":  {Data: []byte("x")},
			},
			err: "already used",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files, "m")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Errorf("names = %v, want %v", names, tt.want)
			}
		})
	}
}

// openRaw opens a plain writer connection to a fresh file.
func openRaw(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(filepath.Join(t.TempDir(), "m.db"), false, DefaultBusyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestApplyMigrations(t *testing.T) {
	ctx := context.Background()
	one := Migration{Version: 1, Name: "0001_a.sql", SQL: "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);"}
	two := Migration{Version: 2, Name: "0002_b.sql", SQL: "CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (2);"}

	t.Run("each once, in order, recorded", func(t *testing.T) {
		db := openRaw(t)
		if err := applyMigrations(ctx, db, []Migration{one}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := applyMigrations(ctx, db, []Migration{one, two}); err != nil {
				t.Fatal(err)
			}
		}
		var rows, recorded int
		if err := db.QueryRow(`SELECT count(*) FROM a`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if rows != 2 || recorded != 2 {
			t.Errorf("rows in a = %d, recorded = %d; want 2 and 2 (each migration ran once)", rows, recorded)
		}
	})

	t.Run("a failing migration leaves nothing behind", func(t *testing.T) {
		db := openRaw(t)
		bad := Migration{Version: 2, Name: "0002_bad.sql", SQL: "CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1);"}
		err := applyMigrations(ctx, db, []Migration{one, bad})
		if err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
			t.Fatalf("err = %v, want one naming 0002_bad.sql", err)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'b'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("table b of the failed migration exists")
		}
		if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 1 {
			t.Errorf("recorded = %d (%v), want 1", n, err)
		}
	})

	t.Run("a renamed shipped migration is an error", func(t *testing.T) {
		db := openRaw(t)
		if err := applyMigrations(ctx, db, []Migration{one}); err != nil {
			t.Fatal(err)
		}
		renamed := one
		renamed.Name = "0001_renamed.sql"
		err := applyMigrations(ctx, db, []Migration{renamed})
		if err == nil || !strings.Contains(err.Error(), "was applied as 0001_a.sql") {
			t.Fatalf("err = %v", err)
		}
	})
}
