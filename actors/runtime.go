package actors

import (
	"context"
	"io"
	"time"

	"github.com/bluegreen/bluegreen/docker"
)

// Runtime is the container runtime the app actors drive: only the Docker
// calls they make.
type Runtime interface {
	Ping(ctx context.Context) error
	EnsureImage(ctx context.Context, ref, policy string) (pulled bool, err error)
	Create(ctx context.Context, s docker.Spec) (string, error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string) error
	// Rename renames a container (a standby set aside: standby.go).
	Rename(ctx context.Context, id, name string) error
	Inspect(ctx context.Context, nameOrID string) (docker.Container, error)
	List(ctx context.Context, labels map[string]string) ([]docker.Container, error)
	// Summaries lists them in one call, with only their ID, name, image,
	// state and labels (the supervisor's reconcile).
	Summaries(ctx context.Context, labels map[string]string) ([]docker.Container, error)
	Logs(ctx context.Context, id string, tail int) ([]string, error)
	StreamLogs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error
	// Events streams the events of the containers carrying labels, from
	// since, until ctx ends or the stream breaks: then the channel closes.
	Events(ctx context.Context, since time.Time, labels map[string]string) (<-chan docker.Event, error)

	// Image retention (images.go).
	Images(ctx context.Context) ([]docker.Image, error)
	ImagesInUse(ctx context.Context) (map[string]bool, error)
	RemoveImage(ctx context.Context, ref string) error
}

var _ Runtime = (*docker.Client)(nil)
