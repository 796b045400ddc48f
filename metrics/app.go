package metrics

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/histogram"
	"github.com/bluegreen/bluegreen/proxy"
)

// Bucket bounds, in seconds, of the histograms other than the proxy's
// (proxy.DurationBuckets).
var (
	// HealthCheckBuckets bound bluegreen_health_check_duration_seconds: a
	// probe on 127.0.0.1 takes about a millisecond; the default timeout is 5 s.
	HealthCheckBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// DeploymentBuckets bound bluegreen_deployment_duration_seconds: about a
	// second for an image already present, up to the minutes of a pull, a
	// long health gate and a drain.
	DeploymentBuckets = []float64{1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600, 1800}
)

// App is the metrics of one app. Its owner, the app actor, counts into it
// from its own goroutine (health checks, status), its proxy counts the
// answers (Requests), and the registry counts what the audit trail
// records (Registry.Record). Every method is safe for concurrent use and
// takes no lock.
type App struct {
	name     string
	requests *proxy.Stats
	proxy    atomic.Pointer[proxy.Proxy] // the app's proxy now, for its open connections and active color
	status   atomic.Int32                // index in deploy.States, -1 until SetStatus
	traffic  atomic.Int32                // index in deploy.TrafficModes: 0, serving, until SetTraffic

	health        [len(deploy.Colors)]healthStats
	deployments   []deploymentStats // by the index of deploy.FinalStatuses
	imagesRemoved atomic.Uint64
}

type healthStats struct {
	success, failure atomic.Uint64
	durations        histogram.Histogram
}

type deploymentStats struct {
	n         atomic.Uint64
	durations histogram.Histogram
}

func newApp(name string) *App {
	a := &App{name: name, requests: proxy.NewStats(), deployments: make([]deploymentStats, len(deploy.FinalStatuses))}
	a.status.Store(-1)
	for i := range a.health {
		a.health[i].durations.Init(HealthCheckBuckets)
	}
	for i := range a.deployments {
		a.deployments[i].durations.Init(DeploymentBuckets)
	}
	return a
}

// Name returns the app's name.
func (a *App) Name() string { return a.name }

// Requests returns the counters the app's proxy counts its answers into
// (proxy.Options.Stats); they outlive the proxy, so a proxy replaced after
// a reload goes on counting where the old one was.
func (a *App) Requests() *proxy.Stats { return a.requests }

// SetProxy tells which proxy serves the app now (nil: none): a scrape
// reads its open connections.
func (a *App) SetProxy(p *proxy.Proxy) { a.proxy.Store(p) }

// SetStatus sets the app's current status (AppStatus.Status). An unknown
// status shows as stopped.
func (a *App) SetStatus(s deploy.State) {
	i := slices.Index(deploy.States, s)
	if i < 0 {
		i = slices.Index(deploy.States, deploy.AppStopped)
	}
	a.status.Store(int32(i))
}

// SetTraffic sets the app's current traffic mode (AppStatus.Traffic.Mode);
// an unknown mode shows as serving.
func (a *App) SetTraffic(m deploy.TrafficMode) {
	a.traffic.Store(int32(max(slices.Index(deploy.TrafficModes, m), 0)))
}

// HealthChecked counts one health check of color's container; a starting
// one (before the container's first pass) is neither a success nor a
// failure, and is not counted.
func (a *App) HealthChecked(color deploy.Color, c deploy.HealthCheck) {
	i := colorIndex(color)
	if i < 0 || c.Starting {
		return
	}
	h := &a.health[i]
	if c.Success {
		h.success.Add(1)
	} else {
		h.failure.Add(1)
	}
	h.durations.Observe(time.Duration(c.ResponseTimeMS * float64(time.Millisecond)))
}

// DeploymentEnded counts a deployment that reached the final status st
// after d; a negative d is unknown: the deployment is counted, its
// duration not observed. A status that is not final counts nothing.
func (a *App) DeploymentEnded(st deploy.Status, d time.Duration) {
	i := slices.Index(deploy.FinalStatuses, st)
	if i < 0 {
		return
	}
	a.deployments[i].n.Add(1)
	if d >= 0 {
		a.deployments[i].durations.Observe(d)
	}
}

// ImageRemoved counts one image removed by retention.
func (a *App) ImageRemoved() { a.imagesRemoved.Add(1) }

func colorIndex(c deploy.Color) int {
	for i, x := range deploy.Colors {
		if x == c {
			return i
		}
	}
	return -1
}
