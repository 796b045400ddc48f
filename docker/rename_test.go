package docker

import (
	"errors"
	"testing"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

func TestClient_Rename(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app := uniqueName(t)
	image := buildImage(t, app+":v1", nil)
	testimage.Cleanup(t, app)
	blue, err := c.Create(ctx, appSpec(app, "blue", image, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, appSpec(app, "green", image, 0)); err != nil {
		t.Fatal(err)
	}

	if err := c.Rename(ctx, blue, app+"-blue-standby"); err != nil {
		t.Fatal(err)
	}
	ct, err := c.Inspect(ctx, app+"-blue-standby")
	if err != nil || ct.ID != blue || ct.Labels["bluegreen.color"] != "blue" {
		t.Fatalf("renamed: %+v, %v; want the same container, its labels kept", ct, err)
	}
	if _, err := c.Inspect(ctx, app+"-blue"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the old name: %v, want ErrNotFound", err)
	}
	if err := c.Rename(ctx, blue, app+"-green"); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("to a name in use: %v, want ErrNameInUse", err)
	}
	if err := c.Rename(ctx, app+"-nope", app+"-x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing container: %v, want ErrNotFound", err)
	}
	if err := c.Rename(ctx, blue, app+"-blue"); err != nil {
		t.Fatalf("back: %v", err)
	}
	if ct, err := c.Inspect(ctx, app+"-blue"); err != nil || ct.ID != blue {
		t.Fatalf("back: %+v, %v", ct, err)
	}
}
