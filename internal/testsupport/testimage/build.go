package testimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// ExposedPort is the port the test app listens on inside an image made by
// Build (its default PORT).
const ExposedPort = 3000

// Build builds a FROM scratch image tagged tag that runs the test app
// (testdata/testapp) with an ENV line for each entry of env (e.g. VERSION,
// HEALTH_MODE; see the test app's doc). It skips or fails the test like
// RequireDocker when Docker is unreachable. The test app binary is compiled
// once per test process; rebuilding the same tag and env hits the Docker
// build cache. The image outlives t, so images built once per process (in a
// sync.Once) stay usable by later tests; a test that builds a tag of its own
// removes it with t.Cleanup(func() { RemoveImage(t, tag) }). Build returns tag.
func Build(t testing.TB, tag string, env map[string]string) string {
	t.Helper()
	RequireDocker(t)
	bin, err := testappBinary()
	if err != nil {
		t.Fatalf("testimage: build %s: %v", tag, err)
	}
	dockerfile, err := dockerfile(env)
	if err != nil {
		t.Fatalf("testimage: build %s: %v", tag, err)
	}
	dir := t.TempDir()
	if err := copyFile(filepath.Join(dir, "testapp"), bin); err != nil {
		t.Fatalf("testimage: build %s: %v", tag, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatalf("testimage: build %s: %v", tag, err)
	}
	if _, err := docker("build", "-q", "-t", tag, dir); err != nil {
		t.Fatalf("testimage: build %s: %v", tag, err)
	}
	return tag
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// dockerfile returns the Dockerfile of a test app image. ENV lines come after
// COPY, sorted, so images that differ only in env share the binary layer.
func dockerfile(env map[string]string) (string, error) {
	var b strings.Builder
	b.WriteString("FROM scratch\nCOPY testapp /testapp\n")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := env[k]
		if !envKey.MatchString(k) {
			return "", fmt.Errorf("env name %q: want letters, digits and _", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", fmt.Errorf("env %s: value must not contain a newline", k)
		}
		v = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(v)
		fmt.Fprintf(&b, "ENV %s=\"%s\"\n", k, v)
	}
	fmt.Fprintf(&b, "LABEL bluegreen.testimage=\"true\"\nEXPOSE %d\nENTRYPOINT [\"/testapp\"]\n", ExposedPort)
	return b.String(), nil
}

var (
	binMu   sync.Mutex
	binPath string
)

// testappBinary compiles testdata/testapp statically, once per process, and
// returns the binary's path. The binary lives in the temp dir under a name
// derived from the module root, replaced atomically, so concurrent test
// processes never see a partial file.
func testappBinary() (string, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if binPath != "" {
		return binPath, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	gomod, err := run(ctx, "", nil, "go", "env", "GOMOD")
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod = strings.TrimSpace(gomod)
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside a Go module")
	}
	root := filepath.Dir(gomod)
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "bluegreen-testimage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testapp binary: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "testapp-*.tmp")
	if err != nil {
		return "", fmt.Errorf("testapp binary: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if _, err := run(ctx, root, []string{"CGO_ENABLED=0", "GOOS=linux"},
		"go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp.Name(), "./testdata/testapp"); err != nil {
		return "", fmt.Errorf("compile testapp: %w", err)
	}
	final := filepath.Join(dir, "testapp-"+hex.EncodeToString(sum[:6]))
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("testapp binary: %w", err)
	}
	binPath = final
	return binPath, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	return nil
}
