package store

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_Traffic(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	t.Run("an app never paused serves", func(t *testing.T) {
		got, err := s.Traffic(ctx, "web")
		if err != nil || got != (deploy.TrafficState{}) || !got.Serving() {
			t.Fatalf("Traffic = %+v, %v; want the zero state", got, err)
		}
	})

	t.Run("each mode round trips in UTC", func(t *testing.T) {
		for _, want := range []deploy.TrafficState{
			{Mode: deploy.TrafficPaused, Since: t0, MaxWait: 45 * time.Second},
			{Mode: deploy.TrafficMaintenance, Since: t0.Add(time.Minute), Message: "back at <10:00> & \"soon\"", RetryAfter: 2 * time.Minute},
			{Mode: deploy.TrafficServing, Since: t0.Add(2 * time.Minute)},
		} {
			if err := s.PutTraffic(ctx, "web", want); err != nil {
				t.Fatal(err)
			}
			got, err := s.Traffic(ctx, "web")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Since.Equal(want.Since) || got.Since.Location() != time.UTC {
				t.Errorf("Since = %v, want %v in UTC", got.Since, want.Since)
			}
			got.Since = want.Since
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		}
	})

	t.Run("apps apart; a zero since is stamped; an empty mode is serving", func(t *testing.T) {
		if err := s.PutTraffic(ctx, "api", deploy.TrafficState{Mode: deploy.TrafficPaused, MaxWait: time.Second}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutTraffic(ctx, "blog", deploy.TrafficState{}); err != nil {
			t.Fatal(err)
		}
		api, _ := s.Traffic(ctx, "api")
		blog, _ := s.Traffic(ctx, "blog")
		web, _ := s.Traffic(ctx, "web")
		if api.Mode != deploy.TrafficPaused || api.Since.IsZero() || blog.Mode != deploy.TrafficServing || web.Mode != deploy.TrafficServing {
			t.Fatalf("api %+v, blog %+v, web %+v", api, blog, web)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, bad := range []struct {
			app string
			t   deploy.TrafficState
		}{
			{"", deploy.TrafficState{Mode: deploy.TrafficPaused}},
			{"web", deploy.TrafficState{Mode: "closed"}},
			{"web", deploy.TrafficState{Mode: deploy.TrafficPaused, MaxWait: -time.Second}},
		} {
			if err := s.PutTraffic(ctx, bad.app, bad.t); err == nil {
				t.Errorf("PutTraffic(%q, %+v) stored", bad.app, bad.t)
			}
		}
		got, _ := s.Traffic(ctx, "web")
		if got.Mode != deploy.TrafficServing {
			t.Errorf("a refused put changed the mode: %+v", got)
		}
	})

	t.Run("a row the schema refuses", func(t *testing.T) {
		_, err := s.exec(ctx, `INSERT INTO app_traffic (app, mode, since) VALUES ('x', 'closed', '')`)
		if err == nil {
			t.Fatal("the schema took an unknown mode")
		}
	})
}

// A database of the version before (only 0001 applied, with an app in it)
// gets the traffic table on Open and keeps its rows: an upgrade of serve.
func TestStore_Traffic_upgradedDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", dsn(path, false, DefaultBusyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	if err := applyMigrations(ctx, db, ms[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO apps (name, status, updated_at) VALUES ('web', 'stable', '2025-06-30T10:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, err := s.GetApp(ctx, "web"); err != nil || a.Status != deploy.AppStable {
		t.Fatalf("the old row: %+v, %v", a, err)
	}
	if tr, err := s.Traffic(ctx, "web"); err != nil || !tr.Serving() {
		t.Fatalf("Traffic after the upgrade = %+v, %v", tr, err)
	}
	if err := s.PutTraffic(ctx, "web", deploy.TrafficState{Mode: deploy.TrafficPaused, MaxWait: time.Minute}); err != nil {
		t.Fatal(err)
	}
}

// A pause stored by a process that is then killed with SIGKILL (no Close,
// no checkpoint) is there when the next process opens the store.
func TestStore_Traffic_survivesKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bluegreen.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_Traffic_child$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STORE_TRAFFIC_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	stored := false
	for lines.Scan() {
		if strings.TrimSpace(lines.Text()) == "stored" {
			stored = true
			break
		}
	}
	if !stored {
		t.Fatal("the child never said it stored the pause")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Traffic(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if got.Mode != deploy.TrafficPaused || got.MaxWait != 90*time.Second {
		t.Fatalf("after kill -9: %+v, want paused with max_wait 90s", got)
	}
}

// TestStore_Traffic_child is the killed process of
// TestStore_Traffic_survivesKill: it stores a pause, says so and waits.
func TestStore_Traffic_child(t *testing.T) {
	path := os.Getenv("STORE_TRAFFIC_CHILD")
	if path == "" {
		t.Skip("the child process of TestStore_Traffic_survivesKill")
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTraffic(context.Background(), "web", deploy.TrafficState{Mode: deploy.TrafficPaused, MaxWait: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("stored\n")
	time.Sleep(time.Minute) // killed before
}
