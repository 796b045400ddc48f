package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// target is one thing under load: the backend itself or a proxy before it.
type target struct {
	name   string
	addr   string
	proc   *proc
	direct bool
	runs   map[int][]result
	ws     []wsResult
}

// result is one wrk run.
type result struct {
	rps, p50, p99       float64 // requests/s, latencies in µs
	cpuPerReq, csPerReq float64 // proxy CPU µs and context switches per request
}

type wsResult struct{ p50, p99 float64 }

func (t *target) add(conns int, r result) {
	if t.runs == nil {
		t.runs = map[int][]result{}
	}
	t.runs[conns] = append(t.runs[conns], r)
}

// median returns the field-wise median over rounds.
func (t *target) median(conns int) result {
	rs := t.runs[conns]
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return med(v)
	}
	return result{
		rps:       pick(func(r result) float64 { return r.rps }),
		p50:       pick(func(r result) float64 { return r.p50 }),
		p99:       pick(func(r result) float64 { return r.p99 }),
		cpuPerReq: pick(func(r result) float64 { return r.cpuPerReq }),
		csPerReq:  pick(func(r result) float64 { return r.csPerReq }),
	}
}

func medianWS(ws []wsResult) wsResult {
	var a, b []float64
	for _, w := range ws {
		a, b = append(a, w.p50), append(b, w.p99)
	}
	return wsResult{med(a), med(b)}
}

func med(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// measure runs wrk against t with conns connections and reads the proxy's
// CPU time and context switches around it.
func measure(ctx context.Context, c config, t *target, conns int) (result, error) {
	threads := min(c.threads, conns)
	before, err := usage(t.proc.pid())
	if err != nil {
		return result{}, err
	}
	out, err := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%.0fs", c.duration.Seconds()), "--latency", "http://"+t.addr+"/").CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	after, err := usage(t.proc.pid())
	if err != nil {
		return result{}, err
	}
	r, err := parseWrk(out)
	if err != nil {
		return result{}, err
	}
	if n := r.rps * c.duration.Seconds(); n > 0 {
		r.cpuPerReq = float64(after.cpu-before.cpu) / float64(time.Microsecond) / n
		r.csPerReq = float64(after.cs-before.cs) / n
	}
	return r, nil
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	reErrors  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
)

// parseWrk reads requests/s and the 50% and 99% latencies of wrk --latency.
func parseWrk(out []byte) (result, error) {
	var r result
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, l := range reLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(l[2]), 64)
		switch string(l[3]) {
		case "ms":
			v *= 1e3
		case "s":
			v *= 1e6
		}
		if string(l[1]) == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if e := reErrors.Find(out); e != nil {
		return r, fmt.Errorf("wrk saw errors: %s", e)
	}
	return r, nil
}

// procUsage is CPU time and context switches of a process tree.
type procUsage struct {
	cpu time.Duration
	cs  int64
}

const clockTicks = 100 // USER_HZ on Linux

// usage sums CPU time (utime+stime of each process, which include its
// threads) and voluntary+nonvoluntary context switches (per thread) of pid
// and its descendants.
func usage(pid int) (procUsage, error) {
	var u procUsage
	pids := append([]int{pid}, descendants(pid)...)
	for _, p := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			return u, err
		}
		f := statFields(stat)
		ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 utime
		st, _ := strconv.ParseInt(f[12], 10, 64) // field 15 stime
		u.cpu += time.Duration(ut+st) * time.Second / clockTicks
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", p))
		for _, ts := range tasks {
			b, err := os.ReadFile(ts)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					u.cs += n
				}
			}
		}
	}
	return u, nil
}

// statFields splits /proc/<pid>/stat after the command name; index 0 is
// field 3 (state).
func statFields(stat []byte) []string {
	i := bytes.LastIndexByte(stat, ')')
	return strings.Fields(string(stat[i+2:]))
}

// descendants lists the child processes of pid, recursively.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := statFields(stat)
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// wsRoundTrips measures n sequential echo round trips of a 32-byte message
// over one WebSocket to addr/ws; latencies in µs.
func wsRoundTrips(ctx context.Context, addr string, n int) (wsResult, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		return wsResult{}, err
	}
	defer c.CloseNow()
	msg := bytes.Repeat([]byte("x"), 32)
	lat := make([]float64, 0, n)
	for i := range n + 100 {
		start := time.Now()
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			return wsResult{}, err
		}
		if _, _, err := c.Read(ctx); err != nil {
			return wsResult{}, err
		}
		if i >= 100 { // warm-up
			lat = append(lat, float64(time.Since(start))/float64(time.Microsecond))
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	slices.Sort(lat)
	return wsResult{p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}, nil
}
