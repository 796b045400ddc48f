package deploy

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Verification is the window a verified deployment watches now, or watched
// last (Deployment.Verification, docs/verification.md): the new color's
// requests, errors and p99 in it, and how it was judged.
type Verification struct {
	// Step is the percent of clients on the new color: a canary step's, or
	// 100 in verifying.
	Step int `json:"step"`
	// Steps are the canary steps of the deployment, in order (empty: none).
	Steps []int `json:"steps"`
	// WindowMS is the window's length (deployment.verify.window).
	WindowMS int64 `json:"window_ms"`
	// ElapsedMS is how long the window has watched so far.
	ElapsedMS int64 `json:"elapsed_ms"`
	// Requests counts the new color's answers in the window.
	Requests int64 `json:"requests"`
	// Errors counts its 5xx answers, the proxy's own 502, 503 and 504 included.
	Errors int64 `json:"errors"`
	// ErrorRate is Errors/Requests, a fraction (0.12 for 12%); 0 without requests.
	ErrorRate float64 `json:"error_rate"`
	// P99MS is the p99 of the answers' durations in the window, in milliseconds.
	P99MS float64 `json:"p99_ms"`
	// Result says how the window stands: running, passed, failed or promoted.
	Result VerificationResult `json:"result"`
}

// VerificationResult says how a verification window stands
// (Verification.Result).
type VerificationResult string

// Verification results.
const (
	VerificationRunning  VerificationResult = "running"  // the window is being watched
	VerificationPassed   VerificationResult = "passed"   // judged and passed
	VerificationFailed   VerificationResult = "failed"   // judged and failed: traffic went back to the old color
	VerificationPromoted VerificationResult = "promoted" // cut short by a promote: the rest was skipped
)

// VerifyStepAll is Verification.Step in verifying: all clients are on the
// new color.
const VerifyStepAll = 100

// Limits are what a verification window must stay within
// (deployment.verify).
type Limits struct {
	MaxErrorRate float64       // a fraction, 0.01 for 1%
	MinRequests  int           // fewer requests: judged on health alone
	MaxP99       time.Duration // 0: not judged
}

// WindowNumbers are what the proxy counted of the new color in a window.
type WindowNumbers struct {
	Requests int64         // answers
	Errors   int64         // 5xx answers
	P99      time.Duration // of the answers' durations
}

// Rate is the share of errors among the requests, a fraction; 0 without
// requests.
func (w WindowNumbers) Rate() float64 {
	if w.Requests <= 0 {
		return 0
	}
	return float64(w.Errors) / float64(w.Requests)
}

// Judge tells whether a window with numbers w fails the limits l, and why
// ("" when it passes). A window with fewer than l.MinRequests requests
// passes here: it is judged on the new container's health alone, which the
// deployment watches apart. It is a pure function of its arguments.
func Judge(l Limits, w WindowNumbers) (why string) {
	if w.Requests < int64(l.MinRequests) || w.Requests == 0 {
		return ""
	}
	// A rate equal to the limit passes; the tolerance absorbs the rounding
	// of a percent written in a config into a binary fraction.
	if rate := w.Rate(); rate > l.MaxErrorRate+1e-12 {
		return fmt.Sprintf("5xx %.1f%% of %d requests (max %s)", rate*100, w.Requests, Percent(l.MaxErrorRate))
	}
	if l.MaxP99 > 0 && w.P99 > l.MaxP99 {
		return fmt.Sprintf("p99 %s of %d requests (max %s)", roundDuration(w.P99), w.Requests, l.MaxP99)
	}
	return ""
}

// FailedAt is a deployment's error when its window at step failed for why
// (Judge's, or the new container's exit): "verification failed at 50%: ...".
func FailedAt(step int, why string) string {
	return fmt.Sprintf("verification failed at %d%%: %s", step, why)
}

// RolledBackByRequest is the error of a deployment that a rollback asked
// during canary or verifying ended.
const RolledBackByRequest = "rolled back by request"

// Percent writes a fraction as a percent as short as it reads in a config:
// 0.01 is "1%", 0.005 "0.5%".
func Percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e6)/1e4, 'f', -1, 64) + "%"
}

// roundDuration keeps a duration readable and still above a limit it is
// above: tenths of a millisecond under 100ms, milliseconds under 10s,
// tenths of a second above.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < 100*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d < 10*time.Second:
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
