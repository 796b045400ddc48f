package testimage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBuild(t *testing.T) {
	RequireDocker(t)
	name := uniqueName(t)
	version := `v1 "quoted" $HOME \x`
	tag := Build(t, name+":v1", map[string]string{"VERSION": version})
	t.Cleanup(func() { RemoveImage(t, tag) })
	if tag != name+":v1" {
		t.Fatalf("Build returned %q", tag)
	}

	t.Run("runs the test app with env", func(t *testing.T) {
		Cleanup(t, name)
		port := FreePort(t)
		if _, err := docker("run", "-d", "--name", name, "--label", LabelApp+"="+name,
			"-p", fmt.Sprintf("127.0.0.1:%d:%d", port, ExposedPort), tag); err != nil {
			t.Fatal(err)
		}
		body := waitBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
		if body != version+"\n" {
			t.Fatalf("GET / = %q, want %q", body, version+"\n")
		}
	})

	t.Run("rebuild hits the cache", func(t *testing.T) {
		id1 := imageID(t, tag)
		Build(t, tag, map[string]string{"VERSION": version})
		if id2 := imageID(t, tag); id2 != id1 {
			t.Fatalf("rebuild made image %s, want cached %s", id2, id1)
		}
	})

	t.Run("image outlives the test that built it", func(t *testing.T) {
		other := uniqueName(t) + ":v1"
		t.Cleanup(func() { RemoveImage(t, other) })
		t.Run("build", func(t *testing.T) { Build(t, other, nil) })
		imageID(t, other)
	})

	t.Run("bad env name", func(t *testing.T) {
		if _, err := dockerfile(map[string]string{"A B": "x"}); err == nil {
			t.Fatal("want an error for env name with a space")
		}
	})
}

func imageID(t testing.TB, ref string) string {
	t.Helper()
	out, err := docker("image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// waitBody GETs url until it answers 200 or a deadline passes.
func waitBody(t testing.TB, url string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			cancel()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
			last = fmt.Errorf("status %d, read %v", resp.StatusCode, rerr)
		} else {
			cancel()
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: no 200 within 30s: %v", url, last)
	return ""
}
