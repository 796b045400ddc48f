package e2e

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// faultKind is a kind of fault the soak injects.
type faultKind string

const (
	faultDeployGood    faultKind = "deploy good image"
	faultDeployBad     faultKind = "deploy bad image"
	faultDeployBurst   faultKind = "deploys in quick succession"
	faultDockerKill    faultKind = "docker kill active container"
	faultKill9         faultKind = "kill -9 serve, start it"
	faultSIGTERM       faultKind = "SIGTERM serve, start it"
	faultUpgrade       faultKind = "SIGUSR2 upgrade"
	faultReload        faultKind = "SIGHUP reload"
	faultDockerCut     faultKind = "Docker socket cut"
	faultDockerRestart faultKind = "Docker daemon restart"
)

// allFaultKinds is every kind, in the order of the summary table.
var allFaultKinds = []faultKind{faultDeployGood, faultDeployBad, faultDeployBurst, faultDockerKill, faultKill9,
	faultSIGTERM, faultUpgrade, faultReload, faultDockerCut, faultDockerRestart}

// step is one fault of the plan, with everything about it that is drawn.
type step struct {
	kind  faultKind
	app   int           // the app it aims at
	pause time.Duration // load alone before it
	// kill -9 and upgrade: with a deployment of the app in flight, the
	// kill this long after its request; Docker socket cut: with the app's
	// active container stopped meanwhile.
	during bool
	delay  time.Duration
	burst  []string        // deploys in quick succession: the images,
	gaps   []time.Duration // and the time between two
	cut    time.Duration   // Docker socket cut: for how long
}

// plan is the fault schedule: the seed alone decides it. It deals the
// kinds in rounds, each a seeded shuffle of all of them, so that a run of a
// few rounds has met every kind.
type plan struct {
	r     *rand.Rand
	kinds []faultKind
	bag   []faultKind
	apps  int
}

func newPlan(seed int64, apps int, dockerRestart bool) *plan {
	p := &plan{r: rand.New(rand.NewPCG(uint64(seed), 0x50a4)), apps: apps}
	for _, kind := range allFaultKinds {
		if kind != faultDockerRestart || dockerRestart {
			p.kinds = append(p.kinds, kind)
		}
	}
	return p
}

func (p *plan) next() step {
	if len(p.bag) == 0 {
		p.bag = slices.Clone(p.kinds)
		p.r.Shuffle(len(p.bag), func(i, j int) { p.bag[i], p.bag[j] = p.bag[j], p.bag[i] })
	}
	st := step{kind: p.bag[0], app: p.r.IntN(p.apps), pause: 2*time.Second + p.upTo(4*time.Second)}
	p.bag = p.bag[1:]
	switch st.kind {
	case faultKill9, faultUpgrade:
		st.during, st.delay = p.r.IntN(2) == 0, p.upTo(1500*time.Millisecond)
	case faultDeployBurst:
		for n := range 2 + p.r.IntN(3) {
			if n > 0 {
				st.gaps = append(st.gaps, 50*time.Millisecond+p.upTo(350*time.Millisecond))
			}
			st.burst = append(st.burst, []string{imgV1, imgV2, imgSick}[p.r.IntN(3)])
		}
	case faultDockerCut:
		st.during, st.cut = p.r.IntN(2) == 0, 2*time.Second+p.upTo(3*time.Second)
	}
	return st
}

// upTo draws a duration in [0, d), in whole milliseconds.
func (p *plan) upTo(d time.Duration) time.Duration {
	return time.Duration(p.r.Int64N(d.Milliseconds())) * time.Millisecond
}

// TestSoakPlan_SeedAlone: the schedule is the seed's alone (a seed replays
// it), seeds differ, and each round deals every kind once.
func TestSoakPlan_SeedAlone(t *testing.T) {
	steps := func(seed int64, n int, restart bool) []step {
		p := newPlan(seed, soakApps, restart)
		var out []step
		for range n {
			out = append(out, p.next())
		}
		return out
	}
	a, b := steps(42, 60, false), steps(42, 60, false)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two plans of seed 42 differ")
	}
	if reflect.DeepEqual(a, steps(43, 60, false)) {
		t.Fatal("the plans of seeds 42 and 43 are the same")
	}
	for _, restart := range []bool{false, true} {
		kinds := len(allFaultKinds) - 1
		if restart {
			kinds++
		}
		s := steps(7, 3*kinds, restart)
		for r := range 3 {
			seen := map[faultKind]int{}
			for _, st := range s[r*kinds : (r+1)*kinds] {
				seen[st.kind]++
				if st.app < 0 || st.app >= soakApps || st.pause < 2*time.Second || st.pause >= 6*time.Second {
					t.Fatalf("step %+v", st)
				}
				if st.kind == faultDeployBurst && (len(st.burst) < 2 || len(st.gaps) != len(st.burst)-1) {
					t.Fatalf("burst %+v", st)
				}
			}
			if len(seen) != kinds || seen[faultDockerRestart] != map[bool]int{true: 1}[restart] {
				t.Fatalf("round %d (docker restart %v) dealt %v", r, restart, seen)
			}
		}
	}
}
