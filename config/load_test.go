package config

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeFiles writes files (name → content) under a new temporary folder and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// errorLines returns the problems of err, one string each, with dir made
// relative so that the expectations do not depend on the temporary folder.
func errorLines(t *testing.T, err error, dir string) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	var lines []string
	for _, e := range errs {
		line := e.Error()
		if dir != "" {
			line = strings.ReplaceAll(line, dir+string(filepath.Separator), "")
		}
		lines = append(lines, line)
	}
	return lines
}

// app is a valid app config with the given name and ports.
func app(name, proxy, blue, green string) string {
	return "name: " + name + "\nimage: " + name + ":1\nports:\n  proxy: " + proxy + "\n  blue: " + blue + "\n  green: " + green +
		"\nhealth_check:\n  path: /health\ndocker:\n  expose_port: 3000\n"
}

func TestLoad(t *testing.T) {
	t.Run("folder sorted by name", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"1-zeta.yaml":     app("zeta", "8000", "18000", "18001"),
			"2-alpha.yml":     app("alpha", "8001", "18002", "18003"),
			"notes.txt":       "not a config",
			".hidden.yaml":    "not: read",
			"web.yaml.bak":    "not: read",
			"sub/other.yaml":  "not: read",
			"dir.yaml/x.yaml": "not: read",
		})
		apps, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range apps {
			got = append(got, a.Name+" "+filepath.Base(a.File))
		}
		want := []string{"alpha 2-alpha.yml", "zeta 1-zeta.yaml"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("every problem of every file", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"a.yaml": app("web", "8000", "18000", "18001"),
			"b.yaml": "name: api\nimage: api:1\nports:\n  proxy: 8001\n  blue: 18001\n  green: 18002\n" +
				"health_check:\n  path: /health\n  interval: \"2\"\n  retries: 3\ndocker:\n  memory_limit: 64m\n",
			"c.yaml": app("web", "9000", "19000", "19001"),
		})
		_, err := Load(dir)
		got := errorLines(t, err, dir)
		want := []string{
			`b.yaml:5:9: ports.blue: port 18001 is already ports.green of app "web" in a.yaml:6:10; all proxy, blue and green ports must be distinct`,
			`b.yaml:9:13: health_check.interval: "2" is not a duration (use 2s)`,
			`b.yaml:10:3: health_check.retries: unknown key "retries" (allowed: path, method, timeout, interval, healthy_threshold, unhealthy_threshold, expected_status)`,
			`b.yaml:11:1: docker.expose_port: is required (the port the app listens on inside the container)`,
			`c.yaml:1:7: name: "web" is already the name of the app in a.yaml:1:7`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("explicit file whatever its extension", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"ansible.tmp.xyz": app("web", "8000", "18000", "18001")})
		apps, err := Load(filepath.Join(dir, "ansible.tmp.xyz"))
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 || apps[0].Name != "web" || apps[0].File != filepath.Join(dir, "ansible.tmp.xyz") {
			t.Errorf("got %+v", apps)
		}
	})

	t.Run("missing path is a problem like the others", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"a.yaml": "name: [x]\n"})
		_, err := Load(filepath.Join(dir, "nope"), dir)
		got := errorLines(t, err, dir)
		want := []string{
			`a.yaml:1:1: image: is required (the image deployed on first start, e.g. web-api:1.0)`,
			`a.yaml:1:1: ports: is required (a mapping with proxy, blue and green)`,
			`a.yaml:1:1: health_check: is required (a mapping with at least path)`,
			`a.yaml:1:1: docker: is required (a mapping with at least expose_port)`,
			`a.yaml:1:7: name: expected a name, got a list`,
			`nope: does not exist`,
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("same file twice is read once", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"a.yaml": app("web", "8000", "18000", "18001")})
		apps, err := Load(dir, filepath.Join(dir, "a.yaml"), dir+"/./")
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 {
			t.Errorf("got %d apps, want 1", len(apps))
		}
	})

	t.Run("empty folder", func(t *testing.T) {
		apps, err := LoadDir(t.TempDir())
		if err != nil || len(apps) != 0 {
			t.Errorf("got %v, %v; want no apps, no error", apps, err)
		}
	})
}

func TestLoad_Testdata(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		dir := filepath.Join("testdata", "valid")
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 3 {
			t.Fatalf("only %d files in %s", len(entries), dir)
		}
		for _, e := range entries {
			t.Run(e.Name(), func(t *testing.T) {
				if _, err := Load(filepath.Join(dir, e.Name())); err != nil {
					t.Errorf("not valid:\n%v", err)
				}
			})
		}
		apps, err := LoadDir(dir)
		if err != nil {
			t.Fatalf("the folder is not valid:\n%v", err)
		}
		if len(apps) != len(entries) {
			t.Errorf("loaded %d apps from %d files", len(apps), len(entries))
		}
	})

	t.Run("invalid", func(t *testing.T) {
		dir := filepath.Join("testdata", "invalid")
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 5 {
			t.Fatalf("only %d files in %s", len(entries), dir)
		}
		for _, e := range entries {
			t.Run(e.Name(), func(t *testing.T) {
				file := filepath.Join(dir, e.Name())
				want := wantLine(t, file)
				_, err := Load(file)
				if err == nil {
					t.Fatal("loaded without error")
				}
				if !slicesContain(errorLines(t, err, ""), file+":"+want) {
					t.Errorf("problems:\n%v\nwant among them:\n%s:%s", err, file, want)
				}
			})
		}
	})
}

// wantLine reads the "# want: " comment on the first line of an invalid file.
func wantLine(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	want, ok := strings.CutPrefix(strings.TrimSpace(line), "# want: ")
	if !ok {
		t.Fatalf("%s does not start with a \"# want: \" comment", file)
	}
	return want
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLoad_RepoAppsDir(t *testing.T) {
	dir := filepath.Join("..", "apps.d")
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		t.Skip("the repo has no apps.d folder yet")
	}
	if _, err := LoadDir(dir); err != nil {
		t.Errorf("apps.d is not valid:\n%v", err)
	}
}
