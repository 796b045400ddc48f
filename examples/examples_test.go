package examples

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/promtool"
	"github.com/bluegreen/bluegreen/metrics"
	"github.com/bluegreen/bluegreen/proxy"
)

// dashboard is what the test reads of the Grafana dashboard.
type dashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	Templating struct {
		List []struct {
			Name, Type, Definition string
			Query                  struct{ Query string } `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		Type, UID string
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

// exported returns the names a scrape of bluegreen can have: every family
// of a registry with an app that counted something of each kind (the
// process and Go collectors included), histograms with their _bucket,
// _sum and _count series.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	r := metrics.New()
	a := r.App("web")
	a.Requests().Color(proxy.ColorBlue).Observe(200, time.Millisecond)
	a.DeploymentEnded(deploy.StatusCompleted, time.Second)
	fams, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+suffix] = true
			}
		}
	}
	return names
}

var (
	strLit   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matchers = regexp.MustCompile(`\{[^}]*\}`)
	ranges   = regexp.MustCompile(`\[[^\]]*\]`)
	grouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	ident    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	keywords = map[string]bool{"group_left": true, "group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}
	labelVal = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)
)

// metricNames returns the metric names a PromQL expression selects: what
// is left of its identifiers once strings, label matchers, ranges and
// grouping clauses are taken out, without functions and keywords.
func metricNames(expr string) []string {
	s := strLit.ReplaceAllString(expr, `""`)
	s = matchers.ReplaceAllString(s, " ")
	s = ranges.ReplaceAllString(s, " ")
	s = grouping.ReplaceAllString(s, " ")
	var names []string
	for _, m := range ident.FindAllStringSubmatchIndex(s, -1) {
		word := s[m[0]:m[1]]
		if m[2] >= 0 || keywords[strings.ToLower(word)] { // a function or aggregation, or a keyword
			continue
		}
		if m[0] > 0 && (s[m[0]-1] == '$' || s[m[0]-1] >= '0' && s[m[0]-1] <= '9' || s[m[0]-1] == '.') {
			continue // a variable, or the exponent of a number
		}
		names = append(names, word)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (code) (rate(bluegreen_proxy_requests_total{app=~"$app",code=~"5.."}[$__rate_interval]))`:                     "[bluegreen_proxy_requests_total]",
		`histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b}"}[5m])))`:                                                  "[x_bucket]",
		`sum(rate(a_sum[1h])) / sum(rate(a_count[1h])) > bool 0`:                                                              "[a_sum a_count]",
		`bluegreen_app_status{app=~"$app"} == 1`:                                                                              "[bluegreen_app_status]",
		`sum by (app, color) (rate(ok_total[1m])) / ignoring (result) group_left sum without (x) (rate(all_total[1m])) * 1e3`: "[ok_total all_total]",
		`up offset 5m`: "[up]",
	} {
		if got := fmt.Sprint(metricNames(expr)); got != want {
			t.Errorf("%s: %s, want %s", expr, got, want)
		}
	}
}

// grafanaVars replaces the dashboard's variables by values Prometheus
// takes, for promtool to parse the expressions.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__range", "6h", "$__interval", "1m", "$app", ".*")

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/bluegreen-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].Type != "datasource" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("a Prometheus datasource input DS_PROMETHEUS, for import: %+v", d.Inputs)
	}
	names := exported(t)

	var exprs []string
	appVar := false
	for _, v := range d.Templating.List {
		if v.Name != "app" {
			continue
		}
		appVar = true
		m := labelVal.FindStringSubmatch(v.Query.Query)
		if v.Type != "query" || m == nil || !names[m[1]] || v.Definition != v.Query.Query {
			t.Errorf("the app variable: %+v", v)
		}
	}
	if !appVar {
		t.Error("no app variable")
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			ns := metricNames(tg.Expr)
			if len(ns) == 0 {
				t.Errorf("panel %q: %s selects no metric", p.Title, tg.Expr)
			}
			for _, n := range ns {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
				if !names[n] {
					t.Errorf("panel %q: %s is not a metric bluegreen exports (in %s)", p.Title, n, tg.Expr)
				}
			}
			if strings.Contains(tg.Expr, `app=`) && !strings.Contains(tg.Expr, `app=~"$app"`) {
				t.Errorf("panel %q: filter by the app variable: %s", p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	// Every family of docs/metrics.md is on the dashboard.
	for name := range names {
		if strings.HasPrefix(name, "bluegreen_") && !strings.HasSuffix(name, "_bucket") && !strings.HasSuffix(name, "_sum") &&
			!strings.HasSuffix(name, "_count") && !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}

	// promtool parses every expression, as recording rules.
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(grafanaVars.Replace(e))
		fmt.Fprintf(&rules, "      - record: dashboard:expr%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool.CheckRules(t, path)
	t.Logf("promtool check rules (%d expressions): %s", len(exprs), strings.TrimSpace(out))
}

func TestPrometheusExamples(t *testing.T) {
	for _, c := range []struct {
		file  string
		flags []string
	}{
		{"prometheus/prometheus.yml", nil},
		{"prometheus/agent.yml", []string{"--agent"}},
	} {
		out := promtool.CheckConfig(t, c.file, c.flags...)
		t.Logf("promtool check config %s: %s", c.file, strings.TrimSpace(out))
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		// The job the dashboard's process panels select, on the API's default address.
		for _, want := range []string{"job_name: bluegreen", `targets: ["127.0.0.1:7070"]`, "metrics_path: /metrics"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %s", c.file, want)
			}
		}
	}
	if !slices.Contains(metricNames(`rate(process_cpu_seconds_total{job="bluegreen"}[1m])`), "process_cpu_seconds_total") {
		t.Fatal("metricNames")
	}
}
