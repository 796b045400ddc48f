package docker

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

func TestNormalizeRef(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"web", "web:latest"},
		{"web:v1", "web:v1"},
		{"docker.io/library/nginx:1", "nginx:1"},
		{"docker.io/team/web", "team/web:latest"},
		{"index.docker.io/library/redis:7", "redis:7"},
		{"127.0.0.1:5000/web", "127.0.0.1:5000/web:latest"},
		{"web@sha256:abc", "web@sha256:abc"},
	}
	for _, tc := range tests {
		if got := NormalizeRef(tc.ref); got != tc.want {
			t.Errorf("NormalizeRef(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}

func TestClient_Images(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	name := uniqueName(t)
	// An env of its own gives the image an ID of its own: images built
	// from the same env share one ID, with the tags of other tests.
	v1 := buildImage(t, name+":v1", map[string]string{"VERSION": "v1", "IMAGE_OF": name})
	alias := name + ":alias"
	dockerCLI(t, "tag", v1, alias)
	t.Cleanup(func() { testimage.RemoveImage(t, alias) })
	id := imageIDOf(t, v1)

	find := func(ref string) (Image, bool) {
		t.Helper()
		list, err := c.Images(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range list {
			if slices.Contains(im.Refs, ref) {
				return im, true
			}
		}
		return Image{}, false
	}
	im, ok := find(v1)
	if !ok || im.ID != id || !slices.Contains(im.Refs, alias) || im.SizeBytes <= 0 || im.Created.IsZero() {
		t.Fatalf("listed %+v (found %v), want ID %s with both tags, a size and a creation time", im, ok, id)
	}

	t.Run("in use by a stopped container", func(t *testing.T) {
		testimage.Cleanup(t, name)
		if _, err := c.Create(ctx, appSpec(name, "blue", alias, testimage.FreePort(t))); err != nil {
			t.Fatal(err)
		}
		used, err := c.ImagesInUse(ctx)
		if err != nil || !used[id] {
			t.Fatalf("in use %v (%v), want %s among them", used, err, id)
		}
		// The image has two tags: removing one only untags it, even in use.
		if err := c.RemoveImage(ctx, alias); err != nil {
			t.Fatalf("remove the second tag: %v", err)
		}
		if _, ok := find(alias); ok {
			t.Fatalf("%s still listed", alias)
		}
		if im, ok := find(v1); !ok || im.ID != id {
			t.Fatalf("%s lost with its alias", v1)
		}
		// Its last tag, used by a container: Docker refuses without force.
		err = c.RemoveImage(ctx, v1)
		if !errors.Is(err, ErrImageInUse) || !strings.Contains(err.Error(), v1) {
			t.Fatalf("remove an image in use: %v, want ErrImageInUse naming %s", err, v1)
		}
	})

	t.Run("missing", func(t *testing.T) {
		if err := c.RemoveImage(ctx, name+":never-built"); !errors.Is(err, ErrImageMissing) {
			t.Fatalf("remove a missing image: %v, want ErrImageMissing", err)
		}
	})

	t.Run("removed once no container uses it", func(t *testing.T) {
		// The subtest above removed its container in its cleanup.
		if err := c.RemoveImage(ctx, v1); err != nil {
			t.Fatal(err)
		}
		if _, ok := find(v1); ok {
			t.Fatalf("%s still listed after removal", v1)
		}
	})

	t.Run("docker down", func(t *testing.T) {
		bogus, _ := bogusClient(t)
		if _, err := bogus.Images(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Images: %v, want ErrUnavailable", err)
		}
		if _, err := bogus.ImagesInUse(ctx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("ImagesInUse: %v, want ErrUnavailable", err)
		}
		if err := bogus.RemoveImage(ctx, "web:v1"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("RemoveImage: %v, want ErrUnavailable", err)
		}
	})
}

// imageIDOf returns the ID of the local image ref.
func imageIDOf(t *testing.T, ref string) string {
	t.Helper()
	return strings.TrimSpace(dockerCLI(t, "image", "inspect", "--format", "{{.ID}}", ref))
}
