package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The architecture: which package may import which (docs/architecture.md,
// "Layering rules"). Each package of the module sits on a floor; its code
// imports only packages on lower floors, so no import climbs or goes
// sideways. Tests (_test.go files) may import anything: they stand above
// the code they test. Some rows say more: what a package must never reach,
// even through others (never), the only packages of the module it may
// import (only), or the only packages that may import it (by). Rows for
// outside modules say which package owns each. A row for a package that
// does not exist passes; a package without a row fails: add its row, with
// why, when you add a package.
var architecture = []row{
	// Floor 0: the domain's words and the codecs, on nothing of the module.
	{pkg: "deploy", floor: 0, never: httpPackages,
		why: "the domain's words (statuses, events, error codes) are defined once, without HTTP; only api maps them to statuses"},
	{pkg: "config", floor: 0, never: []string{"github.com/fsouza/go-dockerclient/...", "net/http"},
		why: "apps.d is read and checked without Docker or a network: bluegreen validate runs anywhere"},
	{pkg: "internal/http1", floor: 0,
		why: "the one HTTP/1 codec (bytes in, heads out), shared by the proxy and the health prober"},
	{pkg: "internal/proxyproto", floor: 0, by: []string{"proxy"},
		why: "the PROXY protocol header's codec (bytes in, addresses out); only the proxy reads it"},
	{pkg: "internal/histogram", floor: 0, why: "a lock-free latency histogram, for the proxy's and the deployments' metrics"},
	{pkg: "internal/handover", floor: 0, why: "passes listening sockets to the process an upgrade starts; knows sockets, not apps"},
	{pkg: "internal/sdnotify", floor: 0, why: "tells systemd the service's state; one datagram, no cgo"},
	{pkg: "internal/logsink", floor: 0, why: "a log output that never blocks its writers (serve's log, the access log); knows bytes, not records' content"},
	{pkg: "dashboard", floor: 0, why: "the dashboard's static files; the API serves them"},

	// Floor 1: one outside thing each.
	{pkg: "store", floor: 1, never: httpPackages,
		why: "SQLite: rows and migrations, never requests; no HTTP package, even through another"},
	{pkg: "docker", floor: 1, why: "the narrow Docker client; the actors reach it through their Runtime interface"},
	{pkg: "proxy", floor: 1, never: []string{"deploy", "github.com/fsouza/go-dockerclient/..."},
		why: "the request path knows routes and connections, not deployments; it never calls Docker"},
	{pkg: "internal/probe", floor: 1, only: []string{"internal/http1", "config", "deploy"},
		why: "the health prober is built on the one HTTP/1 codec; it reads an app's health_check and answers in the domain's words"},

	// Floor 2: views over them.
	{pkg: "metrics", floor: 2, why: "the Prometheus collectors; they read the proxies' counters and the domain's words"},
	{pkg: "api", floor: 2, never: []string{"store", "docker"},
		why: "the management API serves a Backend interface; the supervisor, the store and Docker are behind it"},

	// Floor 3 and up: the supervisor, the process, the command line, programs.
	{pkg: "actors", floor: 3, why: "the supervisor and the app actors drive Docker, the store, the proxies and the metrics"},
	{pkg: "daemon", floor: 4, why: "the serving process: store, sockets, supervisor, API, readiness, signals, upgrades"},
	{pkg: "cli", floor: 5, by: []string{"."},
		why: "the command line parses flags and calls the daemon or the API client; only main builds on it"},
	{pkg: ".", floor: 6, only: []string{"cli"}, why: "main is tiny: a signal context, cli.Run, the exit code"},
	{pkg: "cmd/...", floor: 6, never: []string{"daemon", "actors"},
		why: "the benches run the built binary and talk to its API as an operator does (proxybench runs a bare proxy)"},

	// Test support: only tests import these.
	{pkg: "internal/testsupport/...", floor: testsOnly, why: "helpers for tests: Docker images, a registry, scraping, promtool"},
	{pkg: "internal/e2e", floor: testsOnly, why: "the built binary's process-level tests; no code of its own"},
	{pkg: "internal/release", floor: testsOnly, why: "the release binary's tests (systemd, Ansible, s3dock); no code of its own"},
	{pkg: "examples", floor: testsOnly, why: "tests of the examples beside it; no code of its own"},

	// Outside modules, each owned by one package.
	{pkg: "github.com/anthdm/hollywood/...", by: []string{"actors"}, why: "the actor library stays inside the actors"},
	{pkg: "github.com/fsouza/go-dockerclient/...", by: []string{"docker"}, why: "Docker is spoken to in one package"},
	{pkg: "github.com/mattn/go-sqlite3/...", by: []string{"store"}, why: "SQLite is opened in one package"},
	{pkg: "github.com/goccy/go-yaml/...", by: []string{"config"}, why: "YAML is decoded in one package, with every error's place"},
	{pkg: "github.com/spf13/cobra/...", by: []string{"cli"}, why: "flags are parsed in the command line only"},
	{pkg: "github.com/spf13/pflag/...", by: []string{"cli"}, why: "flags are parsed in the command line only"},
}

// httpPackages are the HTTP packages: the standard library's and the module's.
var httpPackages = []string{"net/http", "api", "proxy", "dashboard", "internal/http1", "internal/probe"}

// testsOnly is the floor of packages that only tests may import.
const testsOnly = -1

// row is a row of the architecture table.
type row struct {
	pkg   string   // a package: module-relative ("deploy", "." for main), or an outside import path; "/..." for all under it
	floor int      // production code imports only packages on lower floors (testsOnly: only tests import it)
	never []string // packages it must not reach, even through others
	only  []string // when set, the only packages of the module it may import
	by    []string // when set, the only packages (besides tests) that may import it
	why   string
}

// module is the module's path.
const module = "github.com/bluegreen/bluegreen"

// pkg is a package as go list tells it, with its production imports (its
// tests' are free). Paths are module-relative for the module's packages
// (rel), full for the others.
type pkg struct {
	Path     string // module-relative for the module's packages, "." for the root
	InModule bool   // a package of the module, not of a dependency
	Imports  []string
}

// TestLayering checks the module's imports against the architecture table.
func TestLayering(t *testing.T) {
	g, err := loadGraph()
	if err != nil {
		t.Fatal(err)
	}
	if g["deploy"] == nil || g["actors"] == nil || g["net/http"] == nil {
		t.Fatalf("go list gave no module graph (%d packages)", len(g))
	}
	for _, v := range check(g, architecture) {
		t.Error(v)
	}
}

// TestLayering_Catches feeds check made-up graphs, each with one forbidden
// arrow, and expects that arrow among what it reports (an arrow may break
// more than one row), and nothing on a clean graph.
func TestLayering_Catches(t *testing.T) {
	// clean is a small graph that obeys every row.
	clean := func() map[string]*pkg {
		g := map[string]*pkg{}
		add := func(path string, inModule bool, imports ...string) {
			g[path] = &pkg{Path: path, InModule: inModule, Imports: imports}
		}
		add("net/http", false)
		add("github.com/mattn/go-sqlite3", false)
		add("deploy", true)
		add("dashboard", true, "net/http")
		add("internal/http1", true)
		add("store", true, "deploy", "github.com/mattn/go-sqlite3")
		add("proxy", true, "internal/http1", "net/http")
		add("api", true, "deploy", "dashboard", "net/http")
		add("actors", true, "deploy", "store", "proxy")
		add("cli", true, "api", "deploy")
		add(".", true, "cli")
		add("cmd/bench", true, "api")
		add("internal/testsupport/testimage", true)
		return g
	}
	if v := check(clean(), architecture); len(v) != 0 {
		t.Fatalf("a clean graph: %q", v)
	}
	tests := []struct {
		name   string
		change func(g map[string]*pkg)
		want   string
	}{
		{"an import climbs", func(g map[string]*pkg) { g["store"].Imports = append(g["store"].Imports, "actors") },
			"store (floor 1) imports actors (floor 3)"},
		{"an import goes sideways", func(g map[string]*pkg) { g["store"].Imports = append(g["store"].Imports, "proxy") },
			"store (floor 1) imports proxy (floor 1)"},
		{"a forbidden package reached through another", func(g map[string]*pkg) {
			g["github.com/some/lib"] = &pkg{Path: "github.com/some/lib", Imports: []string{"net/http"}}
			g["deploy"].Imports = append(g["deploy"].Imports, "github.com/some/lib")
		}, "deploy reaches net/http (deploy → github.com/some/lib → net/http)"},
		{"a forbidden package below", func(g map[string]*pkg) { g["proxy"].Imports = append(g["proxy"].Imports, "deploy") },
			"proxy reaches deploy (proxy → deploy)"},
		{"api on the store", func(g map[string]*pkg) { g["api"].Imports = append(g["api"].Imports, "store") },
			"api reaches store"},
		{"test support in production code", func(g map[string]*pkg) {
			g["store"].Imports = append(g["store"].Imports, "internal/testsupport/testimage")
		}, "store imports internal/testsupport/testimage, which only tests may import"},
		{"more than the only one", func(g map[string]*pkg) {
			g["internal/probe"] = &pkg{Path: "internal/probe", InModule: true, Imports: []string{"internal/http1", "internal/histogram"}}
		}, "internal/probe imports internal/histogram: it may import only internal/http1, config, deploy"},
		{"cli imported by a bench", func(g map[string]*pkg) { g["cmd/bench"].Imports = append(g["cmd/bench"].Imports, "cli") },
			"cmd/bench imports cli: only main may"},
		{"an outside module used by a second package", func(g map[string]*pkg) {
			g["api"].Imports = append(g["api"].Imports, "github.com/mattn/go-sqlite3")
		}, "api imports github.com/mattn/go-sqlite3: only store may"},
		{"a package without a row", func(g map[string]*pkg) { g["util"] = &pkg{Path: "util", InModule: true} },
			"util has no row in the architecture table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := clean()
			tt.change(g)
			v := check(g, architecture)
			if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tt.want) }) {
				t.Fatalf("violations %q, want one with %q", v, tt.want)
			}
		})
	}
}

