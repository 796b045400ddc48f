package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// formatter renders API answers for people. now is replaceable in tests.
type formatter struct {
	now func() time.Time
	// width is the terminal's number of columns; 0 when the output is not
	// a terminal: then no text is cut (docs/cli.md, "Output").
	width int
}

// cut flattens s to one line and, on a terminal, cuts it to n runes with
// "…"; piped or redirected, the whole text stays (a fix hint at the end
// of an error is not lost).
func (f formatter) cut(s string, n int) string {
	if f.width <= 0 {
		return strings.Join(strings.Fields(s), " ")
	}
	return oneLine(s, n)
}

// appsColumns are the columns of the apps table. When it must fit a
// terminal (ctl watch), TRAFFIC goes first while every app serves with
// nothing held (it says nothing then), then PROXY, HEALTH, ACTIVE and LAST
// DEPLOY; TRAFFIC of an app that is paused or in maintenance goes last (it
// matters more than the last deployment); then IMAGE is cut.
var appsColumns = []column{
	{head: "APP"}, {head: "STATUS"}, {head: "TRAFFIC", drop: 6}, {head: "ACTIVE", drop: 4}, {head: "IMAGE", cut: true},
	{head: "HEALTH", drop: 3}, {head: "LAST DEPLOY", drop: 5}, {head: "PROXY", drop: 2},
}

// trafficColumn is TRAFFIC's index in appsColumns.
const trafficColumn = 2

// appsColumnsFor returns the columns of the apps table for apps: TRAFFIC
// is the first to go when every app serves and none holds a request.
func appsColumnsFor(apps []deploy.AppStatus) []column {
	for _, a := range apps {
		if a.Traffic.Held > 0 || (a.Traffic.Mode != deploy.TrafficServing && a.Traffic.Mode != "") {
			return appsColumns
		}
	}
	cols := slices.Clone(appsColumns)
	cols[trafficColumn].drop = 1
	return cols
}

// appsTable writes one row per app.
func (f formatter) appsTable(w io.Writer, apps []deploy.AppStatus) {
	f.appsTableFit(w, apps, 0)
}

// appsTableFit writes one row per app, every line within width runes (0:
// any width).
func (f formatter) appsTableFit(w io.Writer, apps []deploy.AppStatus, width int) {
	rows := make([][]string, 0, len(apps))
	for _, a := range apps {
		rows = append(rows, []string{a.Name, dash(a.Status), trafficCell(a.Traffic), dash(a.ActiveColor), dash(a.CurrentImage),
			activeHealth(a), f.lastDeploy(a), proxyCell(a)})
	}
	fitTable(w, appsColumnsFor(apps), rows, width)
	if len(apps) == 0 {
		fmt.Fprintln(w, "(no apps configured)")
	}
}

