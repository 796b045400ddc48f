package deploy

import (
	"slices"
	"testing"
)

func TestStatus_Final(t *testing.T) {
	for _, s := range FinalStatuses {
		if !s.Final() || slices.Contains(RunningStatuses, s) {
			t.Errorf("%s: final %v", s, s.Final())
		}
		if !s.Event().EndsDeployment() {
			t.Errorf("%s ends a deployment but its event %s does not", s, s.Event())
		}
	}
	for _, s := range RunningStatuses {
		if s.Final() || s.Event().EndsDeployment() {
			t.Errorf("%s: final", s)
		}
	}
	if StatusRolledBack.Event() != EventDeploymentRolledBack || StatusQueued.Event() != EventDeploymentQueued {
		t.Fatal("Status.Event does not name the event types")
	}
}

func TestEventType(t *testing.T) {
	for _, tt := range []struct {
		typ  EventType
		rest string
		dep  bool
		ends bool
	}{
		{EventDeploymentPhase, "phase", true, false},
		{EventDeploymentStarted, "started", true, false},
		{EventDeploymentCompleted, "completed", true, true},
		{EventDeploymentInterrupted, "interrupted", true, true},
		{EventDeploymentRetryScheduled, "retry_scheduled", true, false}, // no end: the failed deployment ended before
		{EventProxySwitched, "", false, false},
		{"deploymentx.completed", "", false, false},
	} {
		rest, dep := tt.typ.OfDeployment()
		if rest != tt.rest || dep != tt.dep || tt.typ.EndsDeployment() != tt.ends {
			t.Errorf("%s: OfDeployment %q %v, ends %v", tt.typ, rest, dep, tt.typ.EndsDeployment())
		}
	}
}
