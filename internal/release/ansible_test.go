package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// ansible runs ansible-playbook on the example playbook against this machine
// (connection local) with everything installed under root and systemd left
// alone. extra is a JSON object of extra variables, or "". It returns the
// combined output and the error.
func ansible(t *testing.T, playbook, root, bin, extra string) (string, error) {
	t.Helper()
	work := t.TempDir()
	inventory := filepath.Join(work, "inventory.ini")
	if err := os.WriteFile(inventory, []byte("[bluegreen]\nlocalhost ansible_connection=local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(work, "ansible.cfg")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	vars, _ := json.Marshal(map[string]any{
		"bluegreen_root":             root,
		"bluegreen_manage_service":   false,
		"bluegreen_binary":           bin,
		"ansible_become":             false,
		"ansible_python_interpreter": "{{ ansible_playbook_python }}",
	})
	args := []string{"-i", inventory, playbook, "-e", string(vars)}
	if extra != "" {
		args = append(args, "-e", extra)
	}
	env := []string{
		"LC_ALL=C.UTF-8", "ANSIBLE_CONFIG=" + cfg, "ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=0",
		"ANSIBLE_HOME=" + filepath.Join(work, "home"), "ANSIBLE_LOCAL_TEMP=" + filepath.Join(work, "tmp"),
		"ANSIBLE_REMOTE_TEMP=" + filepath.Join(work, "remote-tmp"),
	}
	stdout, stderr, err := runSplit(5*time.Minute, filepath.Dir(playbook), env, "ansible-playbook", args...)
	return stdout + stderr, err
}

var recapChanged = regexp.MustCompile(`localhost\s*:.*\bchanged=(\d+)`)