// appDetail writes the detail view of one app.
func (f formatter) appDetail(w io.Writer, a deploy.AppStatus) {
	fmt.Fprintf(w, "%s  %s\n", a.Name, strings.ToUpper(dash(a.Status)))
	if a.Error != "" {
		fmt.Fprintf(w, "  problem:  %s\n", a.Error)
	}
	fmt.Fprintf(w, "  traffic:  %s\n", f.trafficLine(a.Traffic))
	fmt.Fprintf(w, "  active:   %s\n", dash(a.ActiveColor))
	fmt.Fprintf(w, "  image:    %s\n", dash(a.CurrentImage))
	if a.DesiredImage != "" && a.DesiredImage != a.CurrentImage {
		fmt.Fprintf(w, "  desired:  %s\n", a.DesiredImage)
	}
	fmt.Fprintf(w, "  ports:    proxy %d, blue %d, green %d\n", a.Ports.Proxy, a.Ports.Blue, a.Ports.Green)

	fmt.Fprintln(w, "\ncontainers:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COLOR\tSTATE\tHEALTH\tIMAGE\tID\tCONNECTIONS")
	for _, color := range deploy.Colors {
		c := a.Containers.Of(color)
		name := string(color)
		if color == a.ActiveColor {
			name += " *"
		}
		conns := connCell(a.Connections[color])
		if c == nil {
			fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t%s\n", name, conns)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", name, dash(c.State), dash(c.Health), dash(c.Image), shortID(c.ID), conns)
	}
	tw.Flush()

	fmt.Fprintln(w)
	if a.Deployment != nil {
		d := a.Deployment
		fmt.Fprintf(w, "deploying:        #%d %s  %s → %s  (%s, started %s)\n",
			d.DeploymentID, d.Status, dash(d.FromImage), d.ToImage, d.TriggerSource, f.age(d.StartedAt))
		if v := d.Verification; v != nil && v.Result == deploy.VerificationRunning {
			fmt.Fprintf(w, "                  %s (ctl promote %s skips the rest)\n", windowProgress(*v), a.Name)
		}
	} else {
		fmt.Fprintln(w, "deploying:        no")
	}
	if d := a.LastDeployment; d != nil {
		fmt.Fprintf(w, "last deployment:  #%d %s  %s → %s  (%s, %s, %s)\n",
			d.DeploymentID, d.Status, dash(d.FromImage), d.ToImage, d.TriggerSource,
			durationMS(d.DurationMS), f.age(d.StartedAt))
		if d.Error != "" {
			fmt.Fprintf(w, "                  error: %s\n", d.Error)
		}
	} else {
		fmt.Fprintln(w, "last deployment:  none")
	}
	s := a.Stats
	fmt.Fprintf(w, "stats:            %d deployments, %d completed, %d failed, %d rolled back, %s success, avg %s, p95 %s\n",
		s.Deployments, s.Completed, s.Failed, s.RolledBack, percent(s.SuccessRate),
		durationMS(s.AvgDurationMS), durationMS(s.P95DurationMS))
}

// historyTable writes deployments, newest first as given.
func (f formatter) historyTable(w io.Writer, ds []deploy.Deployment) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "no deployments yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tFROM → TO\tTRIGGER\tSTATUS\tDURATION\tSTARTED\tERROR")
	for _, d := range ds {
		dur := durationMS(d.DurationMS)
		if !d.Done() {
			dur = "running"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s → %s\t%s\t%s\t%s\t%s\t%s\n",
			d.DeploymentID, dash(d.Kind), dash(d.FromImage), dash(d.ToImage), dash(d.TriggerSource), d.Status,
			dur, f.stamp(d.StartedAt), f.cut(d.Error, 60))
	}
	tw.Flush()
}

// healthView writes the health of each color and its recent checks.
func (f formatter) healthView(w io.Writer, h map[deploy.Color]deploy.ColorHealth) {
	colors := make([]deploy.Color, 0, len(h))
	for c := range h {
		colors = append(colors, c)
	}
	slices.Sort(colors)
	for i, color := range colors {
		ch := h[color]
		if i > 0 {
			fmt.Fprintln(w)
		}
		state := string(deploy.Unhealthy)
		switch {
		case ch.Healthy:
			state = string(deploy.Healthy)
		case ch.Status == deploy.NoContainer:
			state = "no container"
		case ch.Status == deploy.Unchecked:
			state = "not checked (container " + ch.Container + ")"
		case ch.Status != "":
			state = string(ch.Status)
		}
		last := "never checked"
		if ch.LastCheck != nil {
			last = "last check " + f.age(*ch.LastCheck)
		}
		fmt.Fprintf(w, "%s: %s, %s, %d consecutive failures\n", color, state, last, ch.ConsecutiveFailures)
		if len(ch.Checks) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  AT\tRESULT\tSTATUS\tTIME\tERROR")
		for _, c := range ch.Checks {
			res := "fail"
			switch {
			case c.Success:
				res = "ok"
			case c.Starting: // before the container's first pass: no failure
				res = "starting"
			}
			code := "-"
			if c.StatusCode != 0 {
				code = strconv.Itoa(c.StatusCode)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.At.Local().Format("15:04:05"), res, code,
				strconv.FormatFloat(c.ResponseTimeMS, 'f', 1, 64)+"ms", f.cut(c.Error, 60))
		}
		tw.Flush()
	}
	if len(colors) == 0 {
		fmt.Fprintln(w, "no health checks recorded")
	}
}

