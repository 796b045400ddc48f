package docker

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

func TestSplitRef(t *testing.T) {
	tests := []struct {
		ref, repo, tag string
	}{
		{"web", "web", "latest"},
		{"web:v1", "web", "v1"},
		{"127.0.0.1:5000/web", "127.0.0.1:5000/web", "latest"},
		{"127.0.0.1:5000/team/web:v2", "127.0.0.1:5000/team/web", "v2"},
		{"web@sha256:abc", "web", "sha256:abc"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			repo, tag := splitRef(tc.ref)
			if repo != tc.repo || tag != tc.tag {
				t.Fatalf("splitRef(%q) = %q, %q; want %q, %q", tc.ref, repo, tag, tc.repo, tc.tag)
			}
			if tc.ref != "web" && tc.ref != "127.0.0.1:5000/web" && joinRef(repo, tag) != tc.ref {
				t.Fatalf("joinRef(%q, %q) = %q, want %q", repo, tag, joinRef(repo, tag), tc.ref)
			}
		})
	}
}

func TestClient_EnsureImage(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	name := uniqueName(t)
	local := buildImage(t, name+":v1", map[string]string{"VERSION": "v1"})

	t.Run("present is never pulled", func(t *testing.T) {
		// The image claims a registry that does not run: any pull would fail.
		ref := fmt.Sprintf("127.0.0.1:%d/%s:v1", testimage.FreePort(t), name)
		dockerCLI(t, "tag", local, ref)
		t.Cleanup(func() { testimage.RemoveImage(t, ref) })
		for _, policy := range []string{PullIfNotPresent, "", PullNever} {
			pulled, err := c.EnsureImage(ctx, ref, policy)
			if err != nil || pulled {
				t.Fatalf("policy %q: pulled %v, err %v; want used as is", policy, pulled, err)
			}
		}
		_, err := c.EnsureImage(ctx, ref, PullAlways)
		if err == nil || !strings.Contains(err.Error(), ref) {
			t.Fatalf("always without a registry: %v, want a pull error naming %s", err, ref)
		}
		t.Log(err)
	})

	t.Run("missing with never", func(t *testing.T) {
		ref := name + "-absent:v9"
		_, err := c.EnsureImage(ctx, ref, PullNever)
		if !errors.Is(err, ErrImageMissing) {
			t.Fatalf("got %v, want ErrImageMissing", err)
		}
		if !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "never") {
			t.Fatalf("message %q does not name the image and the policy", err)
		}
		t.Log(err)
	})

	t.Run("missing and the registry unreachable", func(t *testing.T) {
		ref := fmt.Sprintf("127.0.0.1:%d/%s-absent:v1", testimage.FreePort(t), name)
		_, err := c.EnsureImage(ctx, ref, PullIfNotPresent)
		want := "image " + ref + " not found locally and the registry could not be reached: "
		if !errors.Is(err, ErrImageMissing) || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("got %v, want ErrImageMissing beginning %q", err, want)
		}
		t.Log(err)
	})

	reg := testimage.Registry(t)

	t.Run("missing with if-not-present is pulled", func(t *testing.T) {
		remote := reg + "/" + name + ":v1"
		testimage.Push(t, local, remote)
		testimage.RemoveImage(t, remote)
		pulled, err := c.EnsureImage(ctx, remote, PullIfNotPresent)
		if err != nil || !pulled {
			t.Fatalf("pulled %v, err %v; want pulled", pulled, err)
		}
		dockerCLI(t, "image", "inspect", remote)
		pulled, err = c.EnsureImage(ctx, remote, PullIfNotPresent)
		if err != nil || pulled {
			t.Fatalf("second time: pulled %v, err %v; want present", pulled, err)
		}
	})

	t.Run("always pulls", func(t *testing.T) {
		remote := reg + "/" + name + ":v1"
		testimage.Push(t, local, remote)
		for range 2 {
			pulled, err := c.EnsureImage(ctx, remote, PullAlways)
			if err != nil || !pulled {
				t.Fatalf("pulled %v, err %v; want pulled", pulled, err)
			}
		}
	})

	t.Run("no tag means latest", func(t *testing.T) {
		remote := reg + "/" + name + "-latest"
		testimage.Push(t, local, remote+":latest")
		testimage.RemoveImage(t, remote+":latest")
		pulled, err := c.EnsureImage(ctx, remote, PullIfNotPresent)
		if err != nil || !pulled {
			t.Fatalf("pulled %v, err %v; want pulled", pulled, err)
		}
		dockerCLI(t, "image", "inspect", remote+":latest")
	})

	t.Run("missing in the registry", func(t *testing.T) {
		remote := reg + "/" + name + "-never-pushed:v1"
		_, err := c.EnsureImage(ctx, remote, PullIfNotPresent)
		want := "image " + remote + " not found locally nor in the registry: "
		if !errors.Is(err, ErrImageMissing) || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("got %v, want ErrImageMissing beginning %q", err, want)
		}
		t.Log(err)
	})

	t.Run("unknown policy", func(t *testing.T) {
		_, err := c.EnsureImage(ctx, local, "sometimes")
		if err == nil || !strings.Contains(err.Error(), "sometimes") {
			t.Fatalf("got %v, want an error naming the policy", err)
		}
	})
}

// dockerCLI runs the docker CLI and fails the test when it fails.
func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(ctxT(t), "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
