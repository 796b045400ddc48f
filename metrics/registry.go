// Package metrics is bluegreen's Prometheus metrics (docs/metrics.md). A
// Registry holds the metrics of one supervisor: per app, the counters its
// proxy, its health checks and its deployments count into (App), and the
// standard process and Go collectors. Everything is counted with atomics and
// read by a custom collector at scrape time, so that counting takes no lock
// on the paths it instruments and an app removed from the configs leaves
// no series behind.
package metrics

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/bluegreen/bluegreen/deploy"
)

// Registry is the metrics of one supervisor process. It is a
// prometheus.Gatherer; GET /metrics serves what it gathers.
type Registry struct {
	reg *prometheus.Registry

	mu   sync.Mutex
	apps map[string]*App

	accessLog atomic.Pointer[DropCounter] // the access log's output, for bluegreen_access_log_dropped_total
}

// DropCounter counts the records an output dropped (internal/logsink's
// Sink is one).
type DropCounter interface {
	Dropped() uint64
}

// SetAccessLog tells which output the access log writes to: a scrape reads
// how many records it dropped (bluegreen_access_log_dropped_total). serve
// sets it once, at its start; nil: none (0).
func (r *Registry) SetAccessLog(out DropCounter) {
	if out == nil {
		r.accessLog.Store(nil)
		return
	}
	r.accessLog.Store(&out)
}

// accessLogDropped reads the access log output's dropped records; 0 when
// there is none.
func (r *Registry) accessLogDropped() uint64 {
	if out := r.accessLog.Load(); out != nil {
		return (*out).Dropped()
	}
	return 0
}

var _ prometheus.Gatherer = (*Registry)(nil)

// New returns a registry with no app, the process and Go collectors
// registered.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), apps: map[string]*App{}}
	r.reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		&collector{r: r},
	)
	return r
}

// Gather implements prometheus.Gatherer.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

// App returns the metrics of the app name, made on first use. An app keeps
// its metrics until Remove, also across restarts of its actor and reloads
// of its config.
func (r *Registry) App(name string) *App {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.apps[name]
	if a == nil {
		a = newApp(name)
		r.apps[name] = a
	}
	return a
}

// Remove drops the app's metrics: an app removed from the configs is no
// longer exported. What still counts into its App afterwards is lost.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.apps, name)
}

// lookup returns the app's metrics, or nil for an app not registered.
func (r *Registry) lookup(name string) *App {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apps[name]
}

// sorted returns the registered apps by name.
func (r *Registry) sorted() []*App {
	r.mu.Lock()
	apps := make([]*App, 0, len(r.apps))
	for _, a := range r.apps {
		apps = append(apps, a)
	}
	r.mu.Unlock()
	slices.SortFunc(apps, func(a, b *App) int { return strings.Compare(a.name, b.name) })
	return apps
}

// Record counts what an audit event of a registered app says: a deployment
// that reached a final status (deployment.completed, .failed, .rolled_back,
// .superseded, .interrupted), with the duration_ms of its Data, and an
// image removed by retention (image.removed; image.remove_failed is not a
// removal). Other events, and events of apps not registered, count nothing.
func (r *Registry) Record(e deploy.Event) {
	switch {
	case e.Type == deploy.EventImageRemoved:
		if a := r.lookup(e.App); a != nil {
			a.ImageRemoved()
		}
	case e.Type.EndsDeployment():
		a := r.lookup(e.App)
		if a == nil {
			return
		}
		st, _ := e.Type.OfDeployment()
		var data struct {
			DurationMS *int64 `json:"duration_ms"`
		}
		d := time.Duration(-1)
		if json.Unmarshal(e.Data, &data) == nil && data.DurationMS != nil {
			d = time.Duration(*data.DurationMS) * time.Millisecond
		}
		a.DeploymentEnded(deploy.Status(st), d)
	}
}