// check returns every import of g that the table forbids, one sentence each.
func check(g map[string]*pkg, table []row) []string {
	var out []string
	paths := make([]string, 0, len(g))
	for p := range g {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		p := g[path]
		if !p.InModule {
			continue
		}
		r, ok := rowOf(table, path)
		if !ok {
			out = append(out, fmt.Sprintf("%s has no row in the architecture table (layering_test.go): add one with its floor and why", name(path)))
			continue
		}
		out = append(out, checkImports(table, p, r)...)
		for _, n := range r.never {
			if chain := reach(g, path, n); chain != nil {
				out = append(out, fmt.Sprintf("%s reaches %s (%s): %s", name(path), n, strings.Join(chain, " → "), r.why))
			}
		}
	}
	return out
}

// checkImports checks p's own imports against the floors, only and by.
func checkImports(table []row, p *pkg, r row) []string {
	var out []string
	for _, imp := range p.Imports {
		ir, ok := rowOf(table, imp)
		switch {
		case ok && ir.by != nil && !slices.Contains(ir.by, p.Path) && r.floor != testsOnly:
			out = append(out, fmt.Sprintf("%s imports %s: only %s may (%s)", name(p.Path), imp, names(ir.by), ir.why))
		case !ok || outside(imp) || r.floor == testsOnly:
		case ir.floor == testsOnly:
			out = append(out, fmt.Sprintf("%s imports %s, which only tests may import (%s)", name(p.Path), imp, ir.why))
		case ir.floor >= r.floor:
			out = append(out, fmt.Sprintf("%s (floor %d) imports %s (floor %d): an import goes to a lower floor (%s)", name(p.Path), r.floor, imp, ir.floor, r.why))
		case r.only != nil && !slices.Contains(r.only, imp):
			out = append(out, fmt.Sprintf("%s imports %s: it may import only %s (%s)", name(p.Path), imp, names(r.only), r.why))
		}
	}
	return out
}

