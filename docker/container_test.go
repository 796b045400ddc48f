package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dockerclient "github.com/fsouza/go-dockerclient"

	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// appSpec returns a Spec for a test app container of app and color,
// labelled like bluegreen labels its containers.
func appSpec(app, color, image string, port int) Spec {
	return Spec{
		Name:  app + "-" + color,
		Image: image,
		Labels: map[string]string{
			"bluegreen.app":     app,
			"bluegreen.color":   color,
			"bluegreen.managed": "true",
		},
		HostIP:        "127.0.0.1",
		HostPort:      port,
		ContainerPort: testimage.ExposedPort,
	}
}

// httpGet GETs url and returns status and body.
func httpGet(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitStopped waits until the container is no longer running.
func waitStopped(t *testing.T, c *Client, id string) Container {
	t.Helper()
	var ct Container
	waitFor(t, 30*time.Second, "container "+id+" stopped", func() (bool, error) {
		var err error
		ct, err = c.Inspect(ctxT(t), id)
		return err == nil && !ct.Running && ct.State == "exited", err
	})
	return ct
}

func TestClient_Create(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app := uniqueName(t)
	image := buildImage(t, app+":v1", map[string]string{"VERSION": "from-image"})
	testimage.Cleanup(t, app)

	t.Run("all settings", func(t *testing.T) {
		port := testimage.FreePort(t)
		s := appSpec(app, "blue", image, port)
		s.Env = []string{"VERSION=from-spec", "EXTRA=1"}
		s.Volumes = []string{t.TempDir() + ":/data:ro"}
		s.MemoryBytes = 64 << 20
		s.CPUs = 0.5
		s.RestartPolicy = "on-failure:3"
		s.Network = "bridge"
		s.Command = []string{"--ignored-arg"}
		id, err := c.Create(ctx, s)
		if err != nil {
			t.Fatal(err)
		}

		raw := rawInspect(t, id)
		hc := raw.HostConfig
		if hc.Memory != 64<<20 || hc.NanoCPUs != 500_000_000 {
			t.Errorf("memory %d nanocpus %d, want %d and 5e8", hc.Memory, hc.NanoCPUs, 64<<20)
		}
		if hc.RestartPolicy.Name != "on-failure" || hc.RestartPolicy.MaximumRetryCount != 3 {
			t.Errorf("restart policy %+v, want on-failure:3", hc.RestartPolicy)
		}
		if hc.NetworkMode != "bridge" || !slices.Equal(hc.Binds, s.Volumes) {
			t.Errorf("network %q binds %q", hc.NetworkMode, hc.Binds)
		}
		if b := hc.PortBindings["3000/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != fmt.Sprint(port) {
			t.Errorf("port bindings %+v, want 127.0.0.1:%d", hc.PortBindings, port)
		}
		if !slices.Equal(raw.Config.Cmd, s.Command) || !slices.Contains(raw.Config.Env, "EXTRA=1") {
			t.Errorf("cmd %q env %q", raw.Config.Cmd, raw.Config.Env)
		}

		ct, err := c.Inspect(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if ct.ID != id || ct.Name != s.Name || ct.Image != image || !strings.HasPrefix(ct.ImageID, "sha256:") {
			t.Errorf("inspect %+v", ct)
		}
		if ct.State != "created" || ct.Running || ct.HostPort != port || ct.Labels["bluegreen.color"] != "blue" {
			t.Errorf("inspect %+v, want created, port %d, color blue", ct, port)
		}

		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		waitFor(t, 30*time.Second, "GET "+url, func() (bool, error) {
			status, body, err := httpGet(ctx, url)
			if err == nil && (status != 200 || body != "from-spec\n") {
				err = fmt.Errorf("got %d %q, want 200 %q", status, body, "from-spec\n")
			}
			return err == nil, err
		})
		ct, err = c.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ct.Running || ct.State != "running" || ct.StartedAt.IsZero() || ct.HostPort != port {
			t.Errorf("after start %+v", ct)
		}
	})

	t.Run("name in use", func(t *testing.T) {
		s := appSpec(app, "green", image, 0)
		if _, err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		_, err := c.Create(ctx, s)
		if !errors.Is(err, ErrNameInUse) || !strings.Contains(err.Error(), s.Name) {
			t.Fatalf("got %v, want ErrNameInUse naming %s", err, s.Name)
		}
	})

	t.Run("missing image", func(t *testing.T) {
		s := appSpec(app, "missing", app+"-absent:v1", 0)
		_, err := c.Create(ctx, s)
		if !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), s.Image) {
			t.Fatalf("got %v, want ErrImageMissing naming %s", err, s.Image)
		}
	})

	t.Run("bad restart policy", func(t *testing.T) {
		s := appSpec(app, "bad", image, 0)
		s.RestartPolicy = "sometimes"
		if _, err := c.Create(ctx, s); err == nil || !strings.Contains(err.Error(), "sometimes") {
			t.Fatalf("got %v, want an error naming the policy", err)
		}
	})

	t.Run("port already allocated shows at start", func(t *testing.T) {
		port := testimage.FreePort(t)
		first, err := c.Create(ctx, appSpec(app, "port-a", image, port))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, first); err != nil {
			t.Fatal(err)
		}
		second, err := c.Create(ctx, appSpec(app, "port-b", image, port))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Start(ctx, second)
		if err == nil || !strings.Contains(err.Error(), second) || !strings.Contains(err.Error(), fmt.Sprint(port)) {
			t.Fatalf("got %v, want an error naming the container and port %d", err, port)
		}
		t.Log(err)
	})
}

