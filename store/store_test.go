package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// newStore opens a store on a fresh file in a temporary folder, with a clock
// that starts at a fixed time and advances one second per call.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state", "bluegreen.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s.Now = newClock(t0)
	return s
}

// querier is what the writer and reader pools share, for pragma checks.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// t0 is the start of test clocks; not UTC on purpose, to see it stored as UTC.
var t0 = time.Date(2025, 6, 30, 12, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))

// newClock returns a Now that starts at start and advances a second per call.
func newClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	next := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(time.Second)
		return t
	}
}

func TestOpen(t *testing.T) {
	t.Run("creates the file and its folders and sets the pragmas", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "bluegreen.db")
		s, err := Open(path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database file: %v", err)
		}
		ctx := context.Background()
		checks := []struct{ pragma, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "5000"},
			{"synchronous", "1"}, // NORMAL
			{"wal_autocheckpoint", "0"},
		}
		for name, db := range map[string]querier{"writer": s.w, "reader": s.r} {
			for _, c := range checks {
				var got string
				if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
					t.Fatalf("%s: PRAGMA %s: %v", name, c.pragma, err)
				}
				if got != c.want {
					t.Errorf("%s: PRAGMA %s = %q, want %q", name, c.pragma, got, c.want)
				}
			}
		}
		var qo string
		if err := s.r.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
			t.Errorf("reader query_only = %q (%v), want 1", qo, err)
		}
	})

	t.Run("a path with URI characters is taken literally", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "odd dir?x=1#frag%20")
		path := filepath.Join(dir, "state.db")
		s, err := Open(path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if err := s.PutApp(context.Background(), AppState{Name: "web"}); err != nil {
			t.Fatalf("PutApp: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database not at the literal path: %v", err)
		}
	})

	t.Run("errors name the file and why", func(t *testing.T) {
		dir := t.TempDir()
		notDB := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 100)), 0o644); err != nil {
			t.Fatal(err)
		}
		fileAsDir := filepath.Join(dir, "file")
		if err := os.WriteFile(fileAsDir, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, path, want string
		}{
			{"not a database", notDB, "not a SQLite database"},
			{"a directory", dir, "is a directory"},
			{"parent is a file", filepath.Join(fileAsDir, "x.db"), "create folder"},
			{"empty", "", "empty path"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := Open(tt.path)
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.Contains(err.Error(), "open database "+tt.path) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not name %q and say %q", err, tt.path, tt.want)
				}
			})
		}
	})
}

func TestStore_Close(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "bluegreen.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.ListApps(context.Background()); err == nil {
		t.Fatal("ListApps after Close succeeded")
	}
}

