// Package testimage holds helpers for tests that run the project's test app
// (testdata/testapp) in real Docker containers: a Docker check, image builds,
// an in-process registry, cleanup of containers and images, and free ports.
//
// Every helper calls t.Helper and registers its cleanup with t.Cleanup.
package testimage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// LabelApp is the container label that Cleanup selects on.
const LabelApp = "bluegreen.app"

// cmdTimeout bounds one docker CLI call or API call made by these helpers.
const cmdTimeout = 5 * time.Minute

// RequireDocker makes sure the Docker daemon (chosen by DOCKER_HOST like the
// docker CLI does) answers and the docker CLI is installed. When it does not,
// the test fails under CI=true and is skipped otherwise.
func RequireDocker(t testing.TB) {
	t.Helper()
	err := ping()
	if err == nil {
		if _, lerr := exec.LookPath("docker"); lerr != nil {
			err = fmt.Errorf("docker CLI not found in PATH: %w", lerr)
		}
	}
	if err == nil {
		return
	}
	msg := fmt.Sprintf("Docker needed: %v (start dockerd or point DOCKER_HOST at a running daemon)", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping (under CI=true this fails)")
}

// Cleanup registers a t.Cleanup that force-removes every container, in any
// state, labelled bluegreen.app=<app>, with its anonymous volumes.
func Cleanup(t testing.TB, app string) {
	t.Helper()
	t.Cleanup(func() {
		if err := removeContainers(app); err != nil {
			t.Errorf("testimage: clean up containers of %s: %v", app, err)
		}
	})
}

// RemoveImage removes the image reference ref (docker rmi -f). A missing
// image is fine; another failure fails the test.
func RemoveImage(t testing.TB, ref string) {
	t.Helper()
	out, err := docker("rmi", "-f", ref)
	if err != nil && !strings.Contains(out, "No such image") {
		t.Errorf("testimage: remove image %s: %v", ref, err)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testimage: free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("testimage: free port: %v", err)
	}
	return port
}

func ping() error {
	c, err := dockerclient.NewClientFromEnv()
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.PingWithContext(ctx); err != nil {
		return fmt.Errorf("cannot reach Docker at %s: %w", c.Endpoint(), err)
	}
	return nil
}

func removeContainers(app string) error {
	c, err := dockerclient.NewClientFromEnv()
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	list, err := c.ListContainers(dockerclient.ListContainersOptions{
		All:     true,
		Filters: map[string][]string{"label": {LabelApp + "=" + app}},
		Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	var errs []error
	for _, ct := range list {
		err := c.RemoveContainer(dockerclient.RemoveContainerOptions{
			ID: ct.ID, Force: true, RemoveVolumes: true, Context: ctx,
		})
		var nsc *dockerclient.NoSuchContainer
		if err != nil && !errors.As(err, &nsc) {
			errs = append(errs, fmt.Errorf("remove %s: %w", ct.ID, err))
		}
	}
	return errors.Join(errs...)
}

// docker runs the docker CLI and returns its combined output; a failure
// carries the output.
func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	return run(ctx, "", nil, "docker", args...)
}

// run runs name with args in dir and returns the combined output.
func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
