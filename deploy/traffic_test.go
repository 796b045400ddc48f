package deploy

import (
	"strings"
	"testing"
	"time"
)

func TestPauseRequest_Pause(t *testing.T) {
	tests := []struct {
		maxWait string
		want    time.Duration
		err     string
	}{
		{"", DefaultMaxWait, ""},
		{"  ", DefaultMaxWait, ""},
		{"30s", 30 * time.Second, ""},
		{"1s", time.Second, ""},
		{"10m", 10 * time.Minute, ""},
		{" 2m30s ", 150 * time.Second, ""},
		{"999ms", 0, "max_wait 999ms is out of range: use 1s to 10m"},
		{"0s", 0, "max_wait 0s is out of range: use 1s to 10m"},
		{"-5s", 0, "max_wait -5s is out of range: use 1s to 10m"},
		{"10m1s", 0, "max_wait 10m1s is out of range: use 1s to 10m"},
		{"24h", 0, "max_wait 24h is out of range: use 1s to 10m"},
		{"99999999h", 0, `max_wait "99999999h" is not a duration: use e.g. 30s`},
		{"30", 0, `max_wait "30" is not a duration: use e.g. 30s`},
		{"soon", 0, `max_wait "soon" is not a duration: use e.g. 30s`},
	}
	for _, tt := range tests {
		t.Run(tt.maxWait, func(t *testing.T) {
			c, err := PauseRequest{MaxWait: tt.maxWait}.Pause()
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || ErrorCode(err) != EINVALID {
					t.Fatalf("Pause() = %+v, %v (%s); want error %q (invalid)", c, err, ErrorCode(err), tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Mode != TrafficPaused || c.MaxWait != tt.want {
				t.Fatalf("Pause() = %+v, want paused with max_wait %s", c, tt.want)
			}
			if err := c.Check(); err != nil {
				t.Fatalf("Check of a parsed pause: %v", err)
			}
		})
	}
}

func TestMaintenanceRequest_Maintenance(t *testing.T) {
	tests := []struct {
		name       string
		req        MaintenanceRequest
		message    string
		retryAfter time.Duration
		err        string
	}{
		{"defaults", MaintenanceRequest{}, DefaultMaintenanceMessage, DefaultRetryAfter, ""},
		{"given", MaintenanceRequest{Message: " back at 10:00 ", RetryAfter: "2m"}, "back at 10:00", 2 * time.Minute, ""},
		{"lines and tabs", MaintenanceRequest{Message: "one\r\ntwo\tthree"}, "one\r\ntwo\tthree", DefaultRetryAfter, ""},
		{"html kept as text", MaintenanceRequest{Message: "<b>soon</b>"}, "<b>soon</b>", DefaultRetryAfter, ""},
		{"longest", MaintenanceRequest{Message: strings.Repeat("é", MaxMessageBytes/2)}, strings.Repeat("é", MaxMessageBytes/2), DefaultRetryAfter, ""},
		{"too long", MaintenanceRequest{Message: strings.Repeat("x", MaxMessageBytes+1)}, "", 0, "message is 1025 bytes: at most 1024"},
		{"NUL", MaintenanceRequest{Message: "a\x00b"}, "", 0, "message holds the control character U+0000: use plain text"},
		{"escape", MaintenanceRequest{Message: "a\x1b[2Jb"}, "", 0, "message holds the control character U+001B: use plain text"},
		{"DEL", MaintenanceRequest{Message: "a\x7fb"}, "", 0, "message holds the control character U+007F: use plain text"},
		{"not UTF-8", MaintenanceRequest{Message: "a\xffb"}, "", 0, "message is not valid UTF-8"},
		{"retry zero", MaintenanceRequest{RetryAfter: "0s"}, "", 0, "retry_after 0s is out of range: use 1s to 24h"},
		{"retry negative", MaintenanceRequest{RetryAfter: "-1m"}, "", 0, "retry_after -1m is out of range: use 1s to 24h"},
		{"retry huge", MaintenanceRequest{RetryAfter: "25h"}, "", 0, "retry_after 25h is out of range: use 1s to 24h"},
		{"retry not a duration", MaintenanceRequest{RetryAfter: "60"}, "", 0, `retry_after "60" is not a duration: use e.g. 1m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.req.Maintenance()
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || ErrorCode(err) != EINVALID {
					t.Fatalf("Maintenance() = %+v, %v; want error %q (invalid)", c, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Mode != TrafficMaintenance || c.Message != tt.message || c.RetryAfter != tt.retryAfter {
				t.Fatalf("Maintenance() = %+v, want maintenance %q retry_after %s", c, tt.message, tt.retryAfter)
			}
			if err := c.Check(); err != nil {
				t.Fatalf("Check of a parsed maintenance: %v", err)
			}
		})
	}
}

func TestTrafficChange_Check(t *testing.T) {
	bad := []struct {
		c    TrafficChange
		want string
	}{
		{TrafficChange{Mode: "closed"}, `traffic mode "closed" is not one of serving, paused, maintenance`},
		{TrafficChange{}, `traffic mode "" is not one of serving, paused, maintenance`},
		{TrafficChange{Mode: TrafficPaused}, "max_wait 0s is out of range: use 1s to 10m"},
		{TrafficChange{Mode: TrafficMaintenance, Message: "x"}, "retry_after 0s is out of range: use 1s to 24h"},
		{TrafficChange{Mode: TrafficMaintenance, Message: "\x00", RetryAfter: time.Minute}, "message holds the control character U+0000: use plain text"},
	}
	for _, tt := range bad {
		if err := tt.c.Check(); err == nil || err.Error() != tt.want || ErrorCode(err) != EINVALID {
			t.Errorf("Check(%+v) = %v, want %q", tt.c, err, tt.want)
		}
	}
	if err := Resume().Check(); err != nil {
		t.Errorf("Check(resume) = %v", err)
	}
}

func TestParseTrafficMode(t *testing.T) {
	for _, m := range TrafficModes {
		if got, err := ParseTrafficMode(string(m)); err != nil || got != m {
			t.Errorf("ParseTrafficMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, s := range []string{"", "Paused", "closed", "serving "} {
		if _, err := ParseTrafficMode(s); ErrorCode(err) != EINVALID {
			t.Errorf("ParseTrafficMode(%q) = %v, want invalid", s, err)
		}
	}
}

func TestTrafficState_Status(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		state TrafficState
		held  int
		want  Traffic
	}{
		{"never changed", TrafficState{}, 0, Traffic{Mode: TrafficServing}},
		{"paused", TrafficChange{Mode: TrafficPaused, MaxWait: 45 * time.Second}.State(now), 3,
			Traffic{Mode: TrafficPaused, Since: &now, Held: 3, MaxWaitMS: 45000}},
		{"maintenance", TrafficChange{Mode: TrafficMaintenance, Message: "m", RetryAfter: 2 * time.Minute, MaxWait: time.Hour}.State(now), 0,
			Traffic{Mode: TrafficMaintenance, Since: &now, Message: "m", RetryAfterMS: 120000}},
		{"resumed", Resume().State(now), 1, Traffic{Mode: TrafficServing, Since: &now, Held: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.state.Status(tt.held)
			if (got.Since == nil) != (tt.want.Since == nil) || (got.Since != nil && !got.Since.Equal(*tt.want.Since)) {
				t.Fatalf("Since = %v, want %v", got.Since, tt.want.Since)
			}
			got.Since, tt.want.Since = nil, nil
			if got != tt.want {
				t.Fatalf("Status = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTrafficEvent(t *testing.T) {
	want := map[TrafficMode]EventType{TrafficPaused: "traffic.paused", TrafficMaintenance: "traffic.maintenance", TrafficServing: "traffic.resumed"}
	for m, ev := range want {
		if got := TrafficEvent(m); got != ev {
			t.Errorf("TrafficEvent(%s) = %s, want %s", m, got, ev)
		}
	}
}
