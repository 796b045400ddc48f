package actors

import (
	"fmt"

	"github.com/bluegreen/bluegreen/deploy"
)

// phase is where a deployment run stands. A run goes through the phases in
// the order of the lifecycle (docs/deployments.md, "The lifecycle"; its
// steps are numbered below), and only advance moves it from one to the next.
type phase int

const (
	phaseNone           phase = iota // not begun
	phasePulling                     // 2: the image is made present
	phaseStarting                    // 3: the color's old container is replaced by a new one, started
	phaseHealthChecking              // 4: the gate, health checks until healthy_threshold passes
	phaseCanary                      // 4a: one canary step: a percent of clients on the new color for a window (docs/verification.md)
	phaseSwitching                   // 5: the proxy moves to the new container
	phaseVerifying                   // 5a: all traffic on the new color for a window, the old container running (docs/verification.md)
	phaseDraining                    // 6: the old color's requests and WebSockets finish
	phaseStopping                    // 7: the old container is stopped, kept for a switch back
	phaseRollingBack                 // R: the new container, not healthy, is stopped and removed
	phaseReverting                   // V: a window failed: all traffic back on the old color, the new color drains
)

var phaseNames = [...]string{"none", "pulling", "starting", "health_checking", "canary", "switching", "verifying",
	"draining", "stopping", "rollback", "reverting"}

// String is the phase's name in Deployment.Phases.
func (p phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return fmt.Sprintf("phase(%d)", int(p))
	}
	return phaseNames[p]
}

// status is the deployment status a run shows in phase p; false for the
// phases that keep the status of the one before (stopping, rollback,
// reverting).
func (p phase) status() (deploy.Status, bool) {
	switch p {
	case phasePulling:
		return deploy.StatusPulling, true
	case phaseStarting:
		return deploy.StatusStarting, true
	case phaseHealthChecking:
		return deploy.StatusHealthChecking, true
	case phaseCanary:
		return deploy.StatusCanary, true
	case phaseSwitching:
		return deploy.StatusSwitching, true
	case phaseVerifying:
		return deploy.StatusVerifying, true
	case phaseDraining:
		return deploy.StatusDraining, true
	}
	return "", false
}
