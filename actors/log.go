package actors

// Log attribute keys, used by every actor.
const (
	keyApp          = "app"
	keyColor        = "color"
	keyDeploymentID = "deployment_id"
	keyImage        = "image"
	keyContainer    = "container"
	keyFrom         = "from"
	keyTo           = "to"
	keyErr          = "err"
	keyStatus       = "status"
	keyPhase        = "phase"
	keyDuration     = "duration_ms"
	keyTrigger      = "trigger"
)
