package config

import (
	"math"
	"regexp"
	"strconv"
	"time"
)

// Defaults and bounds of deployment.verify (docs/verification.md, "Settings").
const (
	DefaultVerifyWindow = 60 * time.Second
	DefaultMaxErrorRate = 0.01 // 1%
	DefaultMinRequests  = 20
	MinVerifyWindow     = time.Second
	MaxVerifyWindow     = time.Hour
	// MaxMinRequests bounds verify.min_requests: a window needs no more to
	// be judged on its numbers.
	MaxMinRequests = 1_000_000
)

// Verify is how a deployment watches the new color's real traffic after
// the switch, and in each canary step (docs/verification.md).
type Verify struct {
	// Window is how long the new color's traffic is watched: in each canary
	// step, and after the switch.
	Window time.Duration
	// MaxErrorRate is the largest share of 5xx answers among the new
	// color's requests in a window that passes, a fraction (0.01 for 1%).
	MaxErrorRate float64
	// MinRequests is the fewest requests a window needs to be judged on its
	// numbers; a window with fewer is judged on health alone.
	MinRequests int
	// MaxP99 is the largest p99 of the answers' durations in a window that
	// passes; 0: not judged.
	MaxP99 time.Duration
}

// verifyKeys are the keys of deployment.verify.
var verifyKeys = []string{"window", "max_error_rate", "min_requests", "max_p99"}

// percentRE is a rate as written in a config: a number and a percent sign.
var percentRE = regexp.MustCompile(`^([+-]?[0-9]+(?:\.[0-9]+)?)\s*%$`)

// verify reads deployment.verify.
func (d *decoder) verify(f *field) *Verify {
	m, ok := d.mapping(f, verifyKeys)
	if !ok {
		return nil
	}
	v := &Verify{Window: DefaultVerifyWindow, MaxErrorRate: DefaultMaxErrorRate, MinRequests: DefaultMinRequests}
	if wf := optional(m, "window"); wf != nil {
		if w, ok := d.duration(wf); ok {
			if w < MinVerifyWindow || w > MaxVerifyWindow {
				d.errorf(wf.at, wf.path, "%s is not a window between %s and %s", w, MinVerifyWindow, MaxVerifyWindow)
			} else {
				v.Window = w
			}
		}
	}
	if rf := optional(m, "max_error_rate"); rf != nil {
		if r, ok := d.rate(rf); ok {
			v.MaxErrorRate = r
		}
	}
	if nf := optional(m, "min_requests"); nf != nil {
		if n, ok := d.integer(nf, "a number of requests"); ok {
			if n < 0 || n > MaxMinRequests {
				d.errorf(nf.at, nf.path, "%d is not a number of requests (0-%d)", n, MaxMinRequests)
			} else {
				v.MinRequests = int(n)
			}
		}
	}
	d.setDuration(m, "max_p99", &v.MaxP99)
	return v
}

// rate reads a percent from 0% to 100% as a fraction.
func (d *decoder) rate(f *field) (float64, bool) {
	s, ok := d.text(f, "a percent like 1% or 0.5%")
	if !ok {
		return 0, false
	}
	m := percentRE.FindStringSubmatch(s)
	if m == nil {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			d.errorf(f.at, f.path, "%q is not a rate: write it as a percent (e.g. %s%%)", s, s)
		} else {
			d.errorf(f.at, f.path, "%q is not a rate: write it as a percent (e.g. 1%% or 0.5%%)", s)
		}
		return 0, false
	}
	p, err := strconv.ParseFloat(m[1], 64)
	if err != nil || math.IsInf(p, 0) || p < 0 || p > 100 {
		d.errorf(f.at, f.path, "%q is not a rate between 0%% and 100%%", s)
		return 0, false
	}
	return p / 100, true
}

// canary reads deployment.canary: percents of clients, each 1-99, strictly
// increasing.
func (d *decoder) canary(f *field) []int {
	items, ok := d.sequence(f, "percents of clients (e.g. [10, 50])")
	if !ok {
		return nil
	}
	steps := make([]int, 0, len(items))
	valid := true
	for _, it := range items {
		n, ok := d.integer(it, "a percent of clients (1-99)")
		if !ok {
			valid = false
			continue
		}
		if n < 1 || n > 99 {
			d.errorf(it.at, it.path, "%d is not a percent of clients for a canary step (1-99)", n)
			valid = false
			continue
		}
		if len(steps) > 0 && int(n) <= steps[len(steps)-1] {
			d.errorf(it.at, it.path, "%d does not follow %d: the steps must be strictly increasing (e.g. [10, 50])", n, steps[len(steps)-1])
			valid = false
			continue
		}
		steps = append(steps, int(n))
	}
	if !valid || len(steps) == 0 {
		return nil
	}
	return steps
}