// eventLine renders one event on one line.
func (f formatter) eventLine(ev deploy.Event) string {
	var b strings.Builder
	b.WriteString(ev.At.Local().Format("2006-01-02 15:04:05"))
	b.WriteString("  ")
	b.WriteString(dash(ev.App))
	if ev.DeploymentID != nil {
		fmt.Fprintf(&b, "  #%d", *ev.DeploymentID)
	}
	b.WriteString("  ")
	b.WriteString(string(ev.Type))
	if ev.Message != "" {
		b.WriteString("  ")
		b.WriteString(f.cut(ev.Message, 200))
	}
	return b.String()
}

// reloadSummary says what a reload changed.
func reloadSummary(w io.Writer, r deploy.ReloadResult) {
	parts := []string{}
	add := func(label string, names []string) {
		if len(names) > 0 {
			parts = append(parts, label+" "+strings.Join(names, ", "))
		}
	}
	add("added", r.Added)
	add("removed", r.Removed)
	add("changed", r.Changed)
	if len(parts) == 0 {
		fmt.Fprintf(w, "configs reloaded: nothing changed (%s)\n", plural(len(r.Unchanged), "app", "apps"))
		return
	}
	fmt.Fprintf(w, "configs reloaded: %s\n", strings.Join(parts, "; "))
}

// plural writes n with the word that fits it: "1 app", "3 apps".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (f formatter) lastDeploy(a deploy.AppStatus) string {
	if d := a.Deployment; d != nil {
		return string(d.Status) + " (running " + shortDuration(f.now().Sub(d.StartedAt)) + ")"
	}
	if d := a.LastDeployment; d != nil {
		return string(d.Status) + " " + f.age(d.StartedAt)
	}
	return "-"
}

// age renders how long ago t was: "12s ago", "5m ago", "3h ago", "2d ago".
func (f formatter) age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := f.now().Sub(t)
	if d < 0 {
		d = 0
	}
	return shortDuration(d) + " ago"
}

// stamp renders a start time: the clock for today, the date otherwise.
func (f formatter) stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt := t.Local()
	if f.now().Local().Format("2006-01-02") == lt.Format("2006-01-02") {
		return lt.Format("15:04:05")
	}
	return lt.Format("2006-01-02 15:04")
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// durationMS renders a duration in milliseconds: "850ms", "14.2s", "2m05s".
func durationMS(ms int64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + "ms"
	case ms < 60_000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', 1, 64) + "s"
	}
	s := ms / 1000
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}

func percent(rate float64) string {
	if rate <= 1 {
		rate *= 100
	}
	return strconv.FormatFloat(rate, 'f', 0, 64) + "%"
}

func activeHealth(a deploy.AppStatus) string {
	c := a.Containers.Of(a.ActiveColor)
	if c == nil {
		return "-"
	}
	return dash(c.Health)
}

func proxyCell(a deploy.AppStatus) string {
	s := ":" + strconv.Itoa(a.Ports.Proxy)
	var h, ws int64
	for _, c := range a.Connections {
		h += c.HTTP
		ws += c.WebSocket
	}
	if h > 0 || ws > 0 {
		s += fmt.Sprintf(" (%d http, %d ws)", h, ws)
	}
	return s
}

func connCell(c deploy.Connections) string {
	return fmt.Sprintf("%d http, %d ws", c.HTTP, c.WebSocket)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return dash(id)
}

// dash renders an empty word as "-".
func dash[T ~string](s T) string {
	if s == "" {
		return "-"
	}
	return string(s)
}

// oneLine flattens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// writeJSONLine prints v as one line of compact JSON.
func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
