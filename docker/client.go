// Package docker is bluegreen's Docker runtime: it makes images present,
// creates, starts, stops, removes and inspects containers, reads their logs
// and streams their events, over the Docker Engine API
// (github.com/fsouza/go-dockerclient).
//
// Every error names the image or container and the cause. An error caused by
// the daemon being unreachable matches ErrUnavailable with errors.Is.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnavailable means the Docker daemon cannot be reached.
	ErrUnavailable = errors.New("docker unavailable")
	// ErrNotFound means there is no such container.
	ErrNotFound = errors.New("not found")
	// ErrImageMissing means an image is neither present locally nor pullable
	// (pull policy never, or the registry does not have it).
	ErrImageMissing = errors.New("image missing")
	// ErrNameInUse means a container with the requested name already exists.
	ErrNameInUse = errors.New("name already in use")
)

// Client talks to one Docker daemon. It is safe for concurrent use.
type Client struct {
	dc *dockerclient.Client

	startMu      sync.Mutex  // serializes starts until versionKnown
	versionKnown atomic.Bool // go-dockerclient has learned the server's API version

	evMu   sync.Mutex                   // guards evIn
	evIn   chan *dockerclient.APIEvents // the event subscription (events.go); nil: none
	evTurn chan struct{}                // held by the one reader of evIn
}

// New returns a client for the daemon the environment names, like the docker
// CLI does (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
// DOCKER_API_VERSION; default unix:///var/run/docker.sock). It does no
// network I/O: use Ping to check the daemon answers.
func New() (*Client, error) {
	dc, err := dockerclient.NewClientFromEnv()
	if err != nil {
		return nil, fmt.Errorf("docker client from environment: %w", err)
	}
	return &Client{dc: dc, evTurn: make(chan struct{}, 1)}, nil
}

// CloseIdle closes the client's idle connections to the daemon: a process
// that is done with Docker (serve after it stopped) keeps none open.
func (c *Client) CloseIdle() {
	if c.dc.HTTPClient != nil {
		c.dc.HTTPClient.CloseIdleConnections()
	}
}

// Endpoint returns the daemon's address, e.g. "unix:///var/run/docker.sock".
func (c *Client) Endpoint() string {
	return c.dc.Endpoint()
}

// Ping checks that the daemon answers. Any failure other than ctx being
// canceled matches ErrUnavailable and reads like
// `cannot reach Docker at unix:///var/run/docker.sock: <cause>: is dockerd running?`.
func (c *Client) Ping(ctx context.Context) error {
	err := c.dc.PingWithContext(ctx)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("ping docker: %w", err)
	}
	if ue := c.unavailable(err); ue != nil {
		return ue
	}
	return &unavailableError{endpoint: c.Endpoint(), cause: err}
}

// unavailableError is a failure to reach the daemon; it matches ErrUnavailable.
type unavailableError struct {
	endpoint string
	cause    error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("cannot reach Docker at %s: %v: is dockerd running?", e.endpoint, e.cause)
}

func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

func (e *unavailableError) Unwrap() error { return e.cause }

// unavailable returns err as an *unavailableError when it is a failure to
// connect to or talk with the daemon, else nil.
func (c *Client) unavailable(err error) error {
	if errors.Is(err, dockerclient.ErrConnectionRefused) {
		return &unavailableError{endpoint: c.Endpoint(), cause: errors.New("connection refused")}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return &unavailableError{endpoint: c.Endpoint(), cause: op}
	}
	return nil
}

// wrap marks connection failures with ErrUnavailable and leaves other errors
// as they are.
func (c *Client) wrap(err error) error {
	if ue := c.unavailable(err); ue != nil {
		return ue
	}
	return err
}

// apiStatus returns the HTTP status of a daemon error answer, 0 if err is not one.
func apiStatus(err error) int {
	var e *dockerclient.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// apiMessage returns the daemon's message of an error answer, else err's text.
func apiMessage(err error) string {
	var e *dockerclient.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
