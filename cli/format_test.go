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
