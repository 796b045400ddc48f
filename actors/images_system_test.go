package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// TestSystem_ImageRetention deploys more images than keep_images against
// the real Docker daemon and checks which remain after each deployment.
// Every image has a tag and an ID of its own (the app's name is in its
// env), so the images of tests running beside it are never touched.
func TestSystem_ImageRetention(t *testing.T) {
	testimage.RequireDocker(t)
	app := newTestApp(t, "")
	repo := app.name + "-img"
	images := map[string]string{}
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		ref := repo + ":" + v
		testimage.Build(t, ref, map[string]string{"VERSION": v, "IMAGE_OF": app.name})
		t.Cleanup(func() { testimage.RemoveImage(t, ref) })
		images[v] = ref
	}
	// A second tag of v1 that no deployment uses: removing v1 by tag must
	// leave it and the image.
	alias := repo + ":alias"
	dockerCLI(t, "tag", images["v1"], alias)
	t.Cleanup(func() { testimage.RemoveImage(t, alias) })
	// A container bluegreen does not manage uses v2.
	foreign := app.name + "-foreign"
	dockerCLI(t, "create", "--name", foreign, images["v2"])
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", foreign).Run() })
	v1ID := imageIDOf(t, images["v1"])

	app.image = images["v1"]
	h := &harness{t: t, dir: t.TempDir(), db: filepath.Join(t.TempDir(), "bluegreen.db")}
	yaml := strings.Replace(app.yaml(), "  expose_port: 3000\n", "  expose_port: 3000\n  keep_images: 2\n", 1)
	if err := os.WriteFile(filepath.Join(h.dir, app.name+".yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	h.rt = rt
	h.start()
	h.waitStable(app.name, images["v1"], 60*time.Second)

	present := func(ref string) bool {
		return exec.Command("docker", "image", "inspect", ref).Run() == nil
	}
	removedEvents := func() []deploy.Event {
		evs, err := h.sys.Events(context.Background(), app.name, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []deploy.Event
		for _, e := range evs {
			if e.Type == deploy.EventImageRemoved || e.Type == deploy.EventImageRemoveFailed {
				out = append(out, e)
			}
		}
		return out
	}

	start := time.Now()
	for _, v := range []string{"v2", "v3"} {
		if d := h.deploy(app.name, images[v], deploy.TriggerManual); d.Status != deploy.StatusCompleted {
			t.Fatalf("deployment of %s: %+v", v, d)
		}
	}
	// After v3: v3 and v2 are the newest two; v1's container was replaced
	// by v3's, so its tag goes.
	eventually(t, 30*time.Second, func() bool { return len(removedEvents()) == 1 && !present(images["v1"]) },
		func() string { return fmt.Sprintf("events %+v, v1 present %v", removedEvents(), present(images["v1"])) })
	ev := removedEvents()[0]
	var data struct {
		Image     string `json:"image"`
		ID        string `json:"id"`
		SizeBytes int64  `json:"size_bytes"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil || ev.Type != deploy.EventImageRemoved ||
		data.Image != images["v1"] || data.ID != v1ID || data.SizeBytes <= 0 {
		t.Fatalf("event %+v (%v)", ev, err)
	}
	if !present(alias) || imageIDOf(t, alias) != v1ID {
		t.Fatalf("%s went with the v1 tag: a tag shared by other references only loses that tag", alias)
	}

	// After v4: v2 is beyond keep_images but the foreign container uses it;
	// v3 is the standby color's image.
	if d := h.deploy(app.name, images["v4"], deploy.TriggerManual); d.Status != deploy.StatusCompleted {
		t.Fatalf("deployment of v4: %+v", d)
	}
	var list []deploy.Image
	eventually(t, 30*time.Second, func() bool {
		list = nil
		return h.get("/api/apps/"+app.name+"/images", &list) == http.StatusOK && len(list) == 3
	}, func() string { return fmt.Sprintf("images %+v", list) })
	var refs []string
	for _, im := range list {
		refs = append(refs, im.Image)
		if !im.InUse || im.ID == "" || im.SizeBytes <= 0 || im.CreatedAt.Before(start.Add(-time.Hour)) || im.LastDeploymentID == 0 {
			t.Errorf("image %+v, want in use, with ID, size, creation time and deployment", im)
		}
	}
	if want := []string{images["v4"], images["v3"], images["v2"]}; !slices.Equal(refs, want) {
		t.Fatalf("images %v, want %v", refs, want)
	}
	for _, v := range []string{"v2", "v3", "v4"} {
		if !present(images[v]) {
			t.Errorf("%s was removed", images[v])
		}
	}
	if n := len(removedEvents()); n != 1 {
		t.Fatalf("%d removal events, want only v1's: %+v", n, removedEvents())
	}
	if code := h.get("/api/apps/nope/images", nil); code != http.StatusNotFound {
		t.Fatalf("images of an unknown app: %d, want 404", code)
	}
}

// dockerCLI runs the docker CLI for a test.
func dockerCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// imageIDOf returns the ID of the local image ref.
func imageIDOf(t *testing.T, ref string) string {
	t.Helper()
	return dockerCLI(t, "image", "inspect", "--format", "{{.ID}}", ref)
}
