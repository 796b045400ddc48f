package release

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// defaultDrainTimeout is the default drain_timeout of docs/config.md, "deployment".
const defaultDrainTimeout = 30 * time.Second

// unitFile is a parsed systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

// last is the value that counts for key in section ("" when unset).
func (u unitFile) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// verifyCopies writes each unit into a temporary folder with its
// ExecStart= program (the installed path, old) replaced by a file that
// exists here (new), runs systemd-analyze verify on them and fails the test
// on any complaint.
func verifyCopies(t *testing.T, analyze string, units map[string]string, execs map[string][2]string) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for name, src := range units {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if e, ok := execs[name]; ok {
			old := "ExecStart=" + e[0]
			if !strings.Contains(text, old) {
				t.Fatalf("%s has no %q", src, old)
			}
			text = strings.ReplaceAll(text, old, "ExecStart="+e[1])
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	stdout, stderr, err := runSplit(time.Minute, dir, nil, analyze, append([]string{"verify", "--man=no"}, paths...)...)
	if err != nil || strings.TrimSpace(stdout+stderr) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s%s", err, stdout, stderr)
	}
}

func TestUnit_Verify(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	root := repoRoot(t)
	unit := filepath.Join(root, "packaging", "bluegreen.service")

	t.Run("bluegreen.service", func(t *testing.T) {
		bin := releaseBinary(t)
		verifyCopies(t, analyze, map[string]string{"bluegreen.service": unit},
			map[string][2]string{"bluegreen.service": {"/usr/local/bin/bluegreen ", bin + " "}})
	})

	t.Run("s3dock poller units", func(t *testing.T) {
		dir := filepath.Join(root, "examples", "s3dock")
		poller := filepath.Join(dir, "bluegreen-s3dock-poll.sh")
		verifyCopies(t, analyze, map[string]string{
			"bluegreen-s3dock@web-api.service": filepath.Join(dir, "bluegreen-s3dock@.service"),
			"bluegreen-s3dock@web-api.timer":   filepath.Join(dir, "bluegreen-s3dock@.timer"),
		}, map[string][2]string{"bluegreen-s3dock@web-api.service": {"/usr/local/bin/bluegreen-s3dock-poll ", poller + " "}})
	})

	t.Run("hardening exposure at most 2.5", func(t *testing.T) {
		// systemd-analyze security rates how exposed a service is, 0 to 10.
		out, stderr, err := runSplit(time.Minute, "", nil, analyze, "security", "--offline=true", "--threshold=25", "--no-pager", unit)
		if strings.Contains(stderr, "unrecognized option") {
			t.Skipf("this systemd-analyze has no offline security check: %s", stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil {
			t.Fatalf("systemd-analyze security: %v: %s\n%s", err, lines[len(lines)-1], stderr)
		}
		t.Log(lines[len(lines)-1])
	})
}

// TestUnit_Contract checks what the unit must keep whatever else changes in
// it: how systemd talks to serve, where serve keeps its files, that stopping
// waits for a drain, and that the hardening leaves the Docker socket and the
// host network reachable.
func TestUnit_Contract(t *testing.T) {
	u := parseUnit(t, filepath.Join(repoRoot(t), "packaging", "bluegreen.service"))
	want := map[string]string{
		"Type":                "notify",
		"NotifyAccess":        "all",
		"ExecReload":          "/bin/kill -HUP $MAINPID",
		"StateDirectory":      "bluegreen",
		"WorkingDirectory":    "/var/lib/bluegreen",
		"ProtectSystem":       "strict",
		"NoNewPrivileges":     "yes",
		"ProtectHome":         "yes",
		"PrivateTmp":          "yes",
		"SupplementaryGroups": "docker",
	}
	for k, v := range want {
		if got := u.last("Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}

	exec := strings.Fields(u.last("Service", "ExecStart"))
	if len(exec) < 2 || exec[0] != "/usr/local/bin/bluegreen" || exec[1] != "serve" {
		t.Fatalf("ExecStart=%q: want /usr/local/bin/bluegreen serve ...", exec)
	}
	flags := map[string]string{}
	for i := 2; i+1 < len(exec); i += 2 {
		flags[exec[i]] = exec[i+1]
	}
	if flags["--apps"] != "/etc/bluegreen/apps.d" || !strings.HasPrefix(flags["--db"], "/var/lib/bluegreen/") {
		t.Errorf("ExecStart flags %v: want --apps /etc/bluegreen/apps.d and --db in /var/lib/bluegreen", flags)
	}
	if api := flags["--api"]; api != "" && !strings.HasPrefix(api, "127.0.0.1:") && !strings.HasPrefix(api, "unix:/run/bluegreen/") {
		t.Errorf("--api %q: want loopback or a socket in the RuntimeDirectory", api)
	}

	switch r := u.last("Service", "Restart"); r {
	case "on-failure", "always":
	default:
		t.Errorf("Restart=%q: want on-failure or always", r)
	}
	// Every bluegreen process of the unit (an old one draining after an
	// upgrade too) must get SIGTERM and drain; "mixed" would SIGKILL it when
	// the new main process exits, "process"/"none" would leave it behind.
	if km := u.last("Service", "KillMode"); km != "" && km != "control-group" {
		t.Errorf("KillMode=%q: want control-group", km)
	}
	stop, err := time.ParseDuration(u.last("Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: want a duration like 120s: %v", u.last("Service", "TimeoutStopSec"), err)
	}
	if stop < 2*defaultDrainTimeout {
		t.Errorf("TimeoutStopSec=%s: want well above the default drain_timeout %s", stop, defaultDrainTimeout)
	}

	// What would cut serve off from Docker or from its clients.
	if v := u.last("Service", "PrivateNetwork"); v != "" && v != "no" {
		t.Errorf("PrivateNetwork=%s: the proxies listen on the host's network", v)
	}
	for _, k := range []string{"IPAddressDeny", "PrivateUsers", "RootDirectory", "RootImage"} {
		if v := u.last("Service", k); v != "" && v != "no" {
			t.Errorf("%s=%s: would cut serve off from its clients or from Docker", k, v)
		}
	}
	for _, k := range []string{"InaccessiblePaths", "TemporaryFileSystem", "ReadWritePaths", "ReadOnlyPaths", "BindPaths", "BindReadOnlyPaths"} {
		for _, v := range u["Service"][k] {
			if strings.Contains(v, "/run") || strings.Contains(v, "docker.sock") {
				t.Errorf("%s=%s: /run/docker.sock must stay visible as it is (a bind mount of the socket pins the old one when Docker restarts)", k, v)
			}
		}
	}
	families := strings.Join(u["Service"]["RestrictAddressFamilies"], " ")
	for _, f := range []string{"AF_UNIX", "AF_INET", "AF_INET6"} {
		if families != "" && !strings.Contains(" "+families+" ", " "+f+" ") {
			t.Errorf("RestrictAddressFamilies=%s lacks %s", families, f)
		}
	}
	if wants := u.last("Unit", "Requires") + u.last("Unit", "BindsTo"); strings.Contains(wants, "docker") {
		t.Errorf("Requires/BindsTo docker: a restart of Docker would stop bluegreen; use Wants=")
	}
}
