package deploy

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TrafficMode is what an app's proxy does with new requests
// (docs/traffic.md, "Pause, maintenance, resume").
type TrafficMode string

// Traffic modes, spelled as on the wire.
const (
	TrafficServing     TrafficMode = "serving"     // requests go to the active color
	TrafficPaused      TrafficMode = "paused"      // requests are held until resume (or max_wait)
	TrafficMaintenance TrafficMode = "maintenance" // requests get 503 and the maintenance page
)

// TrafficModes are the traffic modes, serving first.
var TrafficModes = []TrafficMode{TrafficServing, TrafficPaused, TrafficMaintenance}

// Valid reports whether m is one of TrafficModes.
func (m TrafficMode) Valid() bool {
	return m == TrafficServing || m == TrafficPaused || m == TrafficMaintenance
}

// ParseTrafficMode reads a traffic mode; anything else is EINVALID.
func ParseTrafficMode(s string) (TrafficMode, error) {
	if m := TrafficMode(s); m.Valid() {
		return m, nil
	}
	return "", Errorf(EINVALID, "traffic mode %q is not one of serving, paused, maintenance", s)
}

// Bounds and defaults of a pause and a maintenance (docs/traffic.md).
const (
	// DefaultMaxWait is how long a paused app holds a request when the
	// pause does not say.
	DefaultMaxWait = 30 * time.Second
	// MinMaxWait and MaxMaxWait bound a pause's max_wait.
	MinMaxWait = time.Second
	MaxMaxWait = 10 * time.Minute
	// DefaultRetryAfter is a maintenance's Retry-After when it does not say.
	DefaultRetryAfter = 60 * time.Second
	// MinRetryAfter and MaxRetryAfter bound a maintenance's retry_after.
	MinRetryAfter = time.Second
	MaxRetryAfter = 24 * time.Hour
	// MaxMessageBytes bounds a maintenance's message.
	MaxMessageBytes = 1024
	// DefaultMaintenanceMessage is the message of a maintenance that does
	// not give one.
	DefaultMaintenanceMessage = "This service is down for maintenance. Please try again shortly."
)

// Traffic is an app's traffic mode as AppStatus shows it (its "traffic").
type Traffic struct {
	Mode TrafficMode `json:"mode"`
	// Since is when the mode began; null for an app that has always served.
	Since *time.Time `json:"since"`
	// Held counts the requests held now: by a pause (WebSocket handshakes
	// too) and by the outage hold.
	Held         int    `json:"held"`
	MaxWaitMS    int64  `json:"max_wait_ms"`    // a pause's max_wait; 0 otherwise
	Message      string `json:"message"`        // a maintenance's message; "" otherwise
	RetryAfterMS int64  `json:"retry_after_ms"` // a maintenance's retry_after; 0 otherwise
}

// TrafficState is an app's traffic mode with its settings, as the
// supervisor keeps it (and stores it, so that it survives a restart).
type TrafficState struct {
	Mode       TrafficMode
	Since      time.Time     // zero: the app has always served
	MaxWait    time.Duration // TrafficPaused
	Message    string        // TrafficMaintenance
	RetryAfter time.Duration // TrafficMaintenance
}

// Serving reports whether the state lets requests through (also the zero
// state).
func (t TrafficState) Serving() bool { return t.Mode == "" || t.Mode == TrafficServing }

// Status returns t as AppStatus shows it, with held requests held now.
func (t TrafficState) Status(held int) Traffic {
	out := Traffic{Mode: t.Mode, Held: held}
	if t.Serving() {
		out.Mode = TrafficServing
	}
	if !t.Since.IsZero() {
		since := t.Since
		out.Since = &since
	}
	switch out.Mode {
	case TrafficPaused:
		out.MaxWaitMS = t.MaxWait.Milliseconds()
	case TrafficMaintenance:
		out.Message, out.RetryAfterMS = t.Message, t.RetryAfter.Milliseconds()
	}
	return out
}

// PauseRequest is the body of POST /api/apps/{name}/pause; every field is
// optional.
type PauseRequest struct {
	MaxWait string `json:"max_wait,omitempty"` // a duration from 1s to 10m; "": DefaultMaxWait
}

// MaintenanceRequest is the body of POST /api/apps/{name}/maintenance;
// every field is optional.
type MaintenanceRequest struct {
	Message    string `json:"message,omitempty"`     // "": DefaultMaintenanceMessage
	RetryAfter string `json:"retry_after,omitempty"` // a duration from 1s to 24h; "": DefaultRetryAfter
}

