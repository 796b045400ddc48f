package api

import (
	"context"
	"io"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluegreen/bluegreen/deploy"
)

// Backend is what the HTTP server needs from the supervisor; actors.System
// implements it by turning each call into a message. Its errors carry a
// deploy.Code (a *deploy.Error in their chain); the server maps the code to
// the HTTP status.
type Backend interface {
	// Deploy sets an app's desired image and starts (or queues) a deployment.
	// The request is normalized (deploy.Request.Normalize).
	Deploy(ctx context.Context, app string, req deploy.Request) (deploy.Response, error)
	// Rollback deploys the image of the last completed deployment before the
	// current one; during a deployment's canary or verifying it moves the
	// traffic back to the old color and answers that deployment with
	// deploy.AnswerRollingBack (docs/verification.md).
	Rollback(ctx context.Context, app string) (deploy.Response, error)
	// Promote skips the remaining canary steps and verification window of
	// the app's deployment: all traffic goes to the new color and the
	// deployment goes on to draining. ECONFLICT when no deployment is in
	// canary or verifying.
	Promote(ctx context.Context, app string) (deploy.AppStatus, error)
	// Switch moves traffic to the other color's container after it passes health checks.
	Switch(ctx context.Context, app string, color deploy.Color) (deploy.AppStatus, error)
	// SetTraffic pauses an app, puts it in maintenance or resumes it
	// (docs/traffic.md); the change is checked (TrafficChange.Check). It
	// returns the app's status with its new mode.
	SetTraffic(ctx context.Context, app string, change deploy.TrafficChange) (deploy.AppStatus, error)
	// Apps returns the status of every app, sorted by name.
	Apps(ctx context.Context) ([]deploy.AppStatus, error)
	// App returns one app's status.
	App(ctx context.Context, name string) (deploy.AppStatus, error)
	// History returns an app's deployments, newest first.
	History(ctx context.Context, app string, limit, offset int) ([]deploy.Deployment, error)
	// Deployment returns one deployment with its phases.
	Deployment(ctx context.Context, id int64) (deploy.Deployment, error)
	// WaitDeployment blocks until the deployment ends or ctx is done, then returns it.
	WaitDeployment(ctx context.Context, id int64) (deploy.Deployment, error)
	// Health returns recent health checks per color.
	Health(ctx context.Context, app string, limit int) (map[deploy.Color]deploy.ColorHealth, error)
	// Events returns audit trail entries with id > afterID (app "" = all), oldest first, at most limit.
	Events(ctx context.Context, app string, afterID int64, limit int) ([]deploy.Event, error)
	// Subscribe streams new events until cancel is called.
	Subscribe(ctx context.Context) (events <-chan deploy.Event, cancel func())
	// Reload re-reads the app configs.
	Reload(ctx context.Context) (deploy.ReloadResult, error)
	// Logs writes the active container's logs to w.
	Logs(ctx context.Context, app string, tail int, follow bool, w io.Writer) error
	// Overall returns the supervisor's health summary.
	Overall(ctx context.Context) (deploy.Overall, error)
	// Images returns the app's images that bluegreen keeps (those its
	// deployments used that are still present in Docker), newest first.
	Images(ctx context.Context, app string) ([]deploy.Image, error)
	// Metrics returns the registry of the supervisor's metrics
	// (docs/metrics.md, "Families"), which GET /metrics serves.
	Metrics() prometheus.Gatherer
}
