package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestDurationMS(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "-"}, {-5, "-"}, {850, "850ms"}, {1000, "1.0s"}, {14230, "14.2s"}, {59_999, "60.0s"}, {60_000, "1m00s"}, {125_000, "2m05s"},
	}
	for _, tt := range tests {
		if got := durationMS(tt.ms); got != tt.want {
			t.Errorf("durationMS(%d) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}

func TestFormatter_Age(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	f := formatter{now: func() time.Time { return now }}
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, "-"},
		{now.Add(-12 * time.Second), "12s ago"},
		{now.Add(-5 * time.Minute), "5m ago"},
		{now.Add(-3 * time.Hour), "3h ago"},
		{now.Add(-72 * time.Hour), "3d ago"},
		{now.Add(time.Second), "0s ago"}, // clock skew
	}
	for _, tt := range tests {
		if got := f.age(tt.at); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\n  b\tc", 10); got != "a b c" {
		t.Errorf("got %q", got)
	}
	if got := oneLine("ééééééé", 4); got != "ééé…" {
		t.Errorf("got %q", got)
	}
}

func TestFormatter_AppsTable(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	f := formatter{now: func() time.Time { return now }}
	t.Run("running deployment", func(t *testing.T) {
		var b strings.Builder
		f.appsTable(&b, []deploy.AppStatus{{Name: "web", Status: deploy.AppDeploying, ActiveColor: "blue",
			Deployment: &deploy.Deployment{Status: deploy.StatusHealthChecking, StartedAt: now.Add(-40 * time.Second)}}})
		if !strings.Contains(b.String(), "health_checking (running 40s)") {
			t.Fatalf("table:\n%s", b.String())
		}
	})
	t.Run("no apps", func(t *testing.T) {
		var b strings.Builder
		f.appsTable(&b, nil)
		if !strings.Contains(b.String(), "no apps configured") {
			t.Fatalf("table:\n%s", b.String())
		}
	})
}

// TestFormatter_Cut: an error is cut only on a terminal; piped, the whole
// message stays (flattened to one line in a table).
func TestFormatter_Cut(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	msg := "health_check_timeout: the candidate did not pass 3 health checks within 30s:\nstatus 500 from /health; fix the app or raise deployment.health_check_timeout"
	ds := []deploy.Deployment{{DeploymentID: 3, FromImage: "web:v1", ToImage: "web:v2", Status: deploy.StatusRolledBack,
		StartedAt: now, CompletedAt: &now, Error: msg}}
	h := map[deploy.Color]deploy.ColorHealth{"green": {Checks: []deploy.HealthCheck{{At: now, Error: msg}}}}
	for _, tc := range []struct {
		width int
		whole bool
	}{{0, true}, {80, false}, {200, false}} {
		f := formatter{now: func() time.Time { return now }, width: tc.width}
		var b strings.Builder
		f.historyTable(&b, ds)
		f.healthView(&b, h)
		b.WriteString(f.eventLine(deploy.Event{At: now, Type: deploy.EventDeploymentRolledBack, Message: strings.Repeat(msg+" ", 3)}))
		out := b.String()
		flat := strings.Join(strings.Fields(msg), " ")
		if got := strings.Count(out, flat); tc.whole != (got >= 2) {
			t.Errorf("width %d: the whole message %d times in\n%s", tc.width, got, out)
		}
		if tc.whole == strings.Contains(out, "…") {
			t.Errorf("width %d: cut %v in\n%s", tc.width, !tc.whole, out)
		}
	}
}

func TestReloadSummary(t *testing.T) {
	for _, tc := range []struct {
		r    deploy.ReloadResult
		want string
	}{
		{deploy.ReloadResult{Unchanged: []string{"demo"}}, "configs reloaded: nothing changed (1 app)\n"},
		{deploy.ReloadResult{Unchanged: []string{"demo", "web"}}, "configs reloaded: nothing changed (2 apps)\n"},
		{deploy.ReloadResult{}, "configs reloaded: nothing changed (0 apps)\n"},
		{deploy.ReloadResult{Added: []string{"shop"}, Removed: []string{"old"}}, "configs reloaded: added shop; removed old\n"},
	} {
		var b strings.Builder
		reloadSummary(&b, tc.r)
		if b.String() != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, b.String(), tc.want)
		}
	}
}
