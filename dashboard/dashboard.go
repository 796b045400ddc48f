// Package dashboard serves bluegreen's live web dashboard (docs/dashboard.md): one
// page, its stylesheet, its script and its icon, embedded in the binary and
// written by hand (no build step, no framework, no external URL).
//
// The page reads only the management API (/api/...), follows
// /api/events/stream, and changes state only by POSTing JSON to the API's
// action routes. The handler itself never changes state: it serves GET and
// HEAD of static bytes. It is meant to be mounted on the API listener behind
// the same loopback-Host check as /api:
//
//	mux.Handle("GET /{$}", dashboard.Handler())
//	mux.Handle("GET "+dashboard.AssetPrefix, dashboard.Handler())
package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the URL path under which the page's assets are served. It
// does not collide with /api, /health or /metrics.
const AssetPrefix = "/ui/"

// versionParam is the query parameter the page puts on asset URLs; an asset
// asked for with the current version is cached for a year (it is immutable:
// a new binary has a new version).
const versionParam = "v"

//go:embed assets
var assetFS embed.FS

// Handler returns the dashboard's handler: GET or HEAD of "/" (the page) and
// of AssetPrefix+name (its assets). Every other path is 404, every other
// method 405. It is safe for concurrent use and built once.
func Handler() http.Handler { return loadSite() }

// Size returns the total size in bytes of the page and its assets as served
// without compression.
func Size() int {
	s := loadSite()
	n := len(s.index.body)
	for _, a := range s.assets {
		n += len(a.body)
	}
	return n
}

// asset is one embedded file, ready to serve.
type asset struct {
	name      string // file name, e.g. app.js
	ctype     string
	body      []byte
	gz        []byte // gzip of body, nil when not smaller
	etag      string // strong ETag of body
	immutable bool   // cacheable for a year when asked for with the current version
}

type site struct {
	version string
	index   *asset
	assets  map[string]*asset
}

var loadSite = sync.OnceValue(func() *site {
	s, err := newSite()
	if err != nil {
		// The files are embedded at build time: failing here is a build defect.
		panic(fmt.Sprintf("dashboard: %v", err))
	}
	return s
})

// contentTypes maps the extensions of the embedded files to content types.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

func newSite() (*site, error) {
	entries, err := assetFS.ReadDir("assets")
	if err != nil {
		return nil, err
	}
	s := &site{assets: map[string]*asset{}}
	sum := sha256.New()
	for _, e := range entries {
		name := e.Name()
		if name == "index.html" || e.IsDir() {
			continue
		}
		ext := name[strings.LastIndexByte(name, '.'):]
		ctype, ok := contentTypes[ext]
		if !ok {
			return nil, fmt.Errorf("asset %s: no content type for %q", name, ext)
		}
		body, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", name, len(body))
		sum.Write(body)
		s.assets[name] = newAsset(name, ctype, body, true)
	}
	s.version = hex.EncodeToString(sum.Sum(nil))[:12]
	page, err := assetFS.ReadFile("assets/index.html")
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(page, []byte("{{v}}")) {
		return nil, fmt.Errorf("index.html has no {{v}} placeholder for the asset version")
	}
	page = bytes.ReplaceAll(page, []byte("{{v}}"), []byte(s.version))
	s.index = newAsset("index.html", "text/html; charset=utf-8", page, false)
	return s, nil
}

func newAsset(name, ctype string, body []byte, immutable bool) *asset {
	h := sha256.Sum256(body)
	a := &asset{name: name, ctype: ctype, body: body, immutable: immutable,
		etag: `"` + hex.EncodeToString(h[:8]) + `"`}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	if buf.Len() < len(body) {
		a.gz = buf.Bytes()
	}
	return a
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard is read-only: use GET", http.StatusMethodNotAllowed)
		return
	}
	var a *asset
	switch {
	case r.URL.Path == "/":
		a = s.index
	case strings.HasPrefix(r.URL.Path, AssetPrefix):
		a = s.assets[strings.TrimPrefix(r.URL.Path, AssetPrefix)]
	}
	if a == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	setSecurityHeaders(hd, r.Host)
	hd.Set("Content-Type", a.ctype)
	hd.Set("Vary", "Accept-Encoding")
	if a.immutable && r.URL.Query().Get(versionParam) == s.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.etag
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// cspHost is what a Host header must look like to be named in the
// Content-Security-Policy (a DNS name or IPv4 address with an optional port).
var cspHost = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$`)

// setSecurityHeaders sets the headers that keep the page to its own script,
// style and API: nothing inline, nothing from another origin, no framing.
func setSecurityHeaders(hd http.Header, host string) {
	connect := "'self'"
	if cspHost.MatchString(host) {
		// 'self' covers the page's WebSocket in current browsers; naming it
		// keeps older ones working too.
		connect += " ws://" + host + " wss://" + host
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self'; connect-src "+connect+"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