// rowOf returns the row of path: the row naming it, or the row "x/..." of
// a folder it is in.
func rowOf(table []row, path string) (row, bool) {
	for _, r := range table {
		if matches(r.pkg, path) {
			return r, true
		}
	}
	return row{}, false
}

// matches reports whether path is pattern, or under it when it ends in "/...".
func matches(pattern, path string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == dir || strings.HasPrefix(path, dir+"/")
	}
	return path == pattern
}

// outside reports whether path is a package of another module: its first
// element has a dot.
func outside(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return strings.Contains(first, ".") && first != "."
}

// name is how a message names a package of the module: "main" for the root.
func name(path string) string {
	if path == "." {
		return "main"
	}
	return path
}

// names joins the names of paths.
func names(paths []string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = name(p)
	}
	return strings.Join(out, ", ")
}

// reach returns a chain of production imports from path to a package that
// matches target, or nil.
func reach(g map[string]*pkg, path, target string) []string {
	from := map[string]string{path: ""}
	queue := []string{path}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := g[cur]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := from[imp]; seen {
				continue
			}
			from[imp] = cur
			if matches(target, imp) {
				chain := []string{imp}
				for at := cur; at != ""; at = from[at] {
					chain = append([]string{at}, chain...)
				}
				return chain
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

// loadGraph reads the module's packages and everything they import with
// go list -deps -json.
func loadGraph() (map[string]*pkg, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Module,Imports", "./...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.String())
	}
	g := map[string]*pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var lp struct {
			ImportPath string
			Module     *struct{ Path string }
			Imports    []string
		}
		if err := dec.Decode(&lp); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		inModule := lp.Module != nil && lp.Module.Path == module
		p := &pkg{Path: rel(lp.ImportPath), InModule: inModule}
		for _, imp := range lp.Imports {
			p.Imports = append(p.Imports, rel(imp))
		}
		g[p.Path] = p
	}
	return g, nil
}

// rel makes a path of the module relative to it ("." for the root).
func rel(path string) string {
	if path == module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return path
}
