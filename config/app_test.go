package config

import "testing"

func TestHealthCheck_Accepts(t *testing.T) {
	tests := []struct {
		name     string
		expected []int
		code     int
		want     bool
	}{
		{"any 2xx: 200", nil, 200, true},
		{"any 2xx: 204", nil, 204, true},
		{"any 2xx: 299", nil, 299, true},
		{"any 2xx: 199", nil, 199, false},
		{"any 2xx: 301", nil, 301, false},
		{"any 2xx: 500", nil, 500, false},
		{"listed 200", []int{200, 301}, 200, true},
		{"listed 301", []int{200, 301}, 301, true},
		{"not listed 204", []int{200, 301}, 204, false},
		{"only 503", []int{503}, 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := HealthCheck{ExpectedStatus: tt.expected}
			if got := h.Accepts(tt.code); got != tt.want {
				t.Errorf("Accepts(%d) with %v = %v, want %v", tt.code, tt.expected, got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	a := defaults("f.yaml")
	checks := []struct {
		name      string
		got, want any
	}{
		{"file", a.File, "f.yaml"},
		{"listen address", a.Proxy.ListenAddress, "0.0.0.0"},
		{"method", a.HealthCheck.Method, "GET"},
		{"timeout", a.HealthCheck.Timeout.String(), "5s"},
		{"interval", a.HealthCheck.Interval.String(), "1s"},
		{"healthy threshold", a.HealthCheck.HealthyThreshold, 2},
		{"unhealthy threshold", a.HealthCheck.UnhealthyThreshold, 3},
		{"restart policy", a.Docker.RestartPolicy, "unless-stopped"},
		{"pull policy", a.Docker.PullPolicy, "if-not-present"},
		{"keep images", a.Docker.KeepImages, 5},
		{"drain timeout", a.Deployment.DrainTimeout.String(), "30s"},
		{"startup timeout", a.Deployment.StartupTimeout.String(), "1m0s"},
		{"health check timeout", a.Deployment.HealthCheckTimeout.String(), "2m0s"},
		{"stop timeout", a.Deployment.StopTimeout.String(), "10s"},
		{"memory limit none", a.Docker.MemoryLimit, int64(0)},
		{"cpu limit none", a.Docker.CPULimit, 0.0},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}
