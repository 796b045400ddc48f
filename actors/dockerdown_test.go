package actors

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/api"
	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// TestSystem_DockerUnreachable runs the supervisor against a Docker endpoint
// where nothing listens: it starts, says why the app cannot serve, answers
// deploy requests with 503 and records nothing false.
func TestSystem_DockerUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	rt, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	app := testApp{name: "nodocker", image: "web:v1", proxy: testimage.FreePort(t), blue: testimage.FreePort(t),
		green: testimage.FreePort(t), pullPolicy: "if-not-present", healthTimeout: "5s", drain: "1s",
		websocketDrain: "1s", interval: "200ms"}
	h := &harness{t: t, dir: t.TempDir(), db: filepath.Join(t.TempDir(), "bg.db"), rt: rt}
	h.writeApp(app)
	h.start()

	var st deploy.AppStatus
	eventually(t, 20*time.Second, func() bool {
		st = h.status(app.name)
		return st.Status == deploy.AppFailed && strings.Contains(st.Error, "Docker unreachable")
	}, func() string { return "status " + string(st.Status) + ": " + st.Error })

	var e api.ErrorBody
	if code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: "Bad Image!"}, &e); code != http.StatusBadRequest ||
		!strings.Contains(e.Error.Message, "Bad Image!") {
		t.Fatalf("deploy of an invalid image reference: %d %+v", code, e)
	}
	code := h.post("/api/apps/"+app.name+"/deploy", deploy.Request{DesiredImage: "web:v2"}, &e)
	if code != http.StatusServiceUnavailable || e.Error.Code != "docker_unavailable" || !strings.Contains(e.Error.Message, "is dockerd running?") {
		t.Fatalf("deploy with Docker down: %d %+v", code, e)
	}
	// The proxy answers, and says why it cannot serve.
	resp, err := http.Get(app.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("proxy with nothing to serve: %d, want 503", resp.StatusCode)
	}
	hist, err := h.sys.History(context.Background(), app.name, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range hist {
		if d.Status == deploy.StatusCompleted {
			t.Fatalf("a deployment completed without Docker: %+v", d)
		}
	}
}
