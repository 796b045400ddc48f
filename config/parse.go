package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
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

// topKeys are the keys of an app config, in the order of docs/config.md, "A complete example". Each
// section's keys stand in its file.
var topKeys = []string{"name", "image", "ports", "proxy", "health_check", "docker", "deployment"}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	bareNumRE = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)?$`)
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
	if root := d.document(data); root != nil {
		d.app(root, app)
	}
	return out
}

// document reads the one YAML document of a file; nil when there is none
// or it is not a mapping (the problem is recorded).
func (d *decoder) document(data []byte) *field {
	if len(data) > maxFileSize {
		d.errorf(pos{1, 1}, "", "file is larger than %d bytes: not an app config", maxFileSize)
		return nil
	}
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		d.errorf(pos{1, 1}, "", "file is empty: expected an app config with name, image, ports, health_check and docker")
		return nil
	}
	if len(docs) > 1 {
		d.errorf(placeOf(docs[1].Body), "", "holds %d YAML documents: expected one app config per file", len(docs))
		return nil
	}
	body := docs[0].Body
	d.collectAnchors(body)
	at := placeOf(body)
	root := &field{key: at, at: at, node: d.resolve(body)}
	if _, isMap := root.node.(*ast.MappingNode); !isMap {
		d.errorf(at, "", "expected a mapping with the keys %s, got %s", strings.Join(topKeys, ", "), describe(root.node))
		return nil
	}
	return root
}

// app decodes the top-level mapping into app, section by section.
func (d *decoder) app(root *field, app *App) {
	top, _ := d.mapping(root, topKeys)
	if f := d.need(top, root, "name", "the app's name, e.g. web-api"); f != nil {
		if s, ok := d.valid(f, "a name", checkName); ok {
			app.Name = s
		}
	}
	if f := d.need(top, root, "image", "the image deployed on first start, e.g. web-api:1.0"); f != nil {
		if s, ok := d.valid(f, "an image reference", func(s string) string {
			if why := checkImage(s); why != "" {
				return "is not a valid image reference: " + why
			}
			return ""
		}); ok {
			app.Image = s
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

// checkName tells why s is not an app name, or "".
func checkName(s string) string {
	if nameRE.MatchString(s) {
		return ""
	}
	return "is not a valid app name: use 1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit"
}

// valid reads a text value and returns it when why, which says what is
// wrong with it ("" when nothing), finds it fine; else it records the problem.
func (d *decoder) valid(f *field, what string, why func(string) string) (string, bool) {
	s, ok := d.text(f, what)
	if !ok {
		return "", false
	}
	if w := why(s); w != "" {
		d.errorf(f.at, f.path, "%q %s", s, w)
		return "", false
	}
	return s, true
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
