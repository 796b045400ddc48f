package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/docker"
)

// The retry of a deployment that failed while nothing served the app
// (docs/faults.md, "A first start that meets a slow or absent Docker"). A
// first start that met a slow Docker (its start timed out), an absent one
// (unreachable), or a start Docker refused, would otherwise leave the app
// failed until someone deploys it by hand. Such a deployment is deployed
// again, as a new deployment of the same image and trigger, after 2 s, then
// twice as long after each further failure, up to a minute, until the app
// serves: deployment.retry_scheduled says when. A deployment that rolled
// back (a bad image: unhealthy, crashed) or whose image is missing is not
// retried; any newer deployment (a request, a resumed one) replaces a retry
// that waits, and a removal of the app's config drops it. A pause for an
// upgrade holds it (the process that takes over starts the app anew);
// lifted, it is due at once, and so is it when Docker answers again after
// it was unreachable (the app's resync). A start of serve (after a kill -9 too) begins
// a first start anew (adopt.go) and keeps no retry.

// Retry timing.
const (
	retryFirst = 2 * time.Second // the wait before the first retry
	retryMax   = time.Minute     // the longest wait between retries
)

// deployRetry is the retry of a failed deployment: what is retried, how
// often it was, and its timer. Only its methods change it.
type deployRetry struct {
	env      *env
	failed   *deploy.Deployment // the failed deployment to deploy again; nil: no retry waits
	why      string             // why it failed
	attempts int                // retries scheduled since a deployment last ended otherwise
	at       time.Time          // when the retry is due
	gen      uint64             // tags its timer; another generation's retryDue is stale
	stop     func() bool        // the timer; nil when it is not armed (paused, or due)
}

// schedule makes d, which failed because of why, due again after a wait
// that doubles with each retry, and records it.
func (r *deployRetry) schedule(d deploy.Deployment, why string) {
	r.attempts++
	r.failed, r.why = &d, why
	wait := min(retryFirst<<min(r.attempts-1, 10), retryMax)
	e := r.env
	e.log.Warn("deployment failed while nothing serves: retrying", keyDeploymentID, d.DeploymentID, keyImage, d.ToImage,
		"attempt", r.attempts, "in", wait.String(), keyErr, why)
	e.event(d.DeploymentID, deploy.EventDeploymentRetryScheduled,
		fmt.Sprintf("deployment %d failed while nothing serves %s: deploying %s again in %s (retry %d)",
			d.DeploymentID, e.cfg.Name, d.ToImage, wait, r.attempts),
		map[string]any{"status": d.Status, "image": d.ToImage, "trigger_source": d.TriggerSource,
			"attempt": r.attempts, "delay_ms": wait.Milliseconds(), "error": why})
	r.arm(wait)
}

// arm starts the timer: retryDue after wait.
func (r *deployRetry) arm(wait time.Duration) {
	r.disarm()
	r.gen++
	r.at = time.Now().Add(wait)
	r.stop = r.env.after(wait, retryDue{gen: r.gen})
}

// disarm stops the timer; the retry still waits.
func (r *deployRetry) disarm() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
}

// due takes msg: when it is the timer of the waiting retry, it returns the
// deployment to deploy again; the retry waits on until it begins (drop).
func (r *deployRetry) due(msg retryDue) (deploy.Deployment, bool) {
	if msg.gen != r.gen || r.failed == nil || r.stop == nil {
		return deploy.Deployment{}, false
	}
	r.stop = nil
	return *r.failed, true
}

// pause stops the timer while the app does not drive Docker (pause.go);
// resume arms it again.
func (r *deployRetry) pause() { r.disarm() }

// resume makes a retry that waits due at once: the app drives Docker
// again after a pause (the retry waited without a timer, or came due while
// paused), or Docker answers again after it was unreachable, when waiting
// out the rest of a backoff of up to a minute would only delay a
// deployment that may work now.
func (r *deployRetry) resume() {
	if r.failed == nil {
		return
	}
	if r.stop != nil {
		r.env.log.Info("docker answers again: the retry is due now", keyDeploymentID, r.failed.DeploymentID,
			"attempt", r.attempts, "was_due_in", time.Until(r.at).Round(time.Millisecond).String())
	}
	r.arm(0)
}

// drop forgets the waiting retry: another deployment begins.
func (r *deployRetry) drop() {
	r.disarm()
	r.failed, r.why = nil, ""
}

// reset starts the backoff over: a deployment ended otherwise than with a
// failure that is retried.
func (r *deployRetry) reset() {
	r.drop()
	r.attempts = 0
}

// waiting reports whether a retry waits.
func (r *deployRetry) waiting() bool { return r.failed != nil }

// reason says why the app does not serve while a retry waits.
func (r *deployRetry) reason() string {
	return fmt.Sprintf("deployment %d failed: %s: retry %d at %s", r.failed.DeploymentID, r.why, r.attempts,
		r.at.UTC().Format(time.RFC3339))
}

// retryable reports whether a deployment that failed with err in phase p
// may succeed when tried again: Docker timed out or was unreachable, or it
// refused a create or a start; not a missing image, nor another failure to
// pull (the registry's answer: the operator acts on it).
func retryable(p phase, err error) bool {
	switch {
	case err == nil, errors.Is(err, docker.ErrImageMissing):
		return false
	case errors.Is(err, docker.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return p == phaseStarting
}
