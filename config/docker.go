package config

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// dockerKeys are the keys of the docker section.
var dockerKeys = []string{"expose_port", "environment", "volumes", "memory_limit", "cpu_limit", "restart_policy", "pull_policy", "network", "command", "keep_images"}

var (
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	networkRE  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	pullValues = []string{PullIfNotPresent, PullAlways, PullNever}
)

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
		d.restartPolicy(rf, &c.RestartPolicy)
	}
	if pf := optional(m, "pull_policy"); pf != nil {
		d.pullPolicy(pf, &c.PullPolicy)
	}
	if nf := optional(m, "network"); nf != nil {
		d.network(nf, &c.Network)
	}
	if cf := optional(m, "command"); cf != nil {
		c.Command = d.command(cf)
	}
	if kf := optional(m, "keep_images"); kf != nil {
		d.keepImages(kf, &c.KeepImages)
	}
}

// keepImages reads how many of the app's images retention keeps (0: all).
func (d *decoder) keepImages(f *field, dst *int) {
	n, ok := d.integer(f, "a number of images (0 keeps every image)")
	if !ok {
		return
	}
	if n < 0 || n > MaxKeepImages {
		d.errorf(f.at, f.path, "%d is not a number of images to keep (0-%d; 0 keeps every image)", n, MaxKeepImages)
		return
	}
	*dst = int(n)
}

func (d *decoder) restartPolicy(f *field, dst *string) {
	if s, ok := d.valid(f, "a restart policy", func(s string) string {
		if checkRestartPolicy(s) {
			return ""
		}
		return "is not a restart policy (use no, always, unless-stopped, on-failure or on-failure:N)"
	}); ok {
		*dst = s
	}
}

func (d *decoder) pullPolicy(f *field, dst *string) {
	if s, ok := d.valid(f, "a pull policy", func(s string) string {
		if slices.Contains(pullValues, s) {
			return ""
		}
		return "is not a pull policy (use " + strings.Join(pullValues, ", ") + ")"
	}); ok {
		*dst = s
	}
}

// network reads a Docker network the containers can publish their port from.
func (d *decoder) network(f *field, dst *string) {
	s, ok := d.text(f, "a Docker network name")
	if !ok {
		return
	}
	switch {
	case s == "host" || s == "none" || strings.HasPrefix(s, "container:"):
		d.errorf(f.at, f.path, "%q cannot be used: the containers publish their port on 127.0.0.1 (use bridge or a user-defined network)", s)
	case !networkRE.MatchString(s):
		d.errorf(f.at, f.path, "%q is not a Docker network name (letters, digits, '_', '.', '-')", s)
	default:
		*dst = s
	}
}

func (d *decoder) command(f *field) []string {
	items, ok := d.sequence(f, `strings (e.g. ["./server", "--port", "3000"])`)
	if !ok {
		return nil
	}
	var cmd []string
	for _, it := range items {
		if s, ok := d.text(it, "a string"); ok {
			cmd = append(cmd, s)
		}
	}
	return cmd
}

// envEntry is one variable of docker.environment, where it was found.
type envEntry struct {
	key, value string
	at         pos
}

// environment reads a list of "K=V" or a mapping of K: V (then sorted by key).
func (d *decoder) environment(f *field) []string {
	var entries []envEntry
	switch n := f.node.(type) {
	case *ast.SequenceNode:
		entries = d.envList(f)
	case *ast.MappingNode:
		entries = d.envMap(f, n)
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

// envList reads environment as a list of "KEY=value" strings.
func (d *decoder) envList(f *field) []envEntry {
	var entries []envEntry
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
		entries = append(entries, envEntry{k, v, it.at})
	}
	return entries
}

// envMap reads environment as a mapping of KEY: value, sorted by key.
func (d *decoder) envMap(f *field, n *ast.MappingNode) []envEntry {
	var entries []envEntry
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
		entries = append(entries, envEntry{k, v, kp})
	}
	slices.SortStableFunc(entries, func(a, b envEntry) int { return strings.Compare(a.key, b.key) })
	return entries
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
