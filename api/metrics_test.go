package api

import (
	"bufio"
	"bytes"
	"github.com/bluegreen/bluegreen/deploy"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (\S+)$`)
)

func TestWriteMetrics(t *testing.T) {
	apps, _ := newFakeBackend().Apps(t.Context())
	apps = append(apps, deploy.AppStatus{Name: `we"ird\app`, Status: deploy.AppStopped})
	var buf bytes.Buffer
	WriteMetrics(&buf, apps)

	t.Run("every line parses", func(t *testing.T) {
		typed := map[string]string{}
		helped := map[string]bool{}
		samples := 0
		sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			switch {
			case helpLine.MatchString(line):
				helped[helpLine.FindStringSubmatch(line)[1]] = true
			case typeLine.MatchString(line):
				m := typeLine.FindStringSubmatch(line)
				if _, dup := typed[m[1]]; dup {
					t.Errorf("line %d: second TYPE for %s", n, m[1])
				}
				typed[m[1]] = m[2]
			case sampleLine.MatchString(line):
				m := sampleLine.FindStringSubmatch(line)
				if _, ok := typed[m[1]]; !ok || !helped[m[1]] {
					t.Errorf("line %d: sample of %s before its HELP and TYPE", n, m[1])
				}
				if _, err := strconv.ParseFloat(m[len(m)-1], 64); err != nil {
					t.Errorf("line %d: value %q: %v", n, m[len(m)-1], err)
				}
				samples++
			default:
				t.Errorf("line %d does not parse: %q", n, line)
			}
		}
		if samples == 0 {
			t.Fatal("no samples")
		}
		if typed["bluegreen_deployments_total"] != "counter" {
			t.Errorf("deployments_total type %q", typed["bluegreen_deployments_total"])
		}
	})
	t.Run("values", func(t *testing.T) {
		out := buf.String()
		for _, want := range []string{
			`bluegreen_app_status{app="web",status="stable"} 1`,
			`bluegreen_app_status{app="web",status="degraded"} 0`,
			`bluegreen_app_status{app="api",status="degraded"} 1`,
			`bluegreen_app_active_color{app="web",color="blue"} 1`,
			`bluegreen_app_active_color{app="web",color="green"} 0`,
			`bluegreen_deployments_total{app="web",status="completed"} 2`,
			`bluegreen_deployments_total{app="web",status="rolled_back"} 1`,
			`bluegreen_deployment_duration_avg_ms{app="web"} 1200`,
			`bluegreen_deployment_duration_p95_ms{app="web"} 2000`,
			`bluegreen_proxy_connections{app="web",color="blue",kind="http"} 3`,
			`bluegreen_proxy_connections{app="web",color="blue",kind="websocket"} 1`,
			`bluegreen_container_healthy{app="web",color="blue"} 1`,
			`bluegreen_deployment_success_ratio{app="web"} 0.66`,
			`bluegreen_app_status{app="we\"ird\\app",status="stopped"} 1`,
			`bluegreen_apps 3`,
		} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("missing %s", want)
			}
		}
	})
}

func BenchmarkWriteMetrics(b *testing.B) {
	apps, _ := newFakeBackend().Apps(b.Context())
	for range 48 {
		apps = append(apps, apps[0])
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		WriteMetrics(&buf, apps)
	}
}
