package actors

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/bluegreen/bluegreen/config"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/proxy"
)

// A deployment run's state: what it holds, the results of its steps and
// what it asks of the app actor. Its phases are phase.go's; its life, with
// the one method that changes its phase, is run.go's; the work of each
// phase is phases.go's.

// errGateTimeout ends a gate that health_check_timeout cut short.
var errGateTimeout = errors.New("health_check_timeout")

// deploymentRun is the deployment an app actor is running.
type deploymentRun struct {
	env  *env
	host runHost

	dep      deploy.Deployment // as recorded: status and phases
	gen      uint64            // tags the run's messages; a message of another run is stale
	phase    phase
	color    deploy.Color // the color deployed into
	from     deploy.Color // the active color when the run began
	existing bool         // a manual switch: the candidate is the color's existing container

	candidate    string // the new (or switched-to) container's ID once it was created
	old          string // the old color's container, once it is being stopped
	lastCheckErr string // the gate's last failed check
	why          string // why the candidate is rolled back
	failedIn     phase  // the phase a failed run ended in (fail)
	failure      error  // Docker's answer it failed with

	// Verification on live traffic (verify.go): the settings the deployment
	// began with (nil: not verified), its canary steps, the step it is at,
	// the window watched now, and whether a promote skipped the rest.
	verify   *config.Verify
	steps    []int
	stepIdx  int
	win      *verifyWindow
	winSeq   uint64 // numbers the windows: a timer of another window is stale
	promoted bool

	ctx      context.Context // ends with the run: cancels its steps and the crash watch
	cancel   context.CancelFunc
	stopGate func() // ends the gate: its health_check_timeout timer and its crash watch
}

// runHost is what a run asks of its app actor: the containers, the health
// actors, the proxy and the app's record belong to the actor's other
// parts, and the actor carries each request to its owner.
type runHost interface {
	// retentionPass is closed when the running image retention pass ends;
	// nil when none runs (images.go).
	retentionPass() <-chan struct{}
	// newContainer makes room in d's color for d's new container and
	// decides what happens to the color's standby (standby.go): it returns
	// the spec, and the work to run before the container is created (nil:
	// none).
	newContainer(d deploy.Deployment) (docker.Spec, func(context.Context) error)
	// startExisting marks color's existing container as started by the
	// actor (a manual switch) and returns it.
	startExisting(color deploy.Color) (id string, port int)
	// candidateStarted takes the started candidate (failed: it did not stay
	// up), which Docker started at startedAt, into its color.
	candidateStarted(color deploy.Color, id, image string, port int, deploymentID int64, startedAt time.Time, failed bool)
	// watchHealth runs the health actors the app needs now: the candidate's
	// during its gate.
	watchHealth()
	// passedGate marks color's candidate healthy once its checks in a row
	// reached healthy_threshold, and returns them; false before.
	passedGate(color deploy.Color) (passes int, ok bool)
	// checked reports whether a check of color's container answered.
	checked(color deploy.Color) bool
	// switchTo makes color (serving image) the active color, durably: the
	// store first, then the proxy. It returns the color active before.
	switchTo(color deploy.Color, image string) (from deploy.Color, err error)
	// has reports whether color has a container.
	has(color deploy.Color) bool
	// drainer returns what drains color's requests on the proxy; nil when
	// the proxy does not listen.
	drainer(color deploy.Color) func() proxy.DrainResult
	// stopping marks color's container as stopped by the actor, and returns
	// it ("": none).
	stopping(color deploy.Color) (id string)
	// containerStopped records that color's container was stopped.
	containerStopped(color deploy.Color)
	// rollingBack marks the candidate id as stopped or removed by the
	// actor, and ends its health checks.
	rollingBack(color deploy.Color, id string)
	// candidateRemoved forgets the removed candidate of color (existing: a
	// manual switch's, which was only stopped).
	candidateRemoved(color deploy.Color, existing bool)
	// ended takes the end of the run: the deployment as recorded.
	ended(d deploy.Deployment)

	// Verification (verify.go).

	// running reports whether color has a container that runs: an old
	// color to go back to.
	running(color deploy.Color) bool
	// tally reads what the proxy counted of color's answers so far; a
	// window is the difference of two tallies.
	tally(color deploy.Color) proxy.Tally
	// routeBack moves all traffic to color (serving image) at once: the
	// store first, then the proxy, which it moves even when the store
	// cannot record it; a canary step's split ends with it.
	routeBack(color deploy.Color, image string) error
	// split routes percent of the clients to color, the others to the
	// active color: a canary step.
	split(color deploy.Color, percent int)
}

