package deploy

// Status is where a deployment stands (docs/deployments.md, "Deployment statuses").
type Status string

// Deployment statuses: a deployment runs through the first eight in order
// (canary and verifying only when verified, docs/verification.md) and ends
// with one of the last five.
const (
	StatusQueued         Status = "queued"
	StatusPulling        Status = "pulling"
	StatusStarting       Status = "starting"
	StatusHealthChecking Status = "health_checking"
	StatusCanary         Status = "canary" // canary steps: a percent of clients on the new color, each step judged
	StatusSwitching      Status = "switching"
	StatusVerifying      Status = "verifying" // all traffic on the new color, its window judged; the old container runs
	StatusDraining       Status = "draining"
	StatusCompleted      Status = "completed"
	StatusFailed         Status = "failed"      // nothing was started, or it broke before health checks
	StatusRolledBack     Status = "rolled_back" // the new container was not healthy; the old one kept serving
	StatusSuperseded     Status = "superseded"  // a newer request replaced it while queued
	StatusInterrupted    Status = "interrupted" // the supervisor stopped in the middle
)

// RunningStatuses are the statuses of a deployment that has not ended.
var RunningStatuses = []Status{StatusQueued, StatusPulling, StatusStarting,
	StatusHealthChecking, StatusCanary, StatusSwitching, StatusVerifying, StatusDraining}

// FinalStatuses are the statuses that end a deployment.
var FinalStatuses = []Status{StatusCompleted, StatusFailed, StatusRolledBack,
	StatusSuperseded, StatusInterrupted}

// Final reports whether s ends a deployment.
func (s Status) Final() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusRolledBack, StatusSuperseded, StatusInterrupted:
		return true
	}
	return false
}

// Event returns the type of the event that records a deployment reaching s
// (deployment.completed, deployment.queued, ...).
func (s Status) Event() EventType { return EventType(deploymentEvents + string(s)) }

// State is what an app is doing (AppStatus.Status).
type State string

// App states.
const (
	AppStable    State = "stable"
	AppDeploying State = "deploying"
	AppDegraded  State = "degraded" // the active container is unhealthy or gone, or Docker unreachable
	AppFailed    State = "failed"   // nothing serves
	AppStopped   State = "stopped"  // nothing known yet
)

// States are all app states, in the order above.
var States = []State{AppStable, AppDeploying, AppDegraded, AppFailed, AppStopped}

// Health is how a container fares in its health checks (Container.Health,
// ColorHealth.Status).
type Health string

// Container health.
const (
	Healthy     Health = "healthy"   // passed healthy_threshold checks in a row
	Unhealthy   Health = "unhealthy" // failed unhealthy_threshold checks in a row since
	Starting    Health = "starting"  // checked, not yet healthy
	Unchecked   Health = "unknown"   // not checked now (stopped, or no result yet)
	NoContainer Health = "none"      // the color has no container
)

// Kind says what kind of change a deployment is (Deployment.Kind).
type Kind string

// Deployment kinds.
const (
	KindDeploy   Kind = "deploy"   // a deploy request: a new image, or the current one again
	KindRollback Kind = "rollback" // a rollback request: the image of the completed deployment before
	KindSwitch   Kind = "switch"   // a manual switch to the other color's existing container
	KindConfig   Kind = "config"   // the first start of an app: the config's image
)

// Kinds are all deployment kinds, in the order above.
var Kinds = []Kind{KindDeploy, KindRollback, KindSwitch, KindConfig}

// Trigger says who asked for a deployment (Deployment.TriggerSource).
type Trigger string

// Trigger sources.
const (
	TriggerS3dock Trigger = "s3dock"
	TriggerManual Trigger = "manual" // ctl, switch and rollback
	TriggerAPI    Trigger = "api"    // the default of a deploy request
	TriggerConfig Trigger = "config" // the first start of an app
)

// Answer says what a deploy request did (Response.Status).
type Answer string

// Answers of a deploy request.
const (
	AnswerStarted   Answer = "started"
	AnswerQueued    Answer = "queued"
	AnswerUnchanged Answer = "unchanged" // the image is active and healthy: nothing to do
	// AnswerRollingBack answers a rollback asked while a deployment is in
	// canary or verifying: that deployment moves traffic back to the old
	// color and ends rolled_back (docs/verification.md).
	AnswerRollingBack Answer = "rolling_back"
)
