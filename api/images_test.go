package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// fakeImages are the images of the fake backend's app web, newest first.
var fakeImages = []deploy.Image{
	{Image: "web:v2", ID: "sha256:2222", SizeBytes: 9_030_000, CreatedAt: time.Date(2025, 6, 30, 9, 0, 0, 0, time.UTC), InUse: true, LastDeploymentID: 7},
	{Image: "web:v1", ID: "sha256:1111", SizeBytes: 9_010_000, CreatedAt: time.Date(2025, 6, 29, 9, 0, 0, 0, time.UTC), LastDeploymentID: 3},
}

func (b *fakeBackend) Images(ctx context.Context, app string) ([]deploy.Image, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.app(app); err != nil {
		return nil, err
	}
	if app != "web" {
		return nil, nil
	}
	return fakeImages, nil
}

func TestServer_Images(t *testing.T) {
	t.Run("newest first with every field", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps/web/images", ""))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
		raw := decode[[]map[string]any](t, rec)
		if len(raw) != 2 || raw[0]["image"] != "web:v2" || raw[1]["image"] != "web:v1" {
			t.Fatalf("answer %s", rec.Body)
		}
		for _, key := range []string{"image", "id", "size_bytes", "created_at", "in_use", "last_deployment_id"} {
			if _, ok := raw[0][key]; !ok {
				t.Errorf("no %q in %v", key, raw[0])
			}
		}
		if raw[0]["in_use"] != true || raw[0]["size_bytes"] != float64(9_030_000) || raw[0]["created_at"] != "2025-06-30T09:00:00Z" {
			t.Errorf("first image %v", raw[0])
		}
	})
	t.Run("an app without images is an empty list", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps/api/images", ""))
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Fatalf("status %d, body %q", rec.Code, rec.Body)
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("GET", "/api/apps/nope/images", ""))
		if eb := decode[ErrorBody](t, rec); rec.Code != http.StatusNotFound || eb.Error.Code != "not_found" {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
	})
	t.Run("docker unreachable", func(t *testing.T) {
		b := newFakeBackend()
		b.err = fmt.Errorf("images of web: %w", deploy.Errorf(deploy.EDOCKERUNAVAILABLE, "cannot reach Docker"))
		rec := serve(t, b, jsonRequest("GET", "/api/apps/web/images", ""))
		if eb := decode[ErrorBody](t, rec); rec.Code != http.StatusServiceUnavailable || eb.Error.Code != "docker_unavailable" {
			t.Fatalf("status %d, body %s", rec.Code, rec.Body)
		}
	})
	t.Run("only GET", func(t *testing.T) {
		rec := serve(t, newFakeBackend(), jsonRequest("POST", "/api/apps/web/images", ""))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("client", func(t *testing.T) {
		srv := httptest.NewServer(NewServer(newFakeBackend(), nil))
		t.Cleanup(srv.Close)
		c := NewClient(strings.TrimPrefix(srv.URL, "http://"))
		images, err := c.Images(context.Background(), "web")
		if err != nil || len(images) != 2 || images[0] != fakeImages[0] {
			t.Fatalf("images %+v, %v", images, err)
		}
		if _, err := c.Images(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("unknown app: %v", err)
		}
	})
}
