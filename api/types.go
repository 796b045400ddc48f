// Package api holds the management API of bluegreen: the JSON shapes of
// CONTRACT §5, the HTTP server that serves them over a Backend, and the client
// that `bluegreen ctl` uses.
package api

import (
	"encoding/json"
	"time"
)

// Deployment statuses (CONTRACT §4).
const (
	StatusQueued         = "queued"
	StatusPulling        = "pulling"
	StatusStarting       = "starting"
	StatusHealthChecking = "health_checking"
	StatusSwitching      = "switching"
	StatusDraining       = "draining"
	StatusCompleted      = "completed"
	StatusFailed         = "failed"
	StatusRolledBack     = "rolled_back"
	StatusSuperseded     = "superseded"
	StatusInterrupted    = "interrupted"
)

// App statuses (AppStatus.Status).
const (
	AppStable    = "stable"
	AppDeploying = "deploying"
	AppDegraded  = "degraded"
	AppFailed    = "failed"
	AppStopped   = "stopped"
)

// Trigger sources of a deployment.
const (
	TriggerS3dock = "s3dock"
	TriggerManual = "manual"
	TriggerAPI    = "api"
	TriggerConfig = "config"
)

// Answers of a deploy request (DeployResponse.Status).
const (
	DeployStarted   = "started"
	DeployQueued    = "queued"
	DeployUnchanged = "unchanged"
)

// DeployRequest is the body of POST /api/apps/{name}/deploy.
type DeployRequest struct {
	DesiredImage  string `json:"desired_image,omitempty"`
	TriggerSource string `json:"trigger_source,omitempty"`
}

// DeployResponse answers a deploy or rollback request.
type DeployResponse struct {
	DeploymentID int64  `json:"deployment_id"`
	Status       string `json:"status"`
}

// SwitchRequest is the body of POST /api/apps/{name}/switch.
type SwitchRequest struct {
	Color string `json:"color"`
}

// Ports are an app's configured ports.
type Ports struct {
	Proxy int `json:"proxy"`
	Blue  int `json:"blue"`
	Green int `json:"green"`
}

// Container describes one color's container as Docker last reported it.
type Container struct {
	ID     string `json:"id"`
	Image  string `json:"image"`
	State  string `json:"state"`  // created, running, exited, missing, ...
	Health string `json:"health"` // healthy, unhealthy, unknown
}

// Containers holds the blue and green containers; nil when a color has none.
type Containers struct {
	Blue  *Container `json:"blue"`
	Green *Container `json:"green"`
}

// Stats summarises an app's deployment history.
type Stats struct {
	Deployments   int     `json:"deployments"`
	Completed     int     `json:"completed"`
	Failed        int     `json:"failed"`
	RolledBack    int     `json:"rolled_back"`
	SuccessRate   float64 `json:"success_rate"`
	AvgDurationMS int64   `json:"avg_duration_ms"`
	P95DurationMS int64   `json:"p95_duration_ms"`
}

// Connections counts open proxied connections of one color.
type Connections struct {
	HTTP      int64 `json:"http"`
	WebSocket int64 `json:"websocket"`
}

// AppStatus is the status of one app (GET /api/apps/{name}/status).
type AppStatus struct {
	Name           string                 `json:"name"`
	Status         string                 `json:"status"`
	ActiveColor    string                 `json:"active_color"`
	CurrentImage   string                 `json:"current_image"`
	DesiredImage   string                 `json:"desired_image"`
	Ports          Ports                  `json:"ports"`
	Containers     Containers             `json:"containers"`
	Deployment     *Deployment            `json:"deployment"`
	LastDeployment *Deployment            `json:"last_deployment"`
	Stats          Stats                  `json:"stats"`
	Connections    map[string]Connections `json:"connections"`
	Error          string                 `json:"error,omitempty"` // why the app is failed or degraded
}

