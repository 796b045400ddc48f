package deploy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	limits := Limits{MaxErrorRate: 0.01, MinRequests: 20, MaxP99: 2 * time.Second}
	for _, tt := range []struct {
		name   string
		limits Limits
		w      WindowNumbers
		want   string
	}{
		{"pass", limits, WindowNumbers{Requests: 250, Errors: 2, P99: 300 * time.Millisecond}, ""},
		{"no errors", limits, WindowNumbers{Requests: 20}, ""},
		{"rate at the limit passes", limits, WindowNumbers{Requests: 300, Errors: 3, P99: time.Second}, ""},
		{"fail on error rate", limits, WindowNumbers{Requests: 250, Errors: 30, P99: 40 * time.Millisecond},
			"5xx 12.0% of 250 requests (max 1%)"},
		{"one over the limit", limits, WindowNumbers{Requests: 100, Errors: 2}, "5xx 2.0% of 100 requests (max 1%)"},
		{"fail on p99", limits, WindowNumbers{Requests: 40, P99: 2345 * time.Millisecond},
			"p99 2.345s of 40 requests (max 2s)"},
		{"p99 at the limit passes", limits, WindowNumbers{Requests: 40, P99: 2 * time.Second}, ""},
		{"rate is judged before p99", limits, WindowNumbers{Requests: 40, Errors: 40, P99: 12345 * time.Millisecond},
			"5xx 100.0% of 40 requests (max 1%)"},
		{"long p99 in tenths", limits, WindowNumbers{Requests: 40, P99: 12345 * time.Millisecond},
			"p99 12.3s of 40 requests (max 2s)"},
		{"too few requests: health alone", limits, WindowNumbers{Requests: 19, Errors: 19, P99: time.Minute}, ""},
		{"no requests", Limits{MaxErrorRate: 0, MinRequests: 0}, WindowNumbers{}, ""},
		{"min_requests 0 judges one", Limits{MaxErrorRate: 0, MinRequests: 0}, WindowNumbers{Requests: 1, Errors: 1},
			"5xx 100.0% of 1 requests (max 0%)"},
		{"p99 just over a short limit", Limits{MaxErrorRate: 0.01, MinRequests: 1, MaxP99: 50 * time.Millisecond},
			WindowNumbers{Requests: 20, P99: 50420 * time.Microsecond}, "p99 50.4ms of 20 requests (max 50ms)"},
		{"p99 not judged without max_p99", Limits{MaxErrorRate: 0.01, MinRequests: 20}, WindowNumbers{Requests: 40, P99: time.Hour}, ""},
		{"half a percent", Limits{MaxErrorRate: 0.005, MinRequests: 1}, WindowNumbers{Requests: 1000, Errors: 6},
			"5xx 0.6% of 1000 requests (max 0.5%)"},
		{"all may fail at 100%", Limits{MaxErrorRate: 1, MinRequests: 1}, WindowNumbers{Requests: 10, Errors: 10}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Judge(tt.limits, tt.w); got != tt.want {
				t.Errorf("Judge = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFailedAt(t *testing.T) {
	got := FailedAt(50, Judge(Limits{MaxErrorRate: 0.01, MinRequests: 20}, WindowNumbers{Requests: 250, Errors: 30}))
	if want := "verification failed at 50%: 5xx 12.0% of 250 requests (max 1%)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPercent(t *testing.T) {
	for f, want := range map[float64]string{0.01: "1%", 0.005: "0.5%", 0.07: "7%", 0: "0%", 1: "100%", 0.123: "12.3%"} {
		if got := Percent(f); got != want {
			t.Errorf("Percent(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestVerification_Wire(t *testing.T) {
	b, _ := json.Marshal(Deployment{Status: StatusVerifying, Verification: &Verification{Step: 100, WindowMS: 60000,
		Requests: 250, Errors: 30, ErrorRate: 0.12, P99MS: 41.5, Result: VerificationFailed}})
	for _, key := range []string{`"status":"verifying"`, `"verification":{`, `"step":100`, `"window_ms":60000`, `"requests":250`,
		`"errors":30`, `"error_rate":0.12`, `"p99_ms":41.5`, `"result":"failed"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("Deployment lacks %s: %s", key, b)
		}
	}
	b, _ = json.Marshal(Deployment{})
	if !strings.Contains(string(b), `"verification":null`) {
		t.Errorf("an unverified deployment: %s", b)
	}
	if (WindowNumbers{}).Rate() != 0 || (WindowNumbers{Requests: 8, Errors: 2}).Rate() != 0.25 {
		t.Error("Rate")
	}
}
