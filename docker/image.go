package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// Pull policies of EnsureImage (the apps.d `docker.pull_policy` values).
const (
	PullIfNotPresent = "if-not-present"
	PullAlways       = "always"
	PullNever        = "never"
)

// DefaultPullPolicy is the policy used when EnsureImage gets "".
const DefaultPullPolicy = PullIfNotPresent

// EnsureImage makes the image ref present locally according to policy and
// reports whether it pulled. A ref without a tag or digest means :latest.
//
//   - "if-not-present" (or ""): a present image is used as is and never
//     pulled (images loaded with `docker load` have no registry); a missing
//     one is pulled.
//   - "always": pulled every time.
//   - "never": a missing image is an error matching ErrImageMissing.
//
// A missing image that could not be pulled matches ErrImageMissing too, its
// message saying first why (not found locally, and the registry could not
// be reached or does not have it); a failed pull of "always" names the
// image, the policy and the registry's cause.
func (c *Client) EnsureImage(ctx context.Context, ref, policy string) (pulled bool, err error) {
	if policy == "" {
		policy = DefaultPullPolicy
	}
	repo, tag := splitRef(ref)
	full := joinRef(repo, tag)
	if repo == "" {
		return false, fmt.Errorf("image %q: empty reference", ref)
	}
	switch policy {
	case PullAlways:
	case PullIfNotPresent, PullNever:
		present, err := c.imagePresent(ctx, full)
		if err != nil {
			return false, err
		}
		if present {
			return false, nil
		}
		if policy == PullNever {
			return false, &missingError{"image " + full + " not found locally and pull_policy is never (load it with docker load or docker pull, or change pull_policy)"}
		}
	default:
		return false, fmt.Errorf("image %s: unknown pull policy %q (use %s, %s or %s)", full, policy, PullIfNotPresent, PullAlways, PullNever)
	}
	if err := c.pull(ctx, repo, tag, policy != PullAlways); err != nil {
		return false, err
	}
	return true, nil
}

// imagePresent reports whether the daemon has the image ref. go-dockerclient
// has no context for image inspection, so the call runs aside and ctx only
// bounds the wait for it.
func (c *Client) imagePresent(ctx context.Context, ref string) (bool, error) {
	type result struct {
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, err := c.dc.InspectImage(ref)
		done <- result{err}
	}()
	var err error
	select {
	case r := <-done:
		err = r.err
	case <-ctx.Done():
		return false, fmt.Errorf("inspect image %s: %w", ref, context.Cause(ctx))
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, dockerclient.ErrNoSuchImage):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, c.wrap(err))
	}
}

// pull pulls repo:tag (tag may be a digest "sha256:..."); missing: the
// image is not present locally. A failure says first, in its own words,
// what that means (not found locally, the registry could not be reached or
// does not have it), then the daemon's words.
func (c *Client) pull(ctx context.Context, repo, tag string, missing bool) error {
	full := joinRef(repo, tag)
	err := c.dc.PullImage(dockerclient.PullImageOptions{
		Repository:   repo,
		Tag:          tag,
		OutputStream: io.Discard,
		Context:      ctx,
	}, dockerclient.AuthConfiguration{})
	if err == nil {
		return nil
	}
	if ue := c.unavailable(err); ue != nil {
		return fmt.Errorf("pull %s: %w", full, ue)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("pull %s: %w", full, context.Cause(ctx))
	}
	msg := apiMessage(err)
	what := "pull " + full + " (pull_policy always)"
	if missing {
		what = "image " + full + " not found locally"
	}
	switch {
	case apiStatus(err) == http.StatusNotFound || notFoundMessage(msg):
		if missing {
			return &missingError{what + " nor in the registry: " + msg}
		}
		return &missingError{what + ": the registry does not have it: " + msg}
	case unreachableMessage(msg):
		if missing {
			return &missingError{what + " and the registry could not be reached: " + msg}
		}
		return fmt.Errorf("%s: the registry could not be reached: %s", what, msg)
	case missing:
		return &missingError{what + " and the pull failed: " + msg}
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// missingError says why an image is neither present locally nor pulled; it
// matches ErrImageMissing.
type missingError struct{ msg string }

func (e *missingError) Error() string        { return e.msg }
func (e *missingError) Is(target error) bool { return target == ErrImageMissing }

// unreachableMessage reports whether a pull error streamed by the daemon
// says the registry could not be reached (its name, its address, its TLS).
func unreachableMessage(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"dial tcp", "no such host", "connection refused", "i/o timeout",
		"network is unreachable", "tls handshake timeout", "request canceled while waiting for connection",
		"server misbehaving", "connection reset"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// notFoundMessage reports whether a pull error streamed by the daemon says
// the registry lacks the image.
func notFoundMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "manifest unknown") || strings.Contains(m, "not found") ||
		strings.Contains(m, "repository does not exist")
}

// splitRef splits an image reference into repository and tag (or digest);
// a reference without either gets the tag "latest".
func splitRef(ref string) (repo, tag string) {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// joinRef is the inverse of splitRef.
func joinRef(repo, tag string) string {
	if strings.Contains(tag, ":") {
		return repo + "@" + tag
	}
	return repo + ":" + tag
}