func TestClient_StartStopRemove(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app := uniqueName(t)
	image := buildImage(t, app+":v1", nil)
	testimage.Cleanup(t, app)
	port := testimage.FreePort(t)
	id, err := c.Create(ctx, appSpec(app, "blue", image, port))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("start twice", func(t *testing.T) {
		for i := range 2 {
			if err := c.Start(ctx, id); err != nil {
				t.Fatalf("start %d: %v", i+1, err)
			}
		}
	})
	t.Run("stop twice", func(t *testing.T) {
		// Stop only once the app answers: a SIGTERM that lands before its
		// handler is installed ends it with Go's default exit code 2.
		waitFor(t, 20*time.Second, "app answering", func() (bool, error) {
			code, _, err := httpGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/", port))
			return code == 200, err
		})
		for i := range 2 {
			if err := c.Stop(ctx, id, 5*time.Second); err != nil {
				t.Fatalf("stop %d: %v", i+1, err)
			}
		}
		ct, err := c.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ct.Running || ct.State != "exited" || ct.ExitCode != 0 || ct.FinishedAt.IsZero() {
			t.Fatalf("after stop %+v, want exited with 0", ct)
		}
	})
	t.Run("concurrent removes both wait until it is gone", func(t *testing.T) {
		spec := appSpec(app, "green", image, testimage.FreePort(t))
		gid, err := c.Create(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, gid); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- c.Remove(ctx, spec.Name) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("remove: %v", err)
			}
			if _, err := c.Inspect(ctx, spec.Name); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after a remove returned, inspect = %v, want ErrNotFound", err)
			}
		}
		if _, err := c.Create(ctx, spec); err != nil {
			t.Fatalf("the name must be free again: %v", err)
		}
		if err := c.Remove(ctx, spec.Name); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("remove twice", func(t *testing.T) {
		if err := c.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := c.Remove(ctx, id); err != nil {
				t.Fatalf("remove %d: %v", i+1, err)
			}
		}
	})
	t.Run("missing container", func(t *testing.T) {
		if _, err := c.Inspect(ctx, id); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Fatalf("inspect: %v, want ErrNotFound naming %s", err, id)
		}
		if err := c.Start(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("start: %v, want ErrNotFound", err)
		}
		if err := c.Stop(ctx, id, time.Second); !errors.Is(err, ErrNotFound) {
			t.Fatalf("stop: %v, want ErrNotFound", err)
		}
	})
}

