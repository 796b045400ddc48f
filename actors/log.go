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

// short is a container ID as logs and events show it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
