package metrics

import (
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/histogram"
	"github.com/bluegreen/bluegreen/proxy"
)

// The families of docs/metrics.md, all of them exported by one collector
// that reads the apps' counters at scrape time.
var (
	requestsDesc = prometheus.NewDesc("bluegreen_proxy_requests_total",
		"Answers the app's proxy sent to clients, by the color the request was routed to (none: not routed, as the 503 when no color is active and requests refused before routing) and status code (also the proxy's own 400, 408, 417, 431, 502, 503).",
		[]string{"app", "color", "code"}, nil)
	requestDurationDesc = prometheus.NewDesc("bluegreen_proxy_request_duration_seconds",
		"Time from the first byte of a request to the end of the proxy's answer (for a WebSocket, of its handshake), by the color the request was routed to.",
		[]string{"app", "color"}, nil)
	connectionsDesc = prometheus.NewDesc("bluegreen_proxy_connections",
		"Open client connections of the app's proxy per color and kind: http counts every open HTTP connection, idle keep-alive ones included (one with a request in flight for the color serving it, one between requests for the active color, where its next request goes); websocket the open WebSockets.",
		[]string{"app", "color", "kind"}, nil)
	deploymentsDesc = prometheus.NewDesc("bluegreen_deployments_total",
		"Deployments that ended, by final status (completed, failed, rolled_back, superseded, interrupted).",
		[]string{"app", "status"}, nil)
	deploymentDurationDesc = prometheus.NewDesc("bluegreen_deployment_duration_seconds",
		"Time from a deployment's start (or its request, for one that ended queued) to its final status.",
		[]string{"app", "status"}, nil)
	healthChecksDesc = prometheus.NewDesc("bluegreen_health_checks_total",
		"Health checks of the app's containers by color and result (success, failure).",
		[]string{"app", "color", "result"}, nil)
	healthDurationDesc = prometheus.NewDesc("bluegreen_health_check_duration_seconds",
		"Response time of the health checks by color (up to the check's timeout for one that got no answer).",
		[]string{"app", "color"}, nil)
	appStatusDesc = prometheus.NewDesc("bluegreen_app_status",
		"1 for the app's current status (stable, deploying, degraded, failed, stopped), 0 for the others.",
		[]string{"app", "status"}, nil)
	imagesRemovedDesc = prometheus.NewDesc("bluegreen_images_removed_total",
		"Images removed by retention after a completed deployment (docker.keep_images).",
		[]string{"app"}, nil)
	// The families of traffic control (docs/traffic.md, "Metrics").
	heldDesc = prometheus.NewDesc("bluegreen_proxy_held_requests",
		"Requests the app's proxy holds now: by a pause (WebSocket handshakes too) and by the outage hold.",
		[]string{"app"}, nil)
	trafficDesc = prometheus.NewDesc("bluegreen_app_traffic",
		"1 for the app's current traffic mode (serving, paused, maintenance), 0 for the others.",
		[]string{"app", "mode"}, nil)
	accessLogDroppedDesc = prometheus.NewDesc("bluegreen_access_log_dropped_total",
		"Access log records dropped because their output was too slow, stuck or failing (without serve --access-log, the access log shares serve's log output, whose other dropped lines count too).",
		nil, nil)
)

// requestColors are the colors of the request metrics.
var requestColors = []string{proxy.ColorBlue, proxy.ColorGreen, proxy.ColorNone}

// collector exports the apps of a Registry.
type collector struct{ r *Registry }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{requestsDesc, requestDurationDesc, connectionsDesc, deploymentsDesc,
		deploymentDurationDesc, healthChecksDesc, healthDurationDesc, appStatusDesc, imagesRemovedDesc,
		heldDesc, trafficDesc, accessLogDroppedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Every app has its series of
// known labels from the start, at 0 (both colors, every final status,
// every app status), so that a rate sees the first increase; a status code
// appears once it was sent, a histogram of a final status or of the color
// none once it has an observation.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, a := range c.r.sorted() {
		a.collectRequests(ch)
		a.collectConnections(ch)
		a.collectDeployments(ch)
		a.collectHealth(ch)
		a.collectStatus(ch)
		ch <- prometheus.MustNewConstMetric(imagesRemovedDesc, prometheus.CounterValue, float64(a.imagesRemoved.Load()), a.name)
		a.collectTraffic(ch)
	}
	ch <- prometheus.MustNewConstMetric(accessLogDroppedDesc, prometheus.CounterValue, float64(c.r.accessLogDropped()))
}

func (a *App) collectRequests(ch chan<- prometheus.Metric) {
	for _, color := range requestColors {
		cs := a.requests.Color(color)
		cs.Codes(func(code int, n uint64) {
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), a.name, color, strconv.Itoa(code))
		})
		if s := cs.Durations().Snapshot(); color != proxy.ColorNone || s.Count > 0 {
			ch <- constHistogram(requestDurationDesc, s, a.name, color)
		}
	}
}

func (a *App) collectConnections(ch chan<- prometheus.Metric) {
	var conns map[string]proxy.Connections
	if p := a.proxy.Load(); p != nil {
		conns = p.Connections()
	}
	for _, color := range deploy.Colors {
		n := conns[string(color)]
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(n.HTTP), a.name, string(color), "http")
		ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(n.WebSocket), a.name, string(color), "websocket")
	}
}

func (a *App) collectDeployments(ch chan<- prometheus.Metric) {
	for i, st := range deploy.FinalStatuses {
		d := &a.deployments[i]
		ch <- prometheus.MustNewConstMetric(deploymentsDesc, prometheus.CounterValue, float64(d.n.Load()), a.name, string(st))
		if s := d.durations.Snapshot(); s.Count > 0 {
			ch <- constHistogram(deploymentDurationDesc, s, a.name, string(st))
		}
	}
}

func (a *App) collectHealth(ch chan<- prometheus.Metric) {
	for i, color := range deploy.Colors {
		h := &a.health[i]
		ch <- prometheus.MustNewConstMetric(healthChecksDesc, prometheus.CounterValue, float64(h.success.Load()), a.name, string(color), "success")
		ch <- prometheus.MustNewConstMetric(healthChecksDesc, prometheus.CounterValue, float64(h.failure.Load()), a.name, string(color), "failure")
		ch <- constHistogram(healthDurationDesc, h.durations.Snapshot(), a.name, string(color))
	}
}

func (a *App) collectStatus(ch chan<- prometheus.Metric) {
	cur := int(a.status.Load())
	if cur < 0 {
		cur = slices.Index(deploy.States, deploy.AppStopped) // nothing known yet
	}
	for i, st := range deploy.States {
		v := 0.0
		if i == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(appStatusDesc, prometheus.GaugeValue, v, a.name, string(st))
	}
}

func (a *App) collectTraffic(ch chan<- prometheus.Metric) {
	held := 0
	if p := a.proxy.Load(); p != nil {
		held = p.Held()
	}
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(held), a.name)
	cur := int(a.traffic.Load())
	for i, m := range deploy.TrafficModes {
		v := 0.0
		if i == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(trafficDesc, prometheus.GaugeValue, v, a.name, string(m))
	}
}

func constHistogram(d *prometheus.Desc, s histogram.Snapshot, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstHistogram(d, s.Count, s.Sum, s.Buckets, labels...)
}
