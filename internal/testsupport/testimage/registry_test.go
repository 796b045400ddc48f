package testimage

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	var addr string
	t.Run("serves the v2 API", func(t *testing.T) {
		addr = Registry(t)
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/ = %d, want 200", resp.StatusCode)
		}
	})
	t.Run("closed by cleanup", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("registry still answers after cleanup: %d", resp.StatusCode)
		}
	})
}

func TestPush(t *testing.T) {
	RequireDocker(t)
	name := uniqueName(t)
	tag := Build(t, name+":v1", map[string]string{"VERSION": "pushed"})
	t.Cleanup(func() { RemoveImage(t, tag) })
	addr := Registry(t)
	remote := addr + "/" + name + ":v1"
	Push(t, tag, remote)

	// Forget the local copies, then pull back from the registry.
	RemoveImage(t, remote)
	RemoveImage(t, tag)
	if _, err := docker("image", "inspect", remote); err == nil {
		t.Fatalf("%s still present locally", remote)
	}
	if _, err := docker("pull", remote); err != nil {
		t.Fatalf("pull from in-process registry: %v", err)
	}
	if _, err := docker("image", "inspect", remote); err != nil {
		t.Fatalf("%s missing after pull: %v", remote, err)
	}
}
