package actors

import "github.com/prometheus/client_golang/prometheus"

// What the actors count for GET /metrics (package metrics, docs/metrics.md),
// each where it happens once:
//   - the proxy's answers: the app's proxy counts them into the app's
//     metrics.App, which outlives a proxy replaced after a reload
//     (listener.go);
//   - health checks: where a health actor records one (health.go);
//   - the app's status: where a change of it is recorded (status.go);
//   - deployments that ended and images removed: from the audit events
//     that record them (recorder.go), deployment.* with a final status and
//     image.removed;
//   - open connections: read from the app's proxy at scrape time.
// An app's metrics are made when its actor starts and dropped when the
// supervisor removes the app (supervisor.go).

// Metrics implements api.Backend: the registry of this supervisor's
// metrics, with the process and Go collectors.
func (s *System) Metrics() prometheus.Gatherer { return s.metrics }
