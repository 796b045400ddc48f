package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// How ctl shows a verified deployment's windows (docs/verification.md):
// each canary step and the verifying window get a line when they begin and
// one when they are judged, and the live progress line shows the window's
// numbers so far.

// windowEvent reads the window of a deployment.phase event's data: ok when
// the event is about a verification window (it has a result).
func windowEvent(data json.RawMessage) (v deploy.Verification, ok bool) {
	if len(data) == 0 || json.Unmarshal(data, &v) != nil {
		return deploy.Verification{}, false
	}
	return v, v.Result != ""
}

// windowLabel names a window: "canary 10%", or "verifying" for all traffic.
func windowLabel(step int) string {
	if step > 0 && step < deploy.VerifyStepAll {
		return "canary " + strconv.Itoa(step) + "%"
	}
	return string(deploy.StatusVerifying)
}

// windowLine is what the phase log prints of a window event.
func windowLine(v deploy.Verification) string {
	label := windowLabel(v.Step)
	switch v.Result {
	case deploy.VerificationRunning:
		return fmt.Sprintf("%s: watching the new color's traffic for %s", label, windowLength(v.WindowMS))
	case deploy.VerificationPromoted:
		return fmt.Sprintf("%s promoted after %s: %s", label, durationMS(v.ElapsedMS), windowNumbers(v))
	}
	return fmt.Sprintf("%s %s: %s", label, v.Result, windowNumbers(v))
}

// windowNumbers are a window's requests, errors and p99.
func windowNumbers(v deploy.Verification) string {
	s := fmt.Sprintf("%s, %s (%.1f%%)", plural(int(v.Requests), "request", "requests"),
		plural(int(v.Errors), "error", "errors"), v.ErrorRate*100)
	if v.Requests > 0 {
		s += ", p99 " + p99(v.P99MS)
	}
	return s
}

// windowProgress is the progress line's part about the window being
// watched: time, requests, errors and p99 so far.
func windowProgress(v deploy.Verification) string {
	s := fmt.Sprintf("%s %s/%s  requests %d  errors %d (%.1f%%)", windowLabel(v.Step),
		elapsed(time.Duration(v.ElapsedMS)*time.Millisecond), windowLength(v.WindowMS),
		v.Requests, v.Errors, v.ErrorRate*100)
	if v.Requests > 0 {
		s += "  p99 " + p99(v.P99MS)
	}
	return s
}

// p99 renders a p99 in milliseconds.
func p99(ms float64) string {
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return durationMS(int64(ms + 0.5))
}

// windowLength renders a window's length as it is written in a config
// (1m0s, 30s).
func windowLength(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).Round(time.Millisecond).String()
}
