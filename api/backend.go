package api

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Backend is what the HTTP server needs from the supervisor. The actors
// package implements it by turning each call into a message.
type Backend interface {
	// Deploy sets an app's desired image and starts (or queues) a deployment.
	Deploy(ctx context.Context, app string, req DeployRequest) (DeployResponse, error)
	// Rollback deploys the image of the last completed deployment before the current one.
	Rollback(ctx context.Context, app string) (DeployResponse, error)
	// Switch moves traffic to the other color's container after it passes health checks.
	Switch(ctx context.Context, app, color string) (AppStatus, error)
	// Apps returns the status of every app, sorted by name.
	Apps(ctx context.Context) ([]AppStatus, error)
	// App returns one app's status.
	App(ctx context.Context, name string) (AppStatus, error)
	// History returns an app's deployments, newest first.
	History(ctx context.Context, app string, limit, offset int) ([]Deployment, error)
	// Deployment returns one deployment with its phases.
	Deployment(ctx context.Context, id int64) (Deployment, error)
	// WaitDeployment blocks until the deployment ends or ctx is done, then returns it.
	WaitDeployment(ctx context.Context, id int64) (Deployment, error)
	// Health returns recent health checks per color.
	Health(ctx context.Context, app string, limit int) (map[string]ColorHealth, error)
	// Events returns audit trail entries with id > afterID (app "" = all), oldest first, at most limit.
	Events(ctx context.Context, app string, afterID int64, limit int) ([]Event, error)
	// Subscribe streams new events until cancel is called.
	Subscribe(ctx context.Context) (events <-chan Event, cancel func())
	// Reload re-reads the app configs.
	Reload(ctx context.Context) (ReloadResult, error)
	// Logs writes the active container's logs to w.
	Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error
	// Overall returns the supervisor's health summary.
	Overall(ctx context.Context) (Health, error)
}

// Error is an error with an API code and HTTP status. Backends return it (or
// wrap one of the sentinels below) so the server answers with the right status.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels a backend may wrap; the server maps them to HTTP statuses.
var (
	ErrNotFound          = errors.New("not found")          // 404 not_found
	ErrConflict          = errors.New("conflict")           // 409 conflict
	ErrInvalid           = errors.New("invalid")            // 400 invalid
	ErrDockerUnavailable = errors.New("docker unavailable") // 503 docker_unavailable
)