// newDeploymentRun makes the run of a recorded deployment d, numbered gen,
// from the active color from: existing names a manual switch to the color's
// existing container.
func newDeploymentRun(e *env, h runHost, d deploy.Deployment, gen uint64, from deploy.Color, existing bool) *deploymentRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &deploymentRun{env: e, host: h, dep: d, gen: gen, color: d.Color, from: from, existing: existing, ctx: ctx, cancel: cancel}
	if v := e.cfg.Deployment.Verify; v != nil && !existing { // a manual switch is not verified
		c := *v
		r.verify, r.steps = &c, slices.Clone(e.cfg.Deployment.Canary)
	}
	return r
}

// gating reports whether r runs and is in the health gate of color.
func (r *deploymentRun) gating(color deploy.Color) bool {
	return r != nil && r.color == color && r.phase == phaseHealthChecking
}

// id is the run's deployment ID.
func (r *deploymentRun) id() int64 { return r.dep.DeploymentID }

// image is the image the run deploys.
func (r *deploymentRun) image() string { return r.dep.ToImage }

// deploys reports whether r deploys image (and is no manual switch).
func (r *deploymentRun) deploys(image string) bool { return r.dep.ToImage == image && !r.existing }

// deployment is the deployment as recorded so far (a copy).
func (r *deploymentRun) deployment() deploy.Deployment {
	d := r.dep
	d.Phases = append([]deploy.Phase(nil), d.Phases...)
	if v := d.Verification; v != nil {
		c := *v
		c.Steps = slices.Clone(v.Steps)
		d.Verification = &c
	}
	return d
}

// failedWith is the phase a failed run ended in and Docker's answer that
// failed it; nil when it did not fail.
func (r *deploymentRun) failedWith() (phase, error) {
	if r == nil {
		return phaseNone, nil
	}
	return r.failedIn, r.failure
}

// closeGate ends the gate's timer and crash watch; enter calls it when the
// run leaves health_checking, whichever phase comes next.
func (r *deploymentRun) closeGate() {
	if r.stopGate != nil {
		r.stopGate()
		r.stopGate = nil
	}
}

// halt cancels the run's steps and its timers.
func (r *deploymentRun) halt() {
	r.cancel()
	r.closeGate()
	r.stopWindow()
}

// stepDone ends the phase a run was in when the step began. The step's
// goroutine sends it, or its timer, or the gate.
type stepDone struct {
	gen   uint64
	phase phase // the phase it ends; a result for another phase is stale
	err   error // why the phase failed; nil: it succeeded

	pulled    bool              // pulling: the image was pulled (not found locally)
	container string            // starting: the new container's ID ("" when none was created)
	port      int               // starting: its published port
	startedAt time.Time         // starting: when Docker started it (its clock); zero when it did not stay up
	drained   proxy.DrainResult // draining
	logs      []string          // rolling back: the failed container's last log lines
}

// windowDue is a timer of the window being watched: a tick judges it so
// far and keeps its numbers up to date; end closes it.
type windowDue struct {
	gen, seq uint64
	end      bool
}

// verifyWindow is the window a run watches now.
type verifyWindow struct {
	seq      uint64
	step     int         // percent of clients on the new color
	started  time.Time   // when it began
	start    proxy.Tally // the new color's counters then
	ticks    int         // ticks judged
	stopTick func() bool
	stopEnd  func() bool
}

// stopWindow stops the timers of the window being watched, if any.
func (r *deploymentRun) stopWindow() {
	if w := r.win; w != nil {
		w.stopTick()
		w.stopEnd()
		r.win = nil
	}
}
