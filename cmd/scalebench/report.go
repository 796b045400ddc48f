package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// results is everything a run measured.
type results struct {
	started       time.Time
	stableAfter   time.Duration
	gaveUpAfter   time.Duration // when waitAllStable gave up: some apps never became stable
	notStable     int           // apps not stable when it ended
	failedDeploys int           // failed deployments of all apps by then (first starts, retried or not)
	cpuIdle       float64       // % of one core
	dockerdIdle   float64
	rssIdle       int64 // KiB
	api           []time.Duration
	apiBytes      int
	wal           []walSample
	walMax        int64
	walDuration   time.Duration
	dbSize        int64

	connsKiB     float64
	connsCounted int64
	wsKiB        float64
	wsCounted    int64
	burstPeak    int64
	afterBurst   []rssSample

	logRequests, logFailed int64
	logLines, logWarn      int

	deploys deployResults
}

type walSample struct {
	at   time.Duration
	size int64
}

type rssSample struct {
	at  time.Duration
	kib int64
}

type deployResults struct {
	n                   int
	completed, switched []time.Duration // since the batch's first API call
	drain, stop         []time.Duration
	notCompleted        []string
	probes, probeFails  int64
	firstFail           string
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func mb(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// coldStart writes the rows of the time until all apps are stable.
func (r *results) coldStart(c config, row func(what, value, ref, target string)) {
	if r.stableAfter > 0 {
		row(fmt.Sprintf("all %d apps stable after start", c.apps), secs(r.stableAfter), "46-57 s", "")
	}
	if r.gaveUpAfter > 0 {
		row(fmt.Sprintf("apps never stable (none changed for %s)", settleWait),
			fmt.Sprintf("%d of %d, %s after start", r.notStable, c.apps, secs(r.gaveUpAfter)), "", "0")
	}
	if r.stableAfter > 0 || r.gaveUpAfter > 0 {
		row("  failed deployments on the way", fmt.Sprint(r.failedDeploys), "", "")
	}
}

// print writes the table of what was measured (rows not reached are left out).
func (b *bench) print() {
	r := &b.res
	c := b.c
	load, _ := os.ReadFile("/proc/loadavg")
	concurrency := "serve's default"
	if c.concurrency >= 0 {
		concurrency = fmt.Sprint(c.concurrency)
	}
	fmt.Printf("\nscalebench: %d apps, health interval %s, startup_timeout %s, stop_timeout %s, Docker concurrency %s; %d CPUs; load average now %s\n\n",
		c.apps, c.interval, c.startup, c.stopTimeout, concurrency, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "measured\tvalue\tissue 9 (before)\ttarget")
	row := func(what, value, ref, target string) { fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", what, value, ref, target) }
	r.coldStart(c, row)
	if r.rssIdle > 0 {
		row("supervisor RSS, idle", mib(r.rssIdle), "", "")
		row(fmt.Sprintf("supervisor CPU, idle (%s)", c.idle), fmt.Sprintf("%.1f%% of a core", r.cpuIdle), "28% of a core", "≤ 5%")
		row("  dockerd CPU meanwhile", fmt.Sprintf("%.1f%% of a core", r.dockerdIdle), "", "")
	}
	if len(r.api) > 0 {
		row(fmt.Sprintf("GET /api/apps p50 / p90 / p99 (%d requests)", len(r.api)),
			fmt.Sprintf("%s / %s / %s (%d KB)", ms(pct(r.api, 50)), ms(pct(r.api, 90)), ms(pct(r.api, 99)), r.apiBytes/1000),
			"p50 34 ms, p90 60 ms (123 KB)", "p50 ≤ 10 ms")
	}
	if len(r.wal) > 0 {
		var series []string
		for i, s := range r.wal {
			if i%12 == 0 || i == len(r.wal)-1 {
				series = append(series, fmt.Sprintf("%s: %s", s.at.Round(time.Second), mb(s.size)))
			}
		}
		row(fmt.Sprintf("SQLite WAL over %s: largest / at the end", r.walDuration.Round(time.Second)),
			fmt.Sprintf("%s / %s", mb(r.walMax), mb(r.wal[len(r.wal)-1].size)), "+2.1 MB/s, never shrinks", "< 16 MiB")
		row("  WAL over time", strings.Join(series, ", "), "", "")
		row("  database file at the end", mb(r.dbSize), "", "")
	}
	if r.connsKiB != 0 {
		row(fmt.Sprintf("memory per idle keep-alive client connection (%d)", c.conns), fmt.Sprintf("%.1f KiB", r.connsKiB), "17 KiB", "≤ 4 KiB")
		row(fmt.Sprintf("  connections.http with %d idle connections open", c.conns), fmt.Sprint(r.connsCounted), "0", fmt.Sprint(c.conns))
	}
	if r.wsKiB != 0 {
		row(fmt.Sprintf("memory per open WebSocket (%d)", c.ws), fmt.Sprintf("%.1f KiB", r.wsKiB), "46 KiB", "≤ 20 KiB")
		row("  connections.websocket meanwhile", fmt.Sprint(r.wsCounted), "", fmt.Sprint(c.ws))
	}
	if len(r.afterBurst) > 0 {
		var s []string
		for _, x := range r.afterBurst {
			s = append(s, fmt.Sprintf("%s: %s", x.at, mib(x.kib)))
		}
		row("RSS after the WebSockets closed", fmt.Sprintf("idle %s, peak %s; %s", mib(r.rssIdle), mib(r.burstPeak), strings.Join(s, ", ")),
			"stays high for minutes", "near idle within seconds")
	}
	if r.logRequests > 0 {
		row(fmt.Sprintf("log lines naming a dead app in %s of traffic", c.logWindow),
			fmt.Sprintf("%d lines (%d WARN) for %d requests, %d failed", r.logLines, r.logWarn, r.logRequests, r.logFailed),
			"7,280 lines in 20 s", "one per second, with a count")
	}
	if d := r.deploys; d.n > 0 {
		row(fmt.Sprintf("%d concurrent deploys: completed", d.n), fmt.Sprintf("%d of %d %s", len(d.completed), d.n, strings.Join(d.notCompleted, "; ")), "20 of 20", "")
		row("  traffic switched by (median / last)", fmt.Sprintf("%s / %s", secs(pct(d.switched, 50)), secs(pct(d.switched, 100))), "14-18 s", "")
		row("  completed by (median / last)", fmt.Sprintf("%s / %s", secs(pct(d.completed, 50)), secs(pct(d.completed, 100))), "31-36 s", "")
		row("  drain of the old color (median / longest)", fmt.Sprintf("%s / %s", secs(pct(d.drain, 50)), secs(pct(d.drain, 100))), "", "")
		row("  stop of the old container (median / longest)", fmt.Sprintf("%s / %s", secs(pct(d.stop, 50)), secs(pct(d.stop, 100))),
			"16-25 s", fmt.Sprintf("≤ stop_timeout %s + a small margin", c.stopTimeout))
		fail := ""
		if d.firstFail != "" {
			fail = " (first: " + d.firstFail + ")"
		}
		row("  requests to the other apps meanwhile: failed", fmt.Sprintf("%d of %d%s", d.probeFails, d.probes, fail), "0 of 42,012", "0")
	}
	w.Flush()
}