// TrafficChange asks for a traffic mode: a pause, a maintenance or a
// resume, with its settings checked and defaulted.
type TrafficChange struct {
	Mode       TrafficMode
	MaxWait    time.Duration // TrafficPaused
	Message    string        // TrafficMaintenance
	RetryAfter time.Duration // TrafficMaintenance
}

// Pause returns the change a PauseRequest asks for; a bad max_wait is
// EINVALID.
func (r PauseRequest) Pause() (TrafficChange, error) {
	d, err := ParseBounded("max_wait", r.MaxWait, DefaultMaxWait, MinMaxWait, MaxMaxWait)
	if err != nil {
		return TrafficChange{}, err
	}
	return TrafficChange{Mode: TrafficPaused, MaxWait: d}, nil
}

// Maintenance returns the change a MaintenanceRequest asks for; a bad
// message or retry_after is EINVALID.
func (r MaintenanceRequest) Maintenance() (TrafficChange, error) {
	d, err := ParseBounded("retry_after", r.RetryAfter, DefaultRetryAfter, MinRetryAfter, MaxRetryAfter)
	if err != nil {
		return TrafficChange{}, err
	}
	msg, err := CheckMessage(r.Message)
	if err != nil {
		return TrafficChange{}, err
	}
	return TrafficChange{Mode: TrafficMaintenance, Message: msg, RetryAfter: d}, nil
}

// Resume is the change that ends a pause or a maintenance.
func Resume() TrafficChange { return TrafficChange{Mode: TrafficServing} }

// Check reports why c is not a change the supervisor takes (EINVALID), or
// nil: a mode it knows, with settings within their bounds.
func (c TrafficChange) Check() error {
	switch c.Mode {
	case TrafficServing:
		return nil
	case TrafficPaused:
		return CheckBounded("max_wait", c.MaxWait, MinMaxWait, MaxMaxWait)
	case TrafficMaintenance:
		if err := CheckBounded("retry_after", c.RetryAfter, MinRetryAfter, MaxRetryAfter); err != nil {
			return err
		}
		_, err := CheckMessage(c.Message)
		return err
	}
	return Errorf(EINVALID, "traffic mode %q is not one of serving, paused, maintenance", c.Mode)
}

// State returns the traffic state c makes, beginning at now.
func (c TrafficChange) State(now time.Time) TrafficState {
	t := TrafficState{Mode: c.Mode, Since: now}
	switch c.Mode {
	case TrafficPaused:
		t.MaxWait = c.MaxWait
	case TrafficMaintenance:
		t.Message, t.RetryAfter = c.Message, c.RetryAfter
	}
	return t
}

// ParseBounded reads the duration s of the setting what ("" is def),
// which must lie in [lo, hi]; else EINVALID, saying what to use.
func ParseBounded(what, s string, def, lo, hi time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(EINVALID, "%s %q is not a duration: use e.g. %s", what, s, durationText(def))
	}
	return d, CheckBounded(what, d, lo, hi)
}

// CheckBounded reports (EINVALID) when the duration d of the setting what
// is not in [lo, hi].
func CheckBounded(what string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return Errorf(EINVALID, "%s %s is out of range: use %s to %s", what, durationText(d), durationText(lo), durationText(hi))
	}
	return nil
}

// CheckMessage returns a maintenance's message trimmed ("" becomes
// DefaultMaintenanceMessage), or EINVALID when it is longer than
// MaxMessageBytes, not UTF-8 or holds control characters other than tab
// and line breaks.
func CheckMessage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultMaintenanceMessage, nil
	}
	if len(s) > MaxMessageBytes {
		return "", Errorf(EINVALID, "message is %d bytes: at most %d", len(s), MaxMessageBytes)
	}
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "message is not valid UTF-8")
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return "", Errorf(EINVALID, "message holds the control character %U: use plain text", r)
		}
	}
	return s, nil
}

// durationText writes d as a person would: 30s, 10m, 1m30s, 24h.
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// String describes the state for a log line or an event's message.
func (t TrafficState) String() string {
	switch t.Mode {
	case TrafficPaused:
		return fmt.Sprintf("paused (max_wait %s)", durationText(t.MaxWait))
	case TrafficMaintenance:
		return fmt.Sprintf("maintenance (retry_after %s)", durationText(t.RetryAfter))
	}
	return string(TrafficServing)
}
