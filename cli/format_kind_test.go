package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// ctl history shows each deployment's kind; ctl health shows a check
// before the container's first pass as starting, not as a failure.
func TestFormatter_KindAndStarting(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	f := formatter{now: func() time.Time { return now }}
	var ds []deploy.Deployment
	for i, k := range deploy.Kinds {
		ds = append(ds, deploy.Deployment{DeploymentID: int64(4 - i), Kind: k, FromImage: "web:v1", ToImage: "web:v2",
			Status: deploy.StatusCompleted, StartedAt: now, CompletedAt: &now})
	}
	var b strings.Builder
	f.historyTable(&b, ds)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(strings.Join(strings.Fields(lines[0]), " "), "ID KIND FROM → TO TRIGGER STATUS") {
		t.Fatalf("history:\n%s", b.String())
	}
	for i, k := range deploy.Kinds {
		if fields := strings.Fields(lines[i+1]); len(fields) < 2 || fields[1] != string(k) {
			t.Errorf("row %d %q: want kind %s", i+1, lines[i+1], k)
		}
	}

	b.Reset()
	f.healthView(&b, map[deploy.Color]deploy.ColorHealth{deploy.Green: {Status: deploy.Healthy, Healthy: true, Checks: []deploy.HealthCheck{
		{At: now, Success: true, StatusCode: 200},
		{At: now.Add(-time.Second), Error: "connection reset by peer", Starting: true},
	}}})
	out := b.String()
	if !strings.Contains(out, "0 consecutive failures") || !strings.Contains(out, " starting ") || strings.Contains(out, " fail ") {
		t.Fatalf("health:\n%s", out)
	}
}
