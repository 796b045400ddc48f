package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testimage"
)

// TestServe_EndToEnd runs `bluegreen serve` against the real Docker daemon
// and drives it with `bluegreen ctl`, as an operator would.
func TestServe_EndToEnd(t *testing.T) {
	testimage.RequireDocker(t)
	v1 := testimage.Build(t, "bluegreen-test-cli:v1", map[string]string{"VERSION": "v1"})
	v2 := testimage.Build(t, "bluegreen-test-cli:v2", map[string]string{"VERSION": "v2"})
	broken := testimage.Build(t, "bluegreen-test-cli:broken", map[string]string{"VERSION": "broken", "HEALTH_MODE": "fail"})
	for _, img := range []string{v1, v2, broken} {
		t.Cleanup(func() { testimage.RemoveImage(t, img) })
	}
	app := fmt.Sprintf("clie2e-%d", time.Now().UnixNano()%1_000_000)
	testimage.Cleanup(t, app)
	proxyPort, apiPort := testimage.FreePort(t), testimage.FreePort(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`name: %s
image: %s
ports: {proxy: %d, blue: %d, green: %d}
health_check: {path: /health, interval: 200ms, timeout: 1s}
docker: {expose_port: 3000}
deployment: {health_check_timeout: 3s, drain_timeout: 2s, stop_timeout: 1s}
`, app, v1, proxyPort, testimage.FreePort(t), testimage.FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, app+".yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", apiPort)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	served := make(chan int, 1)
	go func() {
		served <- Run(ctx, []string{"serve", "--apps", dir, "--db", filepath.Join(t.TempDir(), "bg.db"),
			"--api", apiAddr, "--log-format", "json"}, io.Discard, logs)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve logs:\n%s", logs.String())
		}
	})

	ctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"ctl", "--api", apiAddr}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	// Wait until the first start deployed v1.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, out, _ := ctl("status", app, "--json")
		var st deploy.AppStatus
		if code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Status == deploy.AppStable && st.CurrentImage == v1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app not stable: %d %s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	get := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", proxyPort))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	if got := get(); got != "v1" {
		t.Fatalf("proxy answered %q, want v1", got)
	}

	code, out, errOut := ctl("deploy", app, v2, "--wait")
	if code != 0 || !strings.Contains(out, "completed") {
		t.Fatalf("deploy --wait: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := get(); got != "v2" {
		t.Fatalf("proxy answered %q after deploy, want v2", got)
	}

	code, out, errOut = ctl("deploy", app, broken, "--wait")
	if code != 1 || !strings.Contains(out+errOut, "rolled") || !strings.Contains(out+errOut, "health_check_timeout") {
		t.Fatalf("deploy --wait of a broken image: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := get(); got != "v2" {
		t.Fatalf("proxy answered %q after the rollback, want v2", got)
	}

	code, out, _ = ctl("history", app, "--json")
	var hist []deploy.Deployment
	if code != 0 || json.Unmarshal([]byte(out), &hist) != nil || len(hist) != 3 {
		t.Fatalf("history: %d %s", code, out)
	}
	if hist[0].Status != deploy.StatusRolledBack || hist[1].TriggerSource != deploy.TriggerManual || hist[2].TriggerSource != deploy.TriggerConfig {
		t.Fatalf("history = %+v", hist)
	}
	// ctl images: the three images the deployments used, newest first.
	code, out, _ = ctl("images", app, "--json")
	var images []deploy.Image
	if code != 0 || json.Unmarshal([]byte(out), &images) != nil || len(images) != 3 ||
		images[0].Image != broken || images[1].Image != v2 || !images[1].InUse || images[2].Image != v1 {
		t.Fatalf("images: %d %s", code, out)
	}
	if code, out, _ = ctl("images", app); code != 0 || !strings.Contains(out, "IN USE") || !strings.Contains(out, v2) {
		t.Fatalf("images table: %d %s", code, out)
	}
	if code, out, errOut = ctl("status"); code != 0 || !strings.Contains(out, app) {
		t.Fatalf("status table: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = ctl("status", "no-such-app"); code != 1 || !strings.Contains(errOut, "no-such-app") {
		t.Fatalf("status of an unknown app: %d %s", code, errOut)
	}

	cancel()
	select {
	case code := <-served:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	// The containers outlive the supervisor.
	if got := get(); !strings.Contains(got, "refused") {
		t.Fatalf("proxy still answering after serve stopped: %q", got)
	}
	code, _, errOut = ctl("status")
	if code != 1 || !strings.Contains(errOut, `is "bluegreen serve" running?`) {
		t.Fatalf("ctl with serve stopped: %d %s", code, errOut)
	}
}

func TestServe_BadConfigStartsNothing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte("name: web\nimage: web:v1\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"serve", "--apps", dir, "--db", filepath.Join(t.TempDir(), "bg.db")}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "web.yaml:3:1") {
		t.Fatalf("serve with a bad config: %d %s", code, errOut.String())
	}
	if code := Run(context.Background(), []string{"serve", "--log-format", "xml"}, &out, &errOut); code != 2 {
		t.Fatalf("serve with a bad flag value: %d", code)
	}
}
