package deploy

import (
	"encoding/json"
	"strings"
	"time"
)

// EventType names a kind of audit trail entry (Event.Type).
type EventType string

// deploymentEvents prefixes the types of the events of a deployment.
const deploymentEvents = "deployment."

// Event types of the audit trail. Deployment events carry Event.DeploymentID;
// their Data holds at least {"status": ..., "phase": ..., "error": ...} where known.
const (
	EventDeploymentQueued      EventType = "deployment.queued"
	EventDeploymentStarted     EventType = "deployment.started"
	EventDeploymentPhase       EventType = "deployment.phase" // Data: {"phase": "pulling", "status": "pulling"}
	EventDeploymentCompleted   EventType = "deployment.completed"
	EventDeploymentFailed      EventType = "deployment.failed"
	EventDeploymentRolledBack  EventType = "deployment.rolled_back"
	EventDeploymentSuperseded  EventType = "deployment.superseded"
	EventDeploymentInterrupted EventType = "deployment.interrupted"
	EventProxySwitched         EventType = "proxy.switched" // Data: {"from": "blue", "to": "green"}
	EventDrainStarted          EventType = "drain.started"
	EventDrainCompleted        EventType = "drain.completed"
	EventContainerCreated      EventType = "container.created"
	EventContainerStarted      EventType = "container.started"
	EventContainerStopped      EventType = "container.stopped"
	EventContainerRemoved      EventType = "container.removed"
	EventContainerHealthy      EventType = "container.healthy"
	EventContainerUnhealthy    EventType = "container.unhealthy"
	EventContainerExited       EventType = "container.exited"     // Data: {"color", "container", "exit_code", "oom_killed"}
	EventContainerRestarting   EventType = "container.restarting" // bluegreen starts a dead active container: {"color", "attempt"}
	EventAppState              EventType = "app.state"            // Data: {"from": "deploying", "to": "stable"}
	EventAppRemoved            EventType = "app.removed"          // removed from the configs: its proxy closed, its containers stopped
	EventActorFailed           EventType = "actor.failed"
	EventConfigLoaded          EventType = "config.loaded"
	EventConfigReloaded        EventType = "config.reloaded"
	EventSupervisorStarted     EventType = "supervisor.started"
	EventSupervisorStopped     EventType = "supervisor.stopped"
	// docs/upgrades.md, "Step by step": an upgrade of serve onto the binary at its path.
	EventSupervisorUpgrading     EventType = "supervisor.upgrading"      // Data: {"old_pid", "old_version", "executable"}
	EventSupervisorUpgraded      EventType = "supervisor.upgraded"       // Data: {"old_pid", "new_pid", "old_version", "new_version"}
	EventSupervisorUpgradeFailed EventType = "supervisor.upgrade_failed" // Data: {"old_pid", "new_pid", "reason", "logs"}
)

// Event types of image retention (docs/deployments.md, "Image retention").
const (
	// EventImageRemoved records an image removed by tag after a completed
	// deployment. Data: {"image", "id", "size_bytes", "last_deployment_id",
	// "deployment_id"}; a metrics collector counts bluegreen_images_removed_total{app} from it.
	EventImageRemoved EventType = "image.removed"
	// EventImageRemoveFailed records a removal that Docker refused or that
	// failed; the deployment is not affected. Data: {"image", "id", "error"}.
	EventImageRemoveFailed EventType = "image.remove_failed"
)

// Event types of a deployment's retry (docs/faults.md, "A first start that
// meets a slow or absent Docker").
const (
	// EventDeploymentRetryScheduled records that a deployment which failed
	// for a passing reason (Docker timed out, was unreachable, or refused a
	// create or start) while nothing served the app is deployed again after
	// a wait. It carries the failed deployment's ID. Data: {"status",
	// "image", "trigger_source", "attempt", "delay_ms", "error"}.
	EventDeploymentRetryScheduled EventType = "deployment.retry_scheduled"
)

// Event types of traffic control (docs/traffic.md, "Events").
const (
	// EventTrafficPaused records a pause, or a change of a pause's
	// max_wait. Data: {"from", "max_wait_ms"}.
	EventTrafficPaused EventType = "traffic.paused"
	// EventTrafficMaintenance records a maintenance, or a change of its
	// message. Data: {"from", "message", "retry_after_ms", "held"}: held
	// counts the requests a pause held that got the maintenance answer.
	EventTrafficMaintenance EventType = "traffic.maintenance"
	// EventTrafficResumed records a resume. Data: {"from", "held"}: held
	// counts the requests that were held and then sent.
	EventTrafficResumed EventType = "traffic.resumed"
)

// TrafficEvent returns the type of the event that records a change to mode m.
func TrafficEvent(m TrafficMode) EventType {
	switch m {
	case TrafficPaused:
		return EventTrafficPaused
	case TrafficMaintenance:
		return EventTrafficMaintenance
	}
	return EventTrafficResumed
}

// OfDeployment reports whether t is a deployment event, and what follows
// "deployment." in it: a status (started, completed, ...) or "phase".
func (t EventType) OfDeployment() (string, bool) {
	rest, ok := strings.CutPrefix(string(t), deploymentEvents)
	if !ok {
		return "", false
	}
	return rest, true
}

// EndsDeployment reports whether an event of type t records that a
// deployment reached a final status.
func (t EventType) EndsDeployment() bool {
	s, ok := t.OfDeployment()
	return ok && Status(s).Final()
}

// Event is one entry of the audit trail.
type Event struct {
	ID           int64           `json:"id"`
	At           time.Time       `json:"at"`
	App          string          `json:"app"`
	DeploymentID *int64          `json:"deployment_id"`
	Type         EventType       `json:"type"`
	Message      string          `json:"message"`
	Data         json.RawMessage `json:"data"`
}

// Of reports whether e is an event of deployment id.
func (e Event) Of(id int64) bool { return e.DeploymentID != nil && *e.DeploymentID == id }