// Phase is one step of a deployment.
type Phase struct {
	Name       string    `json:"name"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// Deployment is one deployment of an app (GET /api/deployments/{id}).
type Deployment struct {
	DeploymentID  int64      `json:"deployment_id"`
	App           string     `json:"app"`
	FromImage     string     `json:"from_image"`
	ToImage       string     `json:"to_image"`
	Color         string     `json:"color"`
	TriggerSource string     `json:"trigger_source"`
	Status        string     `json:"status"`
	Error         string     `json:"error"`
	Logs          []string   `json:"logs"`
	StartedAt     time.Time  `json:"started_at"`
	CompletedAt   *time.Time `json:"completed_at"`
	DurationMS    int64      `json:"duration_ms"`
	Phases        []Phase    `json:"phases"`
}

// Done reports whether the deployment has reached a final status.
func (d *Deployment) Done() bool {
	switch d.Status {
	case StatusCompleted, StatusFailed, StatusRolledBack, StatusSuperseded, StatusInterrupted:
		return true
	}
	return false
}

// HealthCheck is one health check result.
type HealthCheck struct {
	At             time.Time `json:"at"`
	Success        bool      `json:"success"`
	StatusCode     int       `json:"status_code"`
	ResponseTimeMS float64   `json:"response_time_ms"`
	Error          string    `json:"error,omitempty"`
}

// ColorHealth is the health of one color (GET /api/apps/{name}/health).
type ColorHealth struct {
	Healthy             bool          `json:"healthy"`
	Status              string        `json:"status"`    // healthy, unhealthy, starting, unknown (not checked now), none (no container)
	Container           string        `json:"container"` // the container's state (running, exited, ...), "" when none
	LastCheck           *time.Time    `json:"last_check"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	Checks              []HealthCheck `json:"checks"`
}

// Event is one entry of the audit trail.
type Event struct {
	ID           int64           `json:"id"`
	At           time.Time       `json:"at"`
	App          string          `json:"app"`
	DeploymentID *int64          `json:"deployment_id"`
	Type         string          `json:"type"`
	Message      string          `json:"message"`
	Data         json.RawMessage `json:"data"`
}

// ReloadResult says what a config reload changed.
type ReloadResult struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
}

// Health is the answer of GET /health.
type Health struct {
	Status string            `json:"status"`
	Apps   map[string]string `json:"apps"`
}

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries an error code and a human message.
type ErrorDetail struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

// Event types of the audit trail. Deployment events carry Event.DeploymentID;
// their Data holds at least {"status": ..., "phase": ..., "error": ...} where known.
const (
	EventDeploymentQueued      = "deployment.queued"
	EventDeploymentStarted     = "deployment.started"
	EventDeploymentPhase       = "deployment.phase" // Data: {"phase": "pulling", "status": "pulling"}
	EventDeploymentCompleted   = "deployment.completed"
	EventDeploymentFailed      = "deployment.failed"
	EventDeploymentRolledBack  = "deployment.rolled_back"
	EventDeploymentSuperseded  = "deployment.superseded"
	EventDeploymentInterrupted = "deployment.interrupted"
	EventProxySwitched         = "proxy.switched" // Data: {"from": "blue", "to": "green"}
	EventDrainStarted          = "drain.started"
	EventDrainCompleted        = "drain.completed"
	EventContainerCreated      = "container.created"
	EventContainerStarted      = "container.started"
	EventContainerStopped      = "container.stopped"
	EventContainerRemoved      = "container.removed"
	EventContainerHealthy      = "container.healthy"
	EventContainerUnhealthy    = "container.unhealthy"
	EventContainerExited       = "container.exited"
	EventAppState              = "app.state" // Data: {"from": "deploying", "to": "stable"}
	EventConfigLoaded          = "config.loaded"
	EventConfigReloaded        = "config.reloaded"
	EventSupervisorStarted     = "supervisor.started"
	EventSupervisorStopped     = "supervisor.stopped"
)

// FinalEventType returns the event type that ends a deployment with status.
func FinalEventType(status string) string {
	return "deployment." + status
}
