package api

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bluegreen/bluegreen/deploy"
)

// MetricsContentType is the content type of the Prometheus text exposition format.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteMetrics writes the per-app metrics of apps in the Prometheus text
// exposition format (version 0.0.4): HELP and TYPE lines, then one sample per line.
func WriteMetrics(w io.Writer, apps []deploy.AppStatus) {
	m := &metricWriter{w: w}
	m.apps(apps)
	m.containers(apps)
	m.deployments(apps)
	m.connections(apps)
}

// apps writes what each app is doing.
func (m *metricWriter) apps(apps []deploy.AppStatus) {
	m.family("bluegreen_apps", "gauge", "Number of configured apps.")
	m.sample("bluegreen_apps", nil, float64(len(apps)))

	m.family("bluegreen_app_status", "gauge", "1 for the app's current status, 0 for the others.")
	for _, a := range apps {
		for _, st := range deploy.States {
			m.sample("bluegreen_app_status", labels{"app", a.Name, "status", string(st)}, boolFloat(a.Status == st))
		}
	}

	m.family("bluegreen_app_active_color", "gauge", "1 for the color that receives the app's traffic.")
	for _, a := range apps {
		for _, c := range deploy.Colors {
			m.sample("bluegreen_app_active_color", labels{"app", a.Name, "color", string(c)}, boolFloat(a.ActiveColor == c))
		}
	}

	m.family("bluegreen_app_deploying", "gauge", "1 while a deployment of the app runs.")
	for _, a := range apps {
		m.sample("bluegreen_app_deploying", labels{"app", a.Name}, boolFloat(a.Deployment != nil))
	}
}

// containers writes the state of each color's container.
func (m *metricWriter) containers(apps []deploy.AppStatus) {
	m.family("bluegreen_container_running", "gauge", "1 when the color's container is running.")
	for _, a := range apps {
		for _, c := range deploy.Colors {
			ct := a.Containers.Of(c)
			m.sample("bluegreen_container_running", labels{"app", a.Name, "color", string(c)}, boolFloat(ct != nil && ct.State == "running"))
		}
	}

	m.family("bluegreen_container_healthy", "gauge", "1 when the color's container passes its health checks.")
	for _, a := range apps {
		for _, c := range deploy.Colors {
			ct := a.Containers.Of(c)
			m.sample("bluegreen_container_healthy", labels{"app", a.Name, "color", string(c)}, boolFloat(ct != nil && ct.Health == deploy.Healthy))
		}
	}
}

// deployments writes each app's deployment history in numbers.
func (m *metricWriter) deployments(apps []deploy.AppStatus) {
	m.family("bluegreen_deployments_total", "counter", "Deployments of the app by final status (other: superseded, interrupted, running).")
	for _, a := range apps {
		st := a.Stats
		other := st.Deployments - st.Completed - st.Failed - st.RolledBack
		if other < 0 {
			other = 0
		}
		m.sample("bluegreen_deployments_total", labels{"app", a.Name, "status", string(deploy.StatusCompleted)}, float64(st.Completed))
		m.sample("bluegreen_deployments_total", labels{"app", a.Name, "status", string(deploy.StatusFailed)}, float64(st.Failed))
		m.sample("bluegreen_deployments_total", labels{"app", a.Name, "status", string(deploy.StatusRolledBack)}, float64(st.RolledBack))
		m.sample("bluegreen_deployments_total", labels{"app", a.Name, "status", "other"}, float64(other))
	}

	m.family("bluegreen_deployment_success_ratio", "gauge", "Completed deployments over all finished deployments (0 to 1).")
	for _, a := range apps {
		m.sample("bluegreen_deployment_success_ratio", labels{"app", a.Name}, successRatio(a.Stats.SuccessRate))
	}

	m.family("bluegreen_deployment_duration_avg_ms", "gauge", "Average duration of the app's deployments in milliseconds.")
	for _, a := range apps {
		m.sample("bluegreen_deployment_duration_avg_ms", labels{"app", a.Name}, float64(a.Stats.AvgDurationMS))
	}

	m.family("bluegreen_deployment_duration_p95_ms", "gauge", "95th percentile duration of the app's deployments in milliseconds.")
	for _, a := range apps {
		m.sample("bluegreen_deployment_duration_p95_ms", labels{"app", a.Name}, float64(a.Stats.P95DurationMS))
	}
}

// connections writes the open proxied connections of each color.
func (m *metricWriter) connections(apps []deploy.AppStatus) {
	m.family("bluegreen_proxy_connections", "gauge", "Open proxied connections per color and kind (http, websocket).")
	for _, a := range apps {
		for _, c := range deploy.Colors {
			conn := a.Connections[c]
			m.sample("bluegreen_proxy_connections", labels{"app", a.Name, "color", string(c), "kind", "http"}, float64(conn.HTTP))
			m.sample("bluegreen_proxy_connections", labels{"app", a.Name, "color", string(c), "kind", "websocket"}, float64(conn.WebSocket))
		}
	}
}

// labels are name, value pairs in order.
type labels []string

type metricWriter struct {
	w io.Writer
}

func (m *metricWriter) family(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

func (m *metricWriter) sample(name string, l labels, v float64) {
	var b strings.Builder
	b.WriteString(name)
	if len(l) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(l); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(l[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	b.WriteByte('\n')
	io.WriteString(m.w, b.String())
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// successRatio normalises a success rate to 0..1 whether the backend reports
// it as a ratio or as a percentage.
func successRatio(r float64) float64 {
	if r > 1 {
		return r / 100
	}
	return r
}
