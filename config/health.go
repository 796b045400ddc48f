package config

import (
	"net/url"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// healthKeys are the keys of the health_check section.
var healthKeys = []string{"path", "method", "timeout", "interval", "healthy_threshold", "unhealthy_threshold", "expected_status"}

// httpMethods are the methods a health check may use.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func (d *decoder) healthCheck(f *field, h *HealthCheck) {
	m, ok := d.mapping(f, healthKeys)
	if !ok {
		return
	}
	if pf := d.need(m, f, "path", "the HTTP path to check, e.g. /health"); pf != nil {
		if s, ok := d.valid(pf, "an HTTP path", checkHealthPath); ok {
			h.Path = s
		}
	}
	if mf := optional(m, "method"); mf != nil {
		if s, ok := d.text(mf, "an HTTP method"); ok {
			if up := strings.ToUpper(s); slices.Contains(httpMethods, up) {
				h.Method = up
			} else {
				d.errorf(mf.at, mf.path, "%q is not a supported HTTP method (use %s)", s, strings.Join(httpMethods, ", "))
			}
		}
	}
	d.setDuration(m, "timeout", &h.Timeout)
	d.setDuration(m, "interval", &h.Interval)
	d.setCount(m, "healthy_threshold", &h.HealthyThreshold)
	d.setCount(m, "unhealthy_threshold", &h.UnhealthyThreshold)
	if sf := optional(m, "expected_status"); sf != nil {
		d.expectedStatus(sf, h)
	}
}

// checkHealthPath tells why s is not a usable request path, or "".
func checkHealthPath(s string) string {
	if !strings.HasPrefix(s, "/") {
		return "must start with \"/\" (e.g. /health)"
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "must not contain spaces or control characters (escape them, e.g. %20)"
	}
	if _, err := url.ParseRequestURI(s); err != nil {
		return "is not a valid request path"
	}
	return ""
}

func (d *decoder) expectedStatus(f *field, h *HealthCheck) {
	items := []*field{f}
	if _, isSeq := f.node.(*ast.SequenceNode); isSeq {
		items, _ = d.sequence(f, "status codes")
	}
	codes := []int{}
	for _, it := range items {
		n, ok := d.integer(it, "an HTTP status code (100-599) or a list of them")
		if !ok {
			continue
		}
		if n < 100 || n > 599 {
			d.errorf(it.at, it.path, "%d is not an HTTP status code (100-599)", n)
			continue
		}
		if !slices.Contains(codes, int(n)) {
			codes = append(codes, int(n))
		}
	}
	h.ExpectedStatus = codes
}
