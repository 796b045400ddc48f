package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeApps writes files (name → content) under a new temporary folder and
// returns it.
func writeApps(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// validApp is a valid app config with the given name and ports.
func validApp(name, proxy, blue, green string) string {
	return "name: " + name + "\nimage: " + name + ":1\nports:\n  proxy: " + proxy + "\n  blue: " + blue + "\n  green: " + green +
		"\nhealth_check:\n  path: /health\ndocker:\n  expose_port: 3000\n"
}

// validate runs `bluegreen validate args...` in dir and returns its exit
// code, stdout and stderr.
func validate(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), append([]string{"validate"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunValidate(t *testing.T) {
	t.Run("valid folder", func(t *testing.T) {
		dir := writeApps(t, map[string]string{
			"web.yaml": validApp("web-api", "8000", "18000", "18001"),
			"chat.yml": validApp("chat", "8001", "18002", "18003") + "proxy:\n  listen_address: 127.0.0.1\n",
		})
		code, out, errOut := validate(t, dir, ".")
		want := "chat.yml: ok (chat, proxy 127.0.0.1:8001)\nweb.yaml: ok (web-api, proxy :8000)\n"
		if code != 0 || out != want || errOut != "" {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and stdout:\n%s", code, out, errOut, want)
		}
	})

	t.Run("default apps.d", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "apps.d"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "apps.d", "web.yaml"), []byte(validApp("web", "8000", "18000", "18001")), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := validate(t, dir)
		if want := "apps.d/web.yaml: ok (web, proxy :8000)\n"; code != 0 || out != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errOut, want)
		}
	})

	t.Run("every problem across files", func(t *testing.T) {
		dir := writeApps(t, map[string]string{
			"a.yaml": validApp("web", "8000", "18000", "18001"),
			"b.yaml": "name: api\nimage: api:1\nports:\n  proxy: 8000\n  blue: 18010\n  green: 18011\n" +
				"health_check:\n  path: /health\n  interval: \"2\"\ndocker:\n  expose: 3000\n",
		})
		code, out, errOut := validate(t, dir, ".")
		want := strings.Join([]string{
			`b.yaml:4:10: ports.proxy: port 8000 is already ports.proxy of app "web" in a.yaml:4:10; all proxy, blue and green ports must be distinct`,
			`b.yaml:9:13: health_check.interval: "2" is not a duration (use 2s)`,
			`b.yaml:10:1: docker.expose_port: is required (the port the app listens on inside the container)`,
			`b.yaml:11:3: docker.expose: unknown key "expose" (allowed: expose_port, environment, volumes, memory_limit, cpu_limit, restart_policy, pull_policy, network, command, keep_images); did you mean "expose_port"?`,
		}, "\n") + "\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and stderr:\n%s", code, out, errOut, want)
		}
	})

	t.Run("explicit file without yaml extension", func(t *testing.T) {
		dir := writeApps(t, map[string]string{"tmpXk3j9": validApp("web", "8000", "18000", "18001")})
		code, out, errOut := validate(t, dir, "tmpXk3j9")
		if want := "tmpXk3j9: ok (web, proxy :8000)\n"; code != 0 || out != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errOut, want)
		}
	})

	t.Run("missing path", func(t *testing.T) {
		dir := writeApps(t, map[string]string{"web.yaml": validApp("web", "8000", "18000", "18001")})
		code, out, errOut := validate(t, dir, "web.yaml", "nope.yaml")
		if want := "nope.yaml: does not exist\n"; code != 1 || out != "" || errOut != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1, stderr %q", code, out, errOut, want)
		}
	})

	t.Run("empty folder", func(t *testing.T) {
		dir := t.TempDir()
		code, out, errOut := validate(t, dir, ".")
		if want := "bluegreen validate: no app configs (*.yaml, *.yml) in .\n"; code != 0 || out != "" || errOut != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, stderr %q", code, out, errOut, want)
		}
	})

	t.Run("unknown flag", func(t *testing.T) {
		code, out, errOut := validate(t, "", "--strict", "apps.d")
		if code != 2 || out != "" || !strings.Contains(errOut, "unknown flag --strict") || !strings.Contains(errOut, "usage: bluegreen validate") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 2 with a usage line", code, out, errOut)
		}
	})

	for _, flag := range []string{"-h", "--help"} {
		t.Run("help "+flag, func(t *testing.T) {
			code, out, errOut := validate(t, "", flag)
			if code != 0 || !strings.HasPrefix(out, "usage: bluegreen validate [PATH ...]") || errOut != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 with usage on stdout", code, out, errOut)
			}
		})
	}

	t.Run("dash dash ends flags", func(t *testing.T) {
		dir := writeApps(t, map[string]string{"-web.yaml": validApp("web", "8000", "18000", "18001")})
		code, out, errOut := validate(t, dir, "--", "-web.yaml")
		if want := "-web.yaml: ok (web, proxy :8000)\n"; code != 0 || out != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q", code, out, errOut, want)
		}
	})
}
