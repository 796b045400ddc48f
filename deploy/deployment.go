package deploy

import (
	"strings"
	"time"
)

// Deployment is one deployment of an app (GET /api/deployments/{id}).
type Deployment struct {
	DeploymentID  int64      `json:"deployment_id"`
	App           string     `json:"app"`
	FromImage     string     `json:"from_image"`
	ToImage       string     `json:"to_image"`
	Color         Color      `json:"color"`
	TriggerSource Trigger    `json:"trigger_source"`
	Kind          Kind       `json:"kind"` // what kind of change it is
	Status        Status     `json:"status"`
	Error         string     `json:"error"` // why it failed or rolled back
	Logs          []string   `json:"logs"`  // the failed container's last log lines
	StartedAt     time.Time  `json:"started_at"`
	CompletedAt   *time.Time `json:"completed_at"`
	DurationMS    int64      `json:"duration_ms"`
	Phases        []Phase    `json:"phases"`
	// Verification is the window of a verified deployment (canary step or
	// verifying) being watched now, or the last one; nil when it was not
	// verified (docs/verification.md).
	Verification *Verification `json:"verification"`
}

// Done reports whether the deployment has reached a final status.
func (d *Deployment) Done() bool { return d.Status.Final() }

// End gives d a final status and the reason, stamped at now.
func (d *Deployment) End(status Status, why string, now time.Time) {
	d.Status, d.Error = status, why
	d.CompletedAt = &now
	d.DurationMS = now.Sub(d.StartedAt).Milliseconds()
}

// Phase is one step of a deployment: a running status (pulling, starting,
// health_checking, switching, draining) or one of the steps between them
// (stopping the old container, rollback of a failed one).
type Phase struct {
	Name       string    `json:"name"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// Request asks for a deployment (the body of POST /api/apps/{name}/deploy).
type Request struct {
	DesiredImage  string  `json:"desired_image,omitempty"`  // "": a new deployment of the current image
	TriggerSource Trigger `json:"trigger_source,omitempty"` // "": api
}

// Normalize trims the image and sets the default trigger source, api. A
// trigger source a client may not send is EINVALID.
func (r *Request) Normalize() error {
	if r.TriggerSource == "" {
		r.TriggerSource = TriggerAPI
	}
	switch r.TriggerSource {
	case TriggerS3dock, TriggerManual, TriggerAPI:
	default:
		return Errorf(EINVALID, "trigger_source %q is not one of s3dock, manual, api", r.TriggerSource)
	}
	r.DesiredImage = strings.TrimSpace(r.DesiredImage)
	return nil
}

// Response answers a deploy or rollback request: the deployment and what
// the request did.
type Response struct {
	DeploymentID int64  `json:"deployment_id"`
	Status       Answer `json:"status"`
}
