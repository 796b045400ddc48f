package deploy

import "time"

// AppStatus is the status of one app (GET /api/apps/{name}/status).
type AppStatus struct {
	Name           string                `json:"name"`
	Status         State                 `json:"status"`
	ActiveColor    Color                 `json:"active_color"`
	CurrentImage   string                `json:"current_image"`
	DesiredImage   string                `json:"desired_image"`
	Ports          Ports                 `json:"ports"`
	Containers     Containers            `json:"containers"`
	Deployment     *Deployment           `json:"deployment"` // the running one
	LastDeployment *Deployment           `json:"last_deployment"`
	Stats          Stats                 `json:"stats"`
	Connections    map[Color]Connections `json:"connections"`
	Traffic        Traffic               `json:"traffic"`         // serving, paused or maintenance (docs/traffic.md)
	Error          string                `json:"error,omitempty"` // why the app is failed or degraded
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
	State  string `json:"state"` // Docker's: created, running, exited, ...
	Health Health `json:"health"`
	// HealthPasses counts the container's consecutive passed checks, of
	// HealthyThreshold needed to promote it (ctl deploy --wait shows n/threshold).
	HealthPasses     int `json:"health_passes"`
	HealthyThreshold int `json:"healthy_threshold"`
}

// Containers holds the blue and green containers; nil when a color has none.
type Containers struct {
	Blue  *Container `json:"blue"`
	Green *Container `json:"green"`
}

// Of returns the container of color (nil when it has none).
func (cs Containers) Of(color Color) *Container {
	switch color {
	case Blue:
		return cs.Blue
	case Green:
		return cs.Green
	}
	return nil
}

// Set makes ct the container of color.
func (cs *Containers) Set(color Color, ct *Container) {
	if color == Blue {
		cs.Blue = ct
	} else {
		cs.Green = ct
	}
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

// HealthCheck is one health check result.
type HealthCheck struct {
	At             time.Time `json:"at"`
	Success        bool      `json:"success"`
	StatusCode     int       `json:"status_code"`
	ResponseTimeMS float64   `json:"response_time_ms"`
	Error          string    `json:"error,omitempty"`
	// Starting marks a failed check of a container that has not passed one
	// since it started: not a failure (docs/deployments.md, "Health checks").
	Starting bool `json:"starting"`
}

// ColorHealth is the health of one color (GET /api/apps/{name}/health).
type ColorHealth struct {
	Healthy             bool          `json:"healthy"`
	Status              Health        `json:"status"`
	Container           string        `json:"container"` // the container's state (running, exited, ...), "" when none
	LastCheck           *time.Time    `json:"last_check"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	Checks              []HealthCheck `json:"checks"`
}

// ReloadResult says what a config reload changed.
type ReloadResult struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
}

// Overall is the supervisor's health summary (GET /health).
type Overall struct {
	Status    string           `json:"status"` // OverallHealthy, OverallDegraded or OverallUnhealthy
	Apps      map[string]State `json:"apps"`
	PID       int              `json:"pid"`        // the serving process (docs/api.md, "Supervisor health")
	Version   string           `json:"version"`    // its version
	StartedAt time.Time        `json:"started_at"` // when it started
}

// The supervisor's health (Overall.Status).
const (
	OverallHealthy   = "healthy"
	OverallDegraded  = "degraded"  // an app is failed or degraded
	OverallUnhealthy = "unhealthy" // it has apps but none can serve: GET /health answers 503
)

// CanServe reports whether an app's proxy has a running container to send
// requests to: it is stable, or deploying or degraded with its active
// container running.
func (st AppStatus) CanServe() bool {
	switch st.Status {
	case AppStable:
		return true
	case AppDeploying, AppDegraded:
		ct := st.Containers.Of(st.ActiveColor)
		return ct != nil && ct.State == "running"
	}
	return false
}

// UpgradeStatus is what POST /api/upgrade answers (docs/api.md, "Upgrade").
type UpgradeStatus struct {
	Status  string `json:"status"`   // UpgradeStarted
	OldPID  int    `json:"old_pid"`  // the process being replaced
	EventID int64  `json:"event_id"` // its supervisor.upgrading event: the outcome is recorded after it
}

// UpgradeStarted is UpgradeStatus.Status of a started upgrade.
const UpgradeStarted = "upgrading"
