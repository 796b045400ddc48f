package e2e

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// containerOutageExcused is the one switch of the outage a container's
// death causes. A docker kill of the active container (and a restart of the
// Docker daemon, which stops it) leaves nothing to answer until bluegreen
// started it again and it passed its health checks (docs/faults.md). The
// outage hold (docs/traffic.md, on by default) holds the requests meanwhile
// and sends them once it is back: no request that began after the death may
// fail, and neither may a GET in flight at that instant (its connection was
// lost before its answer began: it is held and sent again, docs/proxy.md,
// "Retries"). A POST in flight then was sent already and is never sent
// twice: a docker kill excuses those alone (inFlightAtDeath). With this
// true, the soak excuses every request until the app is stable again, as
// before the outage hold. WebSockets that the dead container carried stay
// excused either way: nothing can keep them.
const containerOutageExcused = false

// excuse is what a window excuses, as bits.
type excuse uint8

const (
	excuseHTTP      excuse = 1 << iota // a request that met the outage (refused, cut, reset, 502, 503)
	excuseWebSocket                    // a WebSocket that dropped or did not open
	excuseGoingAway                    // a WebSocket closed with 1001 by a drain
	excusePost                         // a POST (a request never sent twice) that met the outage
)

// window is a stretch of time, of one app or of all, whose failures of some
// kinds the documentation allows.
type window struct {
	fault    int // the fault that opened it
	app      int // -1: every app
	excuse   excuse
	from, to time.Time // to zero: still open
}

// injected is one fault the soak injected.
type injected struct {
	kind faultKind
	at   time.Time
	what string
}

// verdict is what the soak makes of one failure.
type verdict struct {
	fault   int  // the fault it is counted for (-1: before the first)
	excused bool // inside a window that excuses it
}

// judge decides whether a window excuses f. A failure is counted for the
// window's fault when one excuses it, else for the fault that was last
// injected when its request was sent.
func (k *soak) judge(f failure) verdict {
	var need excuse
	switch {
	case f.class == classGoingAway:
		need = excuseGoingAway
	case f.class == classOutage && f.op == opWebSocket:
		need = excuseWebSocket
	case f.class == classOutage && (f.op == opPostLength || f.op == opPostChunked):
		need = excuseHTTP | excusePost
	case f.class == classOutage:
		need = excuseHTTP
	}
	for _, w := range k.windows {
		to := w.to
		if to.IsZero() {
			to = time.Now()
		}
		if need&w.excuse != 0 && (w.app == -1 || w.app == f.app) && !f.to.Before(w.from) && !f.from.After(to) {
			return verdict{fault: w.fault, excused: true}
		}
	}
	return verdict{fault: k.period(f.from)}
}

// period is the index of the last fault injected at or before at (-1: none).
func (k *soak) period(at time.Time) int {
	i, _ := slices.BinarySearchFunc(k.faults, at, func(f injected, at time.Time) int {
		if f.at.After(at) {
			return 1
		}
		return -1
	})
	return i - 1
}

// row is one line of the summary table.
type row struct {
	count           int
	inside, outside int
	longest         time.Duration
}

// summary is the soak's outcome: the table, the failures outside windows.
type summary struct {
	rows        map[faultKind]*row
	all         row
	outside     []failure
	outsideAt   []int  // the fault of each failure outside
	longest     streak // the longest of all
	causes      map[string]int
	drained     int // WebSockets closed with 1001 by a drain
	ok          map[op]int64
	badServed   int64
	failuresAll int
}

func (k *soak) summarize() *summary {
	l := k.load
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &summary{rows: map[faultKind]*row{"": {}}, causes: map[string]int{}, ok: maps.Clone(l.ok), badServed: l.badServed}
	at := func(i int) *row {
		kind := faultKind("")
		if i >= 0 {
			kind = k.faults[i].kind
		}
		if s.rows[kind] == nil {
			s.rows[kind] = &row{}
		}
		return s.rows[kind]
	}
	for i := range k.faults {
		at(i).count++
		s.all.count++
	}
	for _, f := range l.failures {
		v := k.judge(f)
		if f.class == classGoingAway && v.excused {
			s.drained++
			continue
		}
		s.failuresAll++
		r := at(v.fault)
		where := "outside"
		if v.excused {
			r.inside++
			s.all.inside++
			where = "inside"
		} else {
			r.outside++
			s.all.outside++
			s.outside = append(s.outside, f)
			s.outsideAt = append(s.outsideAt, v.fault)
		}
		s.causes[fmt.Sprintf("%-16s %-7s %-20s %s", kindName(k, v.fault), where, f.op, f.cause)]++
	}
	for _, st := range l.streaks {
		r := at(k.judge(st.first).fault) // where its first failure counts
		d := st.to.Sub(st.from)
		r.longest = max(r.longest, d)
		if d > s.all.longest {
			s.all.longest, s.longest = d, st
		}
	}
	return s
}

func kindName(k *soak, i int) string {
	if i < 0 {
		return "(none yet)"
	}
	return string(k.faults[i].kind)
}

