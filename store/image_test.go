package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_DeployedImages(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	add := func(app, image string, status deploy.Status) int64 {
		t.Helper()
		d := deploy.Deployment{App: app, ToImage: image, TriggerSource: deploy.TriggerAPI}
		if err := s.CreateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		if status != deploy.StatusQueued {
			d.Status = status
			if err := s.UpdateDeployment(ctx, &d); err != nil {
				t.Fatal(err)
			}
		}
		return d.DeploymentID
	}
	add("web", "web:v1", deploy.StatusCompleted)           // 1
	add("web", "web:v2", deploy.StatusCompleted)           // 2
	add("web", "web:broken", deploy.StatusRolledBack)      // 3
	add("web", "web:never", deploy.StatusSuperseded)       // 4: never began
	add("web", "web:waiting", deploy.StatusQueued)         // 5: not begun yet
	add("api", "shared:1", deploy.StatusCompleted)         // 6
	add("web", "shared:1", deploy.StatusFailed)            // 7
	add("web", "web:v1", deploy.StatusCompleted)           // 8: v1 again, now the newest
	add("worker", "shared:1", deploy.StatusHealthChecking) // 9: running
	add("other", "web:v2", deploy.StatusSuperseded)        // 10: never began: not a user of web:v2
	add("web", "", deploy.StatusFailed)                    // 11: no image
	add("cron", "cron:1", deploy.StatusCompleted)          // 12

	got, err := s.DeployedImages(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []DeployedImage{
		{Image: "web:v1", LastDeploymentID: 8},
		{Image: "shared:1", LastDeploymentID: 7, OtherApps: []string{"api", "worker"}},
		{Image: "web:broken", LastDeploymentID: 3},
		{Image: "web:v2", LastDeploymentID: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DeployedImages(web)\n got %+v\nwant %+v", got, want)
	}

	none, err := s.DeployedImages(ctx, "nobody")
	if err != nil || none == nil || len(none) != 0 {
		t.Fatalf("DeployedImages of an app without deployments: %v, %v; want an empty list", none, err)
	}
}