func TestStore_reopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	d := &deploy.Deployment{App: "web", ToImage: "web:v1"}
	if err := s.PutApp(ctx, AppState{Name: "web", Status: deploy.AppStable}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		s, err = Open(path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		a, err := s.GetApp(ctx, "web")
		if err != nil || a.Status != deploy.AppStable {
			t.Fatalf("reopen %d: GetApp = %+v, %v", i, a, err)
		}
		got, err := s.GetDeployment(ctx, d.DeploymentID)
		if err != nil || got.ToImage != "web:v1" {
			t.Fatalf("reopen %d: GetDeployment = %+v, %v", i, got, err)
		}
		var n int
		if err := s.r.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		ms, _ := Migrations()
		if n != len(ms) {
			t.Errorf("reopen %d: %d migrations recorded, want %d", i, n, len(ms))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStore_concurrentWriters has 20 goroutines, like 20 app actors, write
// and read at once; under -race this also checks the Store's own state.
func TestStore_concurrentWriters(t *testing.T) {
	for _, l := range poolLayouts {
		t.Run(l.name, func(t *testing.T) {
			s, err := open(filepath.Join(t.TempDir(), "bluegreen.db"), l.o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			testConcurrentWriters(t, s)
		})
	}
}

func testConcurrentWriters(t *testing.T, s *Store) {
	ctx := context.Background()
	const writers, rounds = 20, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := fmt.Sprintf("app%02d", w)
			errs <- func() error {
				for i := range rounds {
					if err := s.PutApp(ctx, AppState{Name: app, Status: deploy.AppDeploying, CurrentImage: fmt.Sprint(i)}); err != nil {
						return err
					}
					d := &deploy.Deployment{App: app, ToImage: fmt.Sprintf("%s:%d", app, i), Status: deploy.StatusPulling}
					if err := s.CreateDeployment(ctx, d); err != nil {
						return err
					}
					d.Status = deploy.StatusCompleted
					d.Phases = []deploy.Phase{{Name: "pulling"}, {Name: "starting"}}
					if err := s.UpdateDeployment(ctx, d); err != nil {
						return err
					}
					if err := s.PutContainer(ctx, Container{App: app, Color: "blue", ID: fmt.Sprint(i), DeploymentID: d.DeploymentID}); err != nil {
						return err
					}
					if err := s.AddHealthCheck(ctx, app, "blue", "c", deploy.HealthCheck{Success: true}); err != nil {
						return err
					}
					if err := s.AddEvent(ctx, &deploy.Event{App: app, Type: deploy.EventDeploymentCompleted, DeploymentID: &d.DeploymentID}); err != nil {
						return err
					}
					if _, err := s.ListDeployments(ctx, app, 5, 0); err != nil {
						return err
					}
					if _, err := s.Events(ctx, "", 0, 10); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
	}

	apps, err := s.ListApps(ctx)
	if err != nil || len(apps) != writers {
		t.Fatalf("ListApps = %d apps, %v; want %d", len(apps), err, writers)
	}
	for _, a := range apps {
		st, err := s.Stats(ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Deployments != rounds || st.Completed != rounds {
			t.Errorf("%s: stats %+v, want %d completed deployments", a.Name, st, rounds)
		}
		if a.CurrentImage != fmt.Sprint(rounds-1) {
			t.Errorf("%s: current image %q, want the last write %d", a.Name, a.CurrentImage, rounds-1)
		}
	}
	evs, err := s.Events(ctx, "", 0, writers*rounds+10)
	if err != nil || len(evs) != writers*rounds {
		t.Fatalf("Events = %d, %v; want %d", len(evs), err, writers*rounds)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("event ids not increasing: %d then %d", evs[i-1].ID, evs[i].ID)
		}
	}
	var fk int
	if err := s.r.QueryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fk); err != nil || fk != 0 {
		t.Errorf("foreign key check: %d violations, %v", fk, err)
	}
	if _, err := s.GetDeployment(ctx, 1<<40); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetDeployment(unknown) = %v, want ErrNotFound", err)
	}
}

func TestStore_writeQueue(t *testing.T) {
	s, err := open(filepath.Join(t.TempDir(), "bluegreen.db"), options{writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	// While another write holds the queue, a write gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.PutApp(ctx, AppState{Name: "web"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutApp while queued = %v, want deadline exceeded", err)
	}
	s.leave()
	if err := s.PutApp(context.Background(), AppState{Name: "web"}); err != nil {
		t.Fatalf("PutApp after the queue freed: %v", err)
	}
}

// BenchmarkStore_actorRound runs, from many goroutines at once, what an app
// actor writes and reads during a deployment.
func BenchmarkStore_actorRound(b *testing.B) {
	ctx := context.Background()
	for _, l := range poolLayouts {
		b.Run(l.name, func(b *testing.B) {
			s := benchStore(b, l.o)
			var n atomic.Int64
			runParallel(b, func() error {
				app := fmt.Sprintf("app%02d", n.Add(1)%20)
				d := &deploy.Deployment{App: app, ToImage: app + ":v2", Status: deploy.StatusPulling}
				if err := s.CreateDeployment(ctx, d); err != nil {
					return err
				}
				if err := s.AddEvent(ctx, &deploy.Event{App: app, Type: deploy.EventDeploymentStarted, DeploymentID: &d.DeploymentID}); err != nil {
					return err
				}
				if err := s.AddHealthCheck(ctx, app, "green", "c", deploy.HealthCheck{Success: true, StatusCode: 200}); err != nil {
					return err
				}
				d.Status = deploy.StatusCompleted
				d.Phases = []deploy.Phase{{Name: "pulling"}, {Name: "starting"}, {Name: "health_checking"}}
				if err := s.UpdateDeployment(ctx, d); err != nil {
					return err
				}
				if err := s.PutApp(ctx, AppState{Name: app, Status: deploy.AppStable, CurrentImage: d.ToImage}); err != nil {
					return err
				}
				_, err := s.ListDeployments(ctx, app, 10, 0)
				return err
			})
		})
	}
}