// table is the summary as a Markdown table, the fault kinds in a fixed order.
func (s *summary) table() string {
	var b strings.Builder
	b.WriteString("| fault | count | failures inside windows | failures outside windows | longest failure streak (ms) |\n")
	b.WriteString("|---|--:|--:|--:|--:|\n")
	line := func(name string, r *row) {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", name, r.count, r.inside, r.outside, r.longest.Milliseconds())
	}
	if r := s.rows[""]; r != nil {
		line("(load alone, before the first fault)", r)
	}
	for _, kind := range allFaultKinds {
		if r := s.rows[kind]; r != nil {
			line(string(kind), r)
		}
	}
	line("all", &s.all)
	return b.String()
}

// String is the whole report: the load's totals, the table, the causes and
// the first failures outside windows.
func (s *summary) String() string {
	var b strings.Builder
	var total int64
	var ops []string
	for _, o := range []op{opGet, opHeaders, opPostLength, opPostChunked, opWebSocket} {
		total += s.ok[o]
		ops = append(ops, fmt.Sprintf("%s %d", o, s.ok[o]))
	}
	fmt.Fprintf(&b, "%d answered (%s), %d failed; %d WebSockets closed with 1001 by a drain; %d answers of the bad image\n\n",
		total, strings.Join(ops, ", "), s.failuresAll, s.drained, s.badServed)
	b.WriteString(s.table())
	if st := s.longest; st.n > 0 {
		fmt.Fprintf(&b, "\nthe longest streak: %d failures of app %d's %s in %s, the first: %s\n",
			st.n, st.first.app, st.first.op, st.to.Sub(st.from).Round(time.Millisecond), st.first.cause)
	}
	if len(s.causes) > 0 {
		b.WriteString("\nfailures by fault, window, request and cause:\n")
		keys := slices.Sorted(maps.Keys(s.causes))
		for _, key := range keys {
			fmt.Fprintf(&b, "  %6d  %s\n", s.causes[key], key)
		}
	}
	return b.String()
}

// outsideList lists the first n failures outside windows, by time.
func (k *soak) outsideList(s *summary, n int) string {
	idx := make([]int, len(s.outside))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(s.outside[a].from.UnixNano(), s.outside[b].from.UnixNano()) })
	var b strings.Builder
	for _, i := range idx[:min(n, len(idx))] {
		f := s.outside[i]
		fmt.Fprintf(&b, "  %8.3fs +%dms app %d %s, during fault %d (%s): %s: %.300s\n", f.from.Sub(k.t0).Seconds(),
			f.to.Sub(f.from).Milliseconds(), f.app, f.op, s.outsideAt[i], kindName(k, s.outsideAt[i]), f.cause, f.detail)
	}
	if len(idx) > n {
		fmt.Fprintf(&b, "  ... and %d more\n", len(idx)-n)
	}
	return b.String()
}

// TestSoakJudge_Windows: a window excuses only the failures of its kinds,
// of its app, that overlap it; a 4xx or a wrong body never.
func TestSoakJudge_Windows(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	k := &soak{
		faults: []injected{{kind: faultDockerKill, at: at(100)}, {kind: faultUpgrade, at: at(1000)}},
		windows: []window{
			{fault: 0, app: 1, excuse: excuseHTTP | excuseWebSocket, from: at(100), to: at(500)},
			{fault: 1, app: -1, excuse: excuseGoingAway, from: at(1000), to: at(2000)},
		},
	}
	for _, tc := range []struct {
		name string
		f    failure
		want verdict
	}{
		{"a 502 in the window", failure{app: 1, op: opGet, from: at(200), to: at(201), class: classOutage}, verdict{0, true}},
		{"begun before, seen inside", failure{app: 1, op: opGet, from: at(50), to: at(120), class: classOutage}, verdict{0, true}},
		{"begun inside, seen after", failure{app: 1, op: opGet, from: at(450), to: at(700), class: classOutage}, verdict{0, true}},
		{"before the first fault", failure{app: 1, op: opGet, from: at(10), to: at(20), class: classOutage}, verdict{-1, false}},
		{"after the window", failure{app: 1, op: opGet, from: at(600), to: at(601), class: classOutage}, verdict{0, false}},
		{"another app", failure{app: 0, op: opGet, from: at(200), to: at(201), class: classOutage}, verdict{0, false}},
		{"a 400 in the window", failure{app: 1, op: opGet, from: at(200), to: at(201), class: classWrong}, verdict{0, false}},
		{"a WebSocket dropped", failure{app: 1, op: opWebSocket, from: at(200), to: at(300), class: classOutage}, verdict{0, true}},
		{"1001 in a drain", failure{app: 2, op: opWebSocket, from: at(1500), to: at(1600), class: classGoingAway}, verdict{1, true}},
		{"1001 outside a drain", failure{app: 1, op: opWebSocket, from: at(300), to: at(310), class: classGoingAway}, verdict{0, false}},
		{"a request cut at an upgrade", failure{app: 2, op: opPostLength, from: at(1500), to: at(1501), class: classOutage}, verdict{1, false}},
	} {
		if got := k.judge(tc.f); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