func TestAnsible_Playbook(t *testing.T) {
	requireTool(t, "ansible-playbook", "ansible-core")
	root := repoRoot(t)
	dir := filepath.Join(root, "examples", "ansible")
	playbook := filepath.Join(dir, "playbook.yml")

	t.Run("syntax check", func(t *testing.T) {
		out, err := run(t, 2*time.Minute, dir, []string{"LC_ALL=C.UTF-8", "ANSIBLE_NOCOLOR=1"},
			"ansible-playbook", "--syntax-check", "-i", filepath.Join(dir, "inventory.example.ini"), playbook)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(strings.TrimSpace(out))
	})

	bin := releaseBinary(t)
	dest := t.TempDir()
	appsDir := filepath.Join(dest, "etc", "bluegreen", "apps.d")
	unitDir := filepath.Join(dest, "etc", "systemd", "system")

	t.Run("installs the example", func(t *testing.T) {
		start := time.Now()
		out, err := ansible(t, playbook, dest, bin, "")
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
		t.Logf("ansible-playbook took %s", time.Since(start).Round(time.Millisecond))
		sameFile(t, filepath.Join(dest, "usr", "local", "bin", "bluegreen"), bin, 0o755)
		sameFile(t, filepath.Join(unitDir, "bluegreen.service"), filepath.Join(root, "packaging", "bluegreen.service"), 0o644)
		s3dock := filepath.Join(root, "examples", "s3dock")
		sameFile(t, filepath.Join(dest, "usr", "local", "bin", "bluegreen-s3dock-poll"), filepath.Join(s3dock, "bluegreen-s3dock-poll.sh"), 0o755)
		sameFile(t, filepath.Join(unitDir, "bluegreen-s3dock@.timer"), filepath.Join(s3dock, "bluegreen-s3dock@.timer"), 0o644)
		for _, app := range []string{"web-api", "admin"} {
			dropIn, err := os.ReadFile(filepath.Join(unitDir, "bluegreen-s3dock@"+app+".service.d", "environment.conf"))
			if err != nil || !strings.Contains(string(dropIn), `Environment="S3DOCK_ENVIRONMENT=production"`) {
				t.Errorf("s3dock drop-in of %s: %v %q", app, err, dropIn)
			}
		}
		// The real validate on the rendered example, all files together.
		out, err = run(t, time.Minute, "", nil, bin, "validate", appsDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{"web-api", "admin"} {
			if !strings.Contains(out, app+".yaml: ok") {
				t.Errorf("validate of the rendered apps.d:\n%s\nwant %s.yaml ok", out, app)
			}
		}
	})

	t.Run("a second run changes nothing", func(t *testing.T) {
		out, err := ansible(t, playbook, dest, bin, "")
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
		if m := recapChanged.FindStringSubmatch(out); m == nil || m[1] != "0" {
			t.Fatalf("second run: want changed=0 in the recap:\n%s", out)
		}
	})

	// One app left, with an environment value that tries to break out of
	// its YAML scalar.
	hostile := "q\"uote' # not a comment\nimage: evil:1\n  - x: {y"
	one := appVars(map[string]any{"name": "web-api", "image": "web-api:v2",
		"ports":        map[string]any{"proxy": 8000, "blue": 18000, "green": 18001},
		"health_check": map[string]any{"path": "/health"},
		"docker":       map[string]any{"expose_port": 3000, "environment": map[string]any{"HOSTILE": hostile}},
	})

	t.Run("prunes apps no longer listed and quotes values", func(t *testing.T) {
		out, err := ansible(t, playbook, dest, bin, one)
		if err != nil {
			t.Fatalf("ansible-playbook: %v\n%s", err, out)
		}
		for _, gone := range []string{filepath.Join(appsDir, "admin.yaml"), filepath.Join(unitDir, "bluegreen-s3dock@admin.service.d"), filepath.Join(unitDir, "bluegreen-s3dock@web-api.service.d")} {
			if _, err := os.Stat(gone); !os.IsNotExist(err) {
				t.Errorf("%s still there: %v", gone, err)
			}
		}
		data, err := os.ReadFile(filepath.Join(appsDir, "web-api.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Image  string `yaml:"image"`
			Docker struct {
				Environment map[string]string `yaml:"environment"`
			} `yaml:"docker"`
		}
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			t.Fatalf("rendered web-api.yaml: %v\n%s", err, data)
		}
		if cfg.Image != "web-api:v2" || cfg.Docker.Environment["HOSTILE"] != hostile {
			t.Fatalf("rendered web-api.yaml reads image %q, HOSTILE %q; want web-api:v2 and the value as given\n%s",
				cfg.Image, cfg.Docker.Environment["HOSTILE"], data)
		}
	})

	before, err := os.ReadFile(filepath.Join(appsDir, "web-api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, vars, want string
	}{
		{"an invalid app writes nothing", appVars(map[string]any{"name": "web-api", "image": "web-api:v3",
			"ports":        map[string]any{"proxy": 8000, "blue": 18000, "green": 18001},
			"health_check": map[string]any{"path": "/health", "interval": "2"},
			"docker":       map[string]any{"expose_port": 3000},
		}), `health_check.interval: \"2\" is not a duration`},
		{"apps that clash write nothing", appVars(
			map[string]any{"name": "web-api", "image": "web-api:v3",
				"ports": map[string]any{"proxy": 8000, "blue": 18000, "green": 18001}, "health_check": map[string]any{"path": "/health"},
				"docker": map[string]any{"expose_port": 3000}},
			map[string]any{"name": "other", "image": "other:v1",
				"ports": map[string]any{"proxy": 8000, "blue": 18010, "green": 18011}, "health_check": map[string]any{"path": "/health"},
				"docker": map[string]any{"expose_port": 3000}},
		), "ports.proxy: port 8000"},
		{"an unknown key is not dropped", appVars(map[string]any{"name": "web-api", "image": "web-api:v3",
			"ports": map[string]any{"proxy": 8000, "blue": 18000, "green": 18001}, "healthcheck": map[string]any{"path": "/health"},
			"docker": map[string]any{"expose_port": 3000},
		}), "healthcheck"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ansible(t, playbook, dest, bin, tc.vars)
			if err == nil {
				t.Fatalf("ansible-playbook succeeded; want bluegreen validate to stop it:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output does not carry validate's message %q:\n%s", tc.want, out)
			}
			after, err := os.ReadFile(filepath.Join(appsDir, "web-api.yaml"))
			if err != nil || !bytes.Equal(after, before) {
				t.Fatalf("web-api.yaml changed by a failed run (%v):\n%s", err, after)
			}
			if entries, _ := os.ReadDir(appsDir); len(entries) != 1 {
				t.Fatalf("apps.d holds %d files after a failed run, want 1", len(entries))
			}
		})
	}
}

// appVars is the JSON of extra variables setting bluegreen_apps.
func appVars(apps ...map[string]any) string {
	b, err := json.Marshal(map[string]any{"bluegreen_apps": apps})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sameFile fails the test unless got has want's bytes and the mode perm.
func sameFile(t *testing.T, got, want string, perm os.FileMode) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Errorf("installed file: %v", err)
		return
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs from %s", got, want)
	}
	if fi, err := os.Stat(got); err != nil || fi.Mode().Perm() != perm {
		t.Errorf("%s: mode %v (%v), want %v", got, fmt.Sprint(fi.Mode().Perm()), err, perm)
	}
}
