package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Parse reads the config of one app from a single YAML document. file names
// it in errors and in App.File. The error, if any, is Errors with every
// problem found.
func Parse(r io.Reader, file string) (*App, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("cannot read: %v", err)}}
	}
	p := parse(data, file)
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return p.app, nil
}

// maxFileSize bounds an app config file; real ones are a few hundred bytes.
const maxFileSize = 1 << 20

// The keys of each mapping, in the order of CONTRACT §2.
var (
	topKeys        = []string{"name", "image", "ports", "proxy", "health_check", "docker", "deployment"}
	portKeys       = []string{"proxy", "blue", "green"}
	proxyKeys      = []string{"listen_address", "trusted_proxies"}
	healthKeys     = []string{"path", "method", "timeout", "interval", "healthy_threshold", "unhealthy_threshold", "expected_status"}
	dockerKeys     = []string{"expose_port", "environment", "volumes", "memory_limit", "cpu_limit", "restart_policy", "pull_policy", "network", "command"}
	deploymentKeys = []string{"drain_timeout", "websocket_drain_timeout", "startup_timeout", "health_check_timeout", "stop_timeout"}
)

var (
	nameRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	networkRE   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	bareNumRE   = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)?$`)
	httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	pullValues  = []string{PullIfNotPresent, PullAlways, PullNever}
)

// parsed is the outcome of reading one file: the app with every setting that
// was valid (the others at their defaults or zero), where each field was
// found, and the problems.
type parsed struct {
	app    *App
	places map[string]pos
	errs   Errors
}

// parse runs defaults → strict decode → normalize → validate on one file.
func parse(data []byte, file string) *parsed {
	d := newDecoder(file)
	app := defaults(file)
	out := &parsed{app: app, places: d.places}
	defer func() { out.errs = d.errs }()

	if len(data) > maxFileSize {
		d.errorf(pos{1, 1}, "", "file is larger than %d bytes: not an app config", maxFileSize)
		return out
	}
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		d.syntaxError(err)
		return out
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		d.errorf(pos{1, 1}, "", "file is empty: expected an app config with name, image, ports, health_check and docker")
		return out
	}
	if len(docs) > 1 {
		d.errorf(placeOf(docs[1].Body), "", "holds %d YAML documents: expected one app config per file", len(docs))
		return out
	}
	body := docs[0].Body
	d.collectAnchors(body)
	at := placeOf(body)
	root := &field{key: at, at: at, node: d.resolve(body)}
	if _, isMap := root.node.(*ast.MappingNode); !isMap {
		d.errorf(at, "", "expected a mapping with the keys %s, got %s", strings.Join(topKeys, ", "), describe(root.node))
		return out
	}
	top, _ := d.mapping(root, topKeys)

	if f := d.need(top, root, "name", "the app's name, e.g. web-api"); f != nil {
		if s, ok := d.text(f, "a name"); ok {
			if nameRE.MatchString(s) {
				app.Name = s
			} else {
				d.errorf(f.at, f.path, "%q is not a valid app name: use 1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit", s)
			}
		}
	}
	if f := d.need(top, root, "image", "the image deployed on first start, e.g. web-api:1.0"); f != nil {
		if s, ok := d.text(f, "an image reference"); ok {
			if why := checkImage(s); why != "" {
				d.errorf(f.at, f.path, "%q is not a valid image reference: %s", s, why)
			} else {
				app.Image = s
			}
		}
	}
	if f := d.need(top, root, "ports", "a mapping with proxy, blue and green"); f != nil {
		d.ports(f, &app.Ports)
	}
	if f := optional(top, "proxy"); f != nil {
		d.proxy(f, &app.Proxy)
	}
	if f := d.need(top, root, "health_check", "a mapping with at least path"); f != nil {
		d.healthCheck(f, &app.HealthCheck)
	}
	if f := d.need(top, root, "docker", "a mapping with at least expose_port"); f != nil {
		d.docker(f, &app.Docker)
	}
	if f := optional(top, "deployment"); f != nil {
		d.deployment(f, &app.Deployment)
	}
	if app.Deployment.WebSocketDrainTimeout == 0 {
		app.Deployment.WebSocketDrainTimeout = app.Deployment.DrainTimeout
	}
	d.crossCheck(app)
	return out
}

// syntaxError records a YAML syntax error at its token.
func (d *decoder) syntaxError(err error) {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		p := pos{1, 1}
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil {
			p = pos{tk.Position.Line, tk.Position.Column}
		}
		d.errorf(p, "", "invalid YAML: %s", yerr.GetMessage())
		return
	}
	d.errorf(pos{1, 1}, "", "invalid YAML: %v", err)
}

// need returns the value of a required key, or records that it is missing at
// the parent mapping. A null value counts as missing.
func (d *decoder) need(m map[string]*field, parent *field, key, hint string) *field {
	if m == nil {
		return nil // the parent is not a mapping: already reported
	}
	f := m[key]
	if f == nil {
		d.errorf(parent.key, join(parent.path, key), "is required (%s)", hint)
		return nil
	}
	if f.node == nil {
		d.errorf(f.at, f.path, "is empty: it is required (%s)", hint)
		return nil
	}
	return f
}

// optional returns the value of an optional key; nil when absent or null.
func optional(m map[string]*field, key string) *field {
	if f := m[key]; f != nil && f.node != nil {
		return f
	}
	return nil
}

func (d *decoder) ports(f *field, p *Ports) {
	m, ok := d.mapping(f, portKeys)
	if !ok {
		return
	}
	hints := map[string]string{
		"proxy": "the app's public port, where the proxy listens",
		"blue":  "the host port of the blue container",
		"green": "the host port of the green container",
	}
	dst := map[string]*int{"proxy": &p.Proxy, "blue": &p.Blue, "green": &p.Green}
	seen := map[int]string{}
	for _, key := range portKeys {
		pf := d.need(m, f, key, hints[key])
		if pf == nil {
			continue
		}
		n, ok := d.port(pf)
		if !ok {
			continue
		}
		if other, dup := seen[n]; dup {
			d.errorf(pf.at, pf.path, "%d is also ports.%s: proxy, blue and green must be three different ports", n, other)
			continue
		}
		seen[n] = key
		*dst[key] = n
	}
}

// port reads a TCP port number, 1-65535.
func (d *decoder) port(f *field) (int, bool) {
	n, ok := d.integer(f, "a port number (1-65535)")
	if !ok {
		return 0, false
	}
	if n < 1 || n > 65535 {
		d.errorf(f.at, f.path, "%d is not a port number (1-65535)", n)
		return 0, false
	}
	return int(n), true
}

func (d *decoder) proxy(f *field, p *Proxy) {
	m, ok := d.mapping(f, proxyKeys)
	if !ok {
		return
	}
	if lf := optional(m, "listen_address"); lf != nil {
		if s, ok := d.text(lf, "an IP address"); ok {
			if s == "localhost" {
				p.ListenAddress = s
			} else if addr, err := netip.ParseAddr(s); err == nil {
				p.ListenAddress = addr.String()
			} else {
				d.errorf(lf.at, lf.path, "%q is not an IP address (use e.g. 0.0.0.0, 127.0.0.1, :: or localhost; the port is ports.proxy)", s)
			}
		}
	}
	if tf := optional(m, "trusted_proxies"); tf != nil {
		items, ok := d.sequence(tf, "IP addresses or CIDRs (e.g. [10.0.0.0/8, 192.168.1.10])")
		if !ok {
			return
		}
		for _, it := range items {
			s, ok := d.text(it, "an IP address or CIDR")
			if !ok {
				continue
			}
			prefix, ok := parseTrusted(s)
			if !ok {
				d.errorf(it.at, it.path, "%q is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)", s)
				continue
			}
			p.TrustedProxies = append(p.TrustedProxies, prefix)
		}
	}
}

// parseTrusted reads an IP (a /32 or /128 prefix) or a CIDR (masked).
func parseTrusted(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return prefix.Masked(), true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, addr.BitLen()), true
}

func (d *decoder) healthCheck(f *field, h *HealthCheck) {
	m, ok := d.mapping(f, healthKeys)
	if !ok {
		return
	}
	if pf := d.need(m, f, "path", "the HTTP path to check, e.g. /health"); pf != nil {
		if s, ok := d.text(pf, "an HTTP path"); ok {
			if why := checkHealthPath(s); why != "" {
				d.errorf(pf.at, pf.path, "%q %s", s, why)
			} else {
				h.Path = s
			}
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

func (d *decoder) docker(f *field, c *Docker) {
	m, ok := d.mapping(f, dockerKeys)
	if !ok {
		return
	}
	if pf := d.need(m, f, "expose_port", "the port the app listens on inside the container"); pf != nil {
		if n, ok := d.port(pf); ok {
			c.ExposePort = n
		}
	}
	if ef := optional(m, "environment"); ef != nil {
		c.Environment = d.environment(ef)
	}
	if vf := optional(m, "volumes"); vf != nil {
		c.Volumes = d.volumes(vf)
	}
	if mf := optional(m, "memory_limit"); mf != nil {
		if n, ok := d.memory(mf); ok {
			c.MemoryLimit = n
		}
	}
	if cf := optional(m, "cpu_limit"); cf != nil {
		if n, ok := d.cpus(cf); ok {
			c.CPULimit = n
		}
	}
	if rf := optional(m, "restart_policy"); rf != nil {
		if s, ok := d.text(rf, "a restart policy"); ok {
			if checkRestartPolicy(s) {
				c.RestartPolicy = s
			} else {
				d.errorf(rf.at, rf.path, "%q is not a restart policy (use no, always, unless-stopped, on-failure or on-failure:N)", s)
			}
		}
	}
	if pf := optional(m, "pull_policy"); pf != nil {
		if s, ok := d.text(pf, "a pull policy"); ok {
			if slices.Contains(pullValues, s) {
				c.PullPolicy = s
			} else {
				d.errorf(pf.at, pf.path, "%q is not a pull policy (use %s)", s, strings.Join(pullValues, ", "))
			}
		}
	}
	if nf := optional(m, "network"); nf != nil {
		if s, ok := d.text(nf, "a Docker network name"); ok {
			switch {
			case s == "host" || s == "none" || strings.HasPrefix(s, "container:"):
				d.errorf(nf.at, nf.path, "%q cannot be used: the containers publish their port on 127.0.0.1 (use bridge or a user-defined network)", s)
			case !networkRE.MatchString(s):
				d.errorf(nf.at, nf.path, "%q is not a Docker network name (letters, digits, '_', '.', '-')", s)
			default:
				c.Network = s
			}
		}
	}
	if cf := optional(m, "command"); cf != nil {
		items, ok := d.sequence(cf, `strings (e.g. ["./server", "--port", "3000"])`)
		if ok {
			for _, it := range items {
				if s, ok := d.text(it, "a string"); ok {
					c.Command = append(c.Command, s)
				}
			}
		}
	}
}

// environment reads a list of "K=V" or a mapping of K: V (then sorted by key).
func (d *decoder) environment(f *field) []string {
	type entry struct {
		key, value string
		at         pos
	}
	var entries []entry
	switch n := f.node.(type) {
	case *ast.SequenceNode:
		items, _ := d.sequence(f, `"KEY=value" strings`)
		for _, it := range items {
			s, ok := d.text(it, `a "KEY=value" string`)
			if !ok {
				continue
			}
			k, v, found := strings.Cut(s, "=")
			if !found {
				d.errorf(it.at, it.path, "%q is not KEY=value", s)
				continue
			}
			entries = append(entries, entry{k, v, it.at})
		}
	case *ast.MappingNode:
		for _, kv := range n.Values {
			kp := placeOf(kv.Key)
			k, ok := d.keyText(kv.Key)
			if !ok {
				d.errorf(kp, f.path, "expected a variable name as key, got %s", describe(d.resolve(kv.Key)))
				continue
			}
			vf := d.newField(join(f.path, k), kp, kv.Value)
			if vf.node == nil {
				d.errorf(vf.at, vf.path, "has no value (use \"\" for an empty one)")
				continue
			}
			v, ok := d.text(vf, "a string, number or boolean")
			if !ok {
				continue
			}
			entries = append(entries, entry{k, v, kp})
		}
		slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	default:
		d.errorf(f.at, f.path, `expected a list of "KEY=value" strings or a mapping of KEY: value, got %s`, describe(f.node))
		return nil
	}
	var env []string
	first := map[string]pos{}
	for _, e := range entries {
		path := join(f.path, e.key)
		switch {
		case !envNameRE.MatchString(e.key):
			d.errorf(e.at, path, "%q is not a valid variable name (letters, digits and '_', not starting with a digit)", e.key)
		case strings.ContainsRune(e.value, 0):
			d.errorf(e.at, path, "value contains a NUL byte")
		case first[e.key] != pos{}:
			d.errorf(e.at, path, "is set twice (first at line %d)", first[e.key].line)
		default:
			first[e.key] = e.at
			env = append(env, e.key+"="+e.value)
		}
	}
	return env
}

func (d *decoder) volumes(f *field) []string {
	items, ok := d.sequence(f, `"host:container[:options]" strings`)
	if !ok {
		return nil
	}
	var out []string
	dests := map[string]pos{}
	for _, it := range items {
		s, ok := d.text(it, `a "host:container[:options]" string`)
		if !ok {
			continue
		}
		dest, why := checkVolume(s)
		if why != "" {
			d.errorf(it.at, it.path, "%q %s", s, why)
			continue
		}
		if prev, dup := dests[dest]; dup {
			d.errorf(it.at, it.path, "%q mounts %s again (first at line %d)", s, dest, prev.line)
			continue
		}
		dests[dest] = it.at
		out = append(out, s)
	}
	return out
}

// memory reads a memory limit: bytes as an integer, or a size like 512m.
func (d *decoder) memory(f *field) (int64, bool) {
	var n int64
	if _, isInt := f.node.(*ast.IntegerNode); isInt {
		v, ok := d.integer(f, "bytes")
		if !ok {
			return 0, false
		}
		n = v
	} else {
		s, ok := d.text(f, "a memory size like 512m")
		if !ok {
			return 0, false
		}
		v, err := parseMemory(s)
		if err != nil {
			d.errorf(f.at, f.path, "%v", err)
			return 0, false
		}
		n = v
	}
	if n < 0 || (n > 0 && n < MinMemoryLimit) {
		d.errorf(f.at, f.path, "%s is below Docker's minimum of 6m (omit it for no limit)", f.node.GetToken().Value)
		return 0, false
	}
	return n, true
}

// cpus reads a CPU limit: a number of CPUs, at least 0.01 (Docker's minimum).
func (d *decoder) cpus(f *field) (float64, bool) {
	s, ok := d.text(f, "a number of CPUs like 0.5")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		d.errorf(f.at, f.path, "%q is not a number of CPUs (e.g. 0.5 or 2)", s)
		return 0, false
	}
	if n <= 0 {
		d.errorf(f.at, f.path, "%s must be greater than 0 (omit it for no limit)", s)
		return 0, false
	}
	if n < 0.01 {
		d.errorf(f.at, f.path, "%s is below Docker's minimum of 0.01", s)
		return 0, false
	}
	return n, true
}

// checkRestartPolicy reports whether s is a Docker restart policy.
func checkRestartPolicy(s string) bool {
	switch s {
	case "no", "always", "unless-stopped", "on-failure":
		return true
	}
	n, found := strings.CutPrefix(s, "on-failure:")
	if !found {
		return false
	}
	v, err := strconv.Atoi(n)
	return err == nil && v >= 0 && strconv.Itoa(v) == n
}

func (d *decoder) deployment(f *field, dep *Deployment) {
	m, ok := d.mapping(f, deploymentKeys)
	if !ok {
		return
	}
	d.setDuration(m, "drain_timeout", &dep.DrainTimeout)
	d.setDuration(m, "websocket_drain_timeout", &dep.WebSocketDrainTimeout)
	d.setDuration(m, "startup_timeout", &dep.StartupTimeout)
	d.setDuration(m, "health_check_timeout", &dep.HealthCheckTimeout)
	if sf := optional(m, "stop_timeout"); sf != nil {
		if v, ok := d.duration(sf); ok {
			if v%time.Second != 0 {
				d.errorf(sf.at, sf.path, "%s is not whole seconds: Docker's stop grace period counts seconds (e.g. 10s)", v)
			} else {
				dep.StopTimeout = v
			}
		}
	}
}

// setDuration sets *dst from an optional duration key when it is valid.
func (d *decoder) setDuration(m map[string]*field, key string, dst *time.Duration) {
	if f := optional(m, key); f != nil {
		if v, ok := d.duration(f); ok {
			*dst = v
		}
	}
}

// duration reads a Go duration greater than 0.
func (d *decoder) duration(f *field) (time.Duration, bool) {
	s, ok := d.text(f, "a duration like 500ms, 2s or 1m30s")
	if !ok {
		return 0, false
	}
	if bareNumRE.MatchString(s) {
		if n, _ := strconv.ParseFloat(s, 64); n > 0 {
			d.errorf(f.at, f.path, "%q is not a duration (use %ss)", s, s)
			return 0, false
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(f.at, f.path, "%q is not a duration (use e.g. 500ms, 2s or 1m30s)", s)
		return 0, false
	}
	if v <= 0 {
		d.errorf(f.at, f.path, "%q must be greater than 0", s)
		return 0, false
	}
	return v, true
}

// setCount sets *dst from an optional integer key that must be at least 1.
func (d *decoder) setCount(m map[string]*field, key string, dst *int) {
	f := optional(m, key)
	if f == nil {
		return
	}
	n, ok := d.integer(f, "an integer of at least 1")
	if !ok {
		return
	}
	if n < 1 || n > math.MaxInt32 {
		d.errorf(f.at, f.path, "%d must be at least 1", n)
		return
	}
	*dst = int(n)
}

// crossCheck validates settings against each other.
func (d *decoder) crossCheck(app *App) {
	h := app.HealthCheck
	need := time.Duration(h.HealthyThreshold) * h.Interval
	if app.Deployment.HealthCheckTimeout < need {
		at, path := d.placeOfFirst("deployment.health_check_timeout", "health_check.interval", "health_check.healthy_threshold")
		d.errorf(at, path, "the health check timeout %s is shorter than interval × healthy_threshold (%s × %d = %s): a new container could never pass",
			app.Deployment.HealthCheckTimeout, h.Interval, h.HealthyThreshold, need)
	}
}

// placeOfFirst returns the place and path of the first of paths that is set.
func (d *decoder) placeOfFirst(paths ...string) (pos, string) {
	for _, p := range paths {
		if at, ok := d.places[p]; ok {
			return at, p
		}
	}
	return pos{1, 1}, paths[0]
}