func TestClient_Start(t *testing.T) {
	t.Run("concurrent starts on a fresh client", func(t *testing.T) {
		testimage.RequireDocker(t)
		ctx := ctxT(t)
		app := uniqueName(t)
		image := buildImage(t, app+":v1", nil)
		testimage.Cleanup(t, app)
		setup := newClient(t)
		var ids []string
		for _, color := range []string{"blue", "green"} {
			id, err := setup.Create(ctx, appSpec(app, color, image, 0))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		c := newClient(t) // fresh: go-dockerclient learns the API version on a first start
		errs := make(chan error, len(ids))
		for _, id := range ids {
			go func() { errs <- c.Start(ctx, id) }()
		}
		for range ids {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestClient_Inspect(t *testing.T) {
	c := newClient(t)
	name := uniqueName(t) + "-blue"
	_, err := c.Inspect(ctxT(t), name)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), name) {
		t.Fatalf("got %v, want ErrNotFound naming %s", err, name)
	}
}

func TestClient_List(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	app, other := uniqueName(t), uniqueName(t)
	testimage.Cleanup(t, app)
	testimage.Cleanup(t, other)
	image := buildImage(t, app+":v1", nil)
	for _, s := range []Spec{
		appSpec(app, "green", image, 0),
		appSpec(app, "blue", image, 0),
		appSpec(other, "blue", image, 0),
	} {
		if _, err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("by app", func(t *testing.T) {
		got, err := c.List(ctx, map[string]string{"bluegreen.app": app})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Name != app+"-blue" || got[1].Name != app+"-green" {
			t.Fatalf("got %+v, want %s-blue and %s-green", got, app, app)
		}
		if got[0].State != "created" || got[0].Image != image {
			t.Fatalf("got %+v, want created from %s", got[0], image)
		}
	})
	t.Run("by app and color", func(t *testing.T) {
		got, err := c.List(ctx, map[string]string{"bluegreen.app": app, "bluegreen.color": "green"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Name != app+"-green" {
			t.Fatalf("got %+v, want %s-green", got, app)
		}
	})
	t.Run("none", func(t *testing.T) {
		got, err := c.List(ctx, map[string]string{"bluegreen.app": app + "-none"})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %+v, %v; want none", got, err)
		}
	})
	t.Run("summaries agree with the inspects", func(t *testing.T) {
		full, err := c.List(ctx, map[string]string{"bluegreen.app": app})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Summaries(ctx, map[string]string{"bluegreen.app": app})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(full) {
			t.Fatalf("%d summaries, %d containers", len(got), len(full))
		}
		byID := map[string]Container{}
		for _, ct := range got {
			byID[ct.ID] = ct
		}
		for _, want := range full {
			ct := byID[want.ID]
			if ct.Name != want.Name || ct.Image != want.Image || ct.State != want.State || ct.Running != want.Running ||
				ct.Labels["bluegreen.color"] != want.Labels["bluegreen.color"] {
				t.Fatalf("summary %+v, inspect %+v", ct, want)
			}
		}
	})
}

func TestParseRestartPolicy(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		retries int
		ok      bool
	}{
		{"", "", 0, true},
		{"no", "no", 0, true},
		{"always", "always", 0, true},
		{"unless-stopped", "unless-stopped", 0, true},
		{"on-failure", "on-failure", 0, true},
		{"on-failure:5", "on-failure", 5, true},
		{"on-failure:x", "", 0, false},
		{"on-failure:-1", "", 0, false},
		{"sometimes", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRestartPolicy(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (got != dockerclient.RestartPolicy{Name: tc.name, MaximumRetryCount: tc.retries}) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// rawInspect returns Docker's own view of a container.
func rawInspect(t *testing.T, id string) *dockerclient.Container {
	t.Helper()
	dc, err := dockerclient.NewClientFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ct, err := dc.InspectContainerWithOptions(dockerclient.InspectContainerOptions{ID: id, Context: ctxT(t)})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}
