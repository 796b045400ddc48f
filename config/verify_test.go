package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse_Verify(t *testing.T) {
	deployment := func(lines ...string) string {
		return "deployment:\n" + strings.Join(lines, "\n") + "\n"
	}
	tests := []struct {
		name   string
		yaml   string
		verify *Verify // for a valid config
		canary []int
		want   []string // for an invalid config: every problem
	}{
		{name: "none", yaml: "", verify: nil},
		{name: "null verify", yaml: deployment("  verify:"), verify: nil},
		{name: "the example", yaml: deployment("  verify:", "    window: 60s", "    max_error_rate: 1%", "    min_requests: 20", "    max_p99: 2s", "  canary: [10, 50]"),
			verify: &Verify{Window: time.Minute, MaxErrorRate: 0.01, MinRequests: 20, MaxP99: 2 * time.Second}, canary: []int{10, 50}},
		{name: "defaults", yaml: deployment("  verify: {}"),
			verify: &Verify{Window: DefaultVerifyWindow, MaxErrorRate: DefaultMaxErrorRate, MinRequests: DefaultMinRequests}},
		{name: "window only", yaml: deployment("  verify: {window: 30s}"),
			verify: &Verify{Window: 30 * time.Second, MaxErrorRate: 0.01, MinRequests: 20}},
		{name: "bounds of the window", yaml: deployment("  verify: {window: 1s}"),
			verify: &Verify{Window: time.Second, MaxErrorRate: 0.01, MinRequests: 20}},
		{name: "an hour", yaml: deployment("  verify: {window: 1h}"),
			verify: &Verify{Window: time.Hour, MaxErrorRate: 0.01, MinRequests: 20}},
		{name: "fraction of a percent", yaml: deployment("  verify: {max_error_rate: 0.5%}"),
			verify: &Verify{Window: time.Minute, MaxErrorRate: 0.005, MinRequests: 20}},
		{name: "zero and hundred percent", yaml: deployment("  verify: {max_error_rate: \"0%\"}"),
			verify: &Verify{Window: time.Minute, MaxErrorRate: 0, MinRequests: 20}},
		{name: "hundred percent", yaml: deployment("  verify: {max_error_rate: 100%}"),
			verify: &Verify{Window: time.Minute, MaxErrorRate: 1, MinRequests: 20}},
		{name: "min requests zero", yaml: deployment("  verify: {min_requests: 0}"),
			verify: &Verify{Window: time.Minute, MaxErrorRate: 0.01, MinRequests: 0}},
		{name: "one step", yaml: deployment("  verify: {window: 10s}", "  canary: [1]"),
			verify: &Verify{Window: 10 * time.Second, MaxErrorRate: 0.01, MinRequests: 20}, canary: []int{1}},
		{name: "empty canary", yaml: deployment("  canary: []"), verify: nil},
		{name: "three steps", yaml: deployment("  verify: {}", "  canary:", "    - 5", "    - 25", "    - 99"),
			verify: &Verify{Window: time.Minute, MaxErrorRate: 0.01, MinRequests: 20}, canary: []int{5, 25, 99}},

		{name: "canary without verify", yaml: deployment("  canary: [10, 50]"),
			want: []string{`2:11: deployment.canary: needs deployment.verify: each canary step is judged over a verify window (add e.g. verify: {window: 60s})`}},
		{name: "canary with null verify", yaml: deployment("  verify:", "  canary: [10]"),
			want: []string{`3:11: deployment.canary: needs deployment.verify: each canary step is judged over a verify window (add e.g. verify: {window: 60s})`}},
		{name: "steps not increasing", yaml: deployment("  verify: {}", "  canary: [10, 50, 50, 20]"),
			want: []string{
				`3:20: deployment.canary[2]: 50 does not follow 50: the steps must be strictly increasing (e.g. [10, 50])`,
				`3:24: deployment.canary[3]: 20 does not follow 50: the steps must be strictly increasing (e.g. [10, 50])`,
			}},
		{name: "steps out of range", yaml: deployment("  verify: {}", "  canary: [0, 100, -5]"),
			want: []string{
				`3:12: deployment.canary[0]: 0 is not a percent of clients for a canary step (1-99)`,
				`3:15: deployment.canary[1]: 100 is not a percent of clients for a canary step (1-99)`,
				`3:20: deployment.canary[2]: -5 is not a percent of clients for a canary step (1-99)`,
			}},
		{name: "step not a number", yaml: deployment("  verify: {}", "  canary: [10%]"),
			want: []string{`3:12: deployment.canary[0]: expected a percent of clients (1-99), got the string "10%"`}},
		{name: "canary not a list", yaml: deployment("  verify: {}", "  canary: 10"),
			want: []string{`3:11: deployment.canary: expected a list of percents of clients (e.g. [10, 50]), got the integer 10`}},
		{name: "rate over 100%", yaml: deployment("  verify: {max_error_rate: 150%}"),
			want: []string{`2:28: deployment.verify.max_error_rate: "150%" is not a rate between 0% and 100%`}},
		{name: "negative rate", yaml: deployment("  verify: {max_error_rate: -1%}"),
			want: []string{`2:28: deployment.verify.max_error_rate: "-1%" is not a rate between 0% and 100%`}},
		{name: "rate without percent", yaml: deployment("  verify: {max_error_rate: 1}"),
			want: []string{`2:28: deployment.verify.max_error_rate: "1" is not a rate: write it as a percent (e.g. 1%)`}},
		{name: "rate not a number", yaml: deployment("  verify: {max_error_rate: few}"),
			want: []string{`2:28: deployment.verify.max_error_rate: "few" is not a rate: write it as a percent (e.g. 1% or 0.5%)`}},
		{name: "window under a second", yaml: deployment("  verify: {window: 500ms}"),
			want: []string{`2:20: deployment.verify.window: 500ms is not a window between 1s and 1h0m0s`}},
		{name: "window over an hour", yaml: deployment("  verify: {window: 61m}"),
			want: []string{`2:20: deployment.verify.window: 1h1m0s is not a window between 1s and 1h0m0s`}},
		{name: "window not a duration", yaml: deployment("  verify:", "    window: 60"),
			want: []string{`3:13: deployment.verify.window: "60" is not a duration (use 60s)`}},
		{name: "min requests negative", yaml: deployment("  verify: {min_requests: -1}"),
			want: []string{`2:26: deployment.verify.min_requests: -1 is not a number of requests (0-1000000)`}},
		{name: "min requests quoted", yaml: deployment("  verify: {min_requests: \"20\"}"),
			want: []string{`2:26: deployment.verify.min_requests: expected a number of requests, got the string "20"`}},
		{name: "p99 not a duration", yaml: deployment("  verify: {max_p99: 2}"),
			want: []string{`2:21: deployment.verify.max_p99: "2" is not a duration (use 2s)`}},
		{name: "verify not a mapping", yaml: deployment("  verify: true", "  canary: [10]"),
			want: []string{`2:11: deployment.verify: expected a mapping with the keys window, max_error_rate, min_requests, max_p99, got the boolean true`}},
		{name: "verify unknown key", yaml: deployment("  verify:", "    windows: 60s"),
			want: []string{`3:5: deployment.verify.windows: unknown key "windows" (allowed: window, max_error_rate, min_requests, max_p99); did you mean "window"?`}},
		{name: "every problem at once", yaml: deployment("  verify:", "    window: 2h", "    max_error_rate: 101%", "  canary: [50, 10]"),
			want: []string{
				`3:13: deployment.verify.window: 2h0m0s is not a window between 1s and 1h0m0s`,
				`4:21: deployment.verify.max_error_rate: "101%" is not a rate between 0% and 100%`,
				`5:16: deployment.canary[1]: 10 does not follow 50: the steps must be strictly increasing (e.g. [10, 50])`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, got := parseErrors(t, appYAML("deployment", tt.yaml))
			if tt.want != nil {
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
				return
			}
			if got != nil {
				t.Fatalf("unexpected problems:\n%s", strings.Join(got, "\n"))
			}
			if !reflect.DeepEqual(app.Deployment.Verify, tt.verify) {
				t.Errorf("verify = %+v, want %+v", app.Deployment.Verify, tt.verify)
			}
			if !reflect.DeepEqual(app.Deployment.Canary, tt.canary) {
				t.Errorf("canary = %v, want %v", app.Deployment.Canary, tt.canary)
			}
		})
	}
}
