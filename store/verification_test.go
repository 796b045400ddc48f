package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/bluegreen/bluegreen/deploy"
)

func TestStore_DeploymentVerification(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	d := deploy.Deployment{App: "web", ToImage: "web:v2", TriggerSource: deploy.TriggerAPI, StartedAt: t0}
	if err := s.CreateDeployment(ctx, &d); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDeployment(ctx, d.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Verification != nil {
		t.Fatalf("a deployment without verification reads %+v", got.Verification)
	}

	v := &deploy.Verification{Step: 50, Steps: []int{10, 50}, WindowMS: 60000, ElapsedMS: 31000, Requests: 250, Errors: 30,
		ErrorRate: 0.12, P99MS: 41.25, Result: deploy.VerificationFailed}
	d.Status, d.Verification = deploy.StatusCanary, v
	if err := s.UpdateDeployment(ctx, &d); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetDeployment(ctx, d.DeploymentID); err != nil {
		t.Fatal(err)
	}
	if got.Status != deploy.StatusCanary || !reflect.DeepEqual(got.Verification, v) {
		t.Errorf("stored %s %+v, want canary %+v", got.Status, got.Verification, v)
	}
	ds, err := s.DeploymentsByStatus(ctx, "web", deploy.RunningStatuses, 0)
	if err != nil || len(ds) != 1 || ds[0].Verification == nil || ds[0].Verification.Requests != 250 {
		t.Errorf("a deployment in canary among the running ones: %+v, %v", ds, err)
	}

	t.Run("created with one", func(t *testing.T) {
		d := deploy.Deployment{App: "web", ToImage: "web:v3", Status: deploy.StatusVerifying,
			Verification: &deploy.Verification{Step: 100, Steps: []int{}, WindowMS: 1000, Result: deploy.VerificationRunning}}
		if err := s.CreateDeployment(ctx, &d); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetDeployment(ctx, d.DeploymentID)
		if !reflect.DeepEqual(got.Verification, d.Verification) {
			t.Errorf("stored %+v, want %+v", got.Verification, d.Verification)
		}
	})

	t.Run("the schema refuses what is not an object", func(t *testing.T) {
		_, err := s.w.ExecContext(ctx, `UPDATE deployments SET verification = '[1]' WHERE id = ?`, d.DeploymentID)
		if err == nil {
			t.Error("a JSON array was stored as a verification")
		}
	})
}
