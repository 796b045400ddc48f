package release

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binaryName is what scripts/release.sh builds.
const binaryName = "bluegreen-linux-amd64"

var (
	// distDir holds this test process's release build; removed by TestMain.
	distDir string

	buildOnce sync.Once
	buildErr  error
	buildTime time.Duration
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bluegreen-release-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	distDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// releaseBinary runs scripts/release.sh once per test process, into a
// temporary folder, and returns the path of the binary it built.
func releaseBinary(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the release build is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	buildOnce.Do(func() {
		start := time.Now()
		_, buildErr = run(t, 10*time.Minute, repoRoot(t), nil, filepath.Join(repoRoot(t), "scripts", "release.sh"), distDir)
		buildTime = time.Since(start)
	})
	if buildErr != nil {
		t.Fatalf("scripts/release.sh: %v", buildErr)
	}
	return filepath.Join(distDir, binaryName)
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the module's root folder (where go.mod is).
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			rootErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			rootErr = fmt.Errorf("not inside the Go module")
			return
		}
		rootDir = filepath.Dir(gomod)
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

// run runs name with args in dir with env added to the test's environment,
// bounded by timeout, and returns stdout. A failure carries stderr.
func run(t testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	stdout, stderr, err := runSplit(timeout, dir, env, name, args...)
	if err != nil {
		return stdout, fmt.Errorf("%s %s: %w\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, nil
}

// runSplit runs a command like run and returns its stdout and stderr apart.
func runSplit(timeout time.Duration, dir string, env []string, name string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// exitCode is the exit status of a finished command's error (0 for nil).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// requireTool finds an executable on PATH. When it is missing the test fails
// under CI=true (.ci/run installs it) and is skipped elsewhere.
func requireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found on PATH (Debian: apt-get install %s)", name, debianPackage)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping (under CI=true this fails)")
	return ""
}

// uniqueName is a name no other test or helper uses: prefix-<random hex>.
func uniqueName(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// waitFor calls check until it returns nil or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
