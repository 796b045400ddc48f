package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// defaultProxy is the proxy section of an app that does not set one.
var defaultProxy = Proxy{ListenAddress: "0.0.0.0", OutageHold: 10 * time.Second, ResponseTimeout: 60 * time.Second,
	MaxHeldRequests: 10000, AccessLog: true}

func TestParse_ProxySettings(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		get   func(p Proxy) any
		value any
		want  []string
	}{
		{name: "outage_hold", yaml: "proxy:\n  outage_hold: 30s\n", get: func(p Proxy) any { return p.OutageHold }, value: 30 * time.Second},
		{name: "outage_hold off", yaml: "proxy:\n  outage_hold: 0\n", get: func(p Proxy) any { return p.OutageHold }, value: time.Duration(0)},
		{name: "outage_hold 0s", yaml: "proxy:\n  outage_hold: 0s\n", get: func(p Proxy) any { return p.OutageHold }, value: time.Duration(0)},
		{name: "outage_hold longest", yaml: "proxy:\n  outage_hold: 10m\n", get: func(p Proxy) any { return p.OutageHold }, value: 10 * time.Minute},
		{name: "outage_hold bare number", yaml: "proxy:\n  outage_hold: 10\n",
			want: []string{`2:16: proxy.outage_hold: "10" is not a duration (use 10s; 0 turns the hold off)`}},
		{name: "outage_hold negative", yaml: "proxy:\n  outage_hold: -1s\n",
			want: []string{`2:16: proxy.outage_hold: "-1s" is negative (0 turns the hold off)`}},
		{name: "outage_hold too long", yaml: "proxy:\n  outage_hold: 11m\n",
			want: []string{`2:16: proxy.outage_hold: 11m0s is too long: at most 10m0s`}},
		{name: "outage_hold word", yaml: "proxy:\n  outage_hold: off\n",
			want: []string{`2:16: proxy.outage_hold: "off" is not a duration (use e.g. 500ms, 2s or 1m30s; 0 turns the hold off)`}},
		{name: "outage_hold list", yaml: "proxy:\n  outage_hold: [1s]\n",
			want: []string{`2:16: proxy.outage_hold: expected a duration like 500ms, 2s or 1m30s, got a list`}},

		{name: "response_timeout", yaml: "proxy:\n  response_timeout: 2m\n", get: func(p Proxy) any { return p.ResponseTimeout }, value: 2 * time.Minute},
		{name: "response_timeout zero", yaml: "proxy:\n  response_timeout: 0s\n",
			want: []string{`2:21: proxy.response_timeout: "0s" must be greater than 0`}},
		{name: "response_timeout negative", yaml: "proxy:\n  response_timeout: -5s\n",
			want: []string{`2:21: proxy.response_timeout: "-5s" must be greater than 0`}},
		{name: "response_timeout bare", yaml: "proxy:\n  response_timeout: 60\n",
			want: []string{`2:21: proxy.response_timeout: "60" is not a duration (use 60s)`}},
		{name: "response_timeout too long", yaml: "proxy:\n  response_timeout: 25h\n",
			want: []string{`2:21: proxy.response_timeout: 25h0m0s is too long: at most 24h0m0s`}},

		{name: "max_request_body units", yaml: "proxy:\n  max_request_body: 10m\n", get: func(p Proxy) any { return p.MaxRequestBody }, value: int64(10 << 20)},
		{name: "max_request_body 1g", yaml: "proxy:\n  max_request_body: 1g\n", get: func(p Proxy) any { return p.MaxRequestBody }, value: int64(1 << 30)},
		{name: "max_request_body 512k", yaml: "proxy:\n  max_request_body: 512K\n", get: func(p Proxy) any { return p.MaxRequestBody }, value: int64(512 << 10)},
		{name: "max_request_body bytes", yaml: "proxy:\n  max_request_body: 1000\n", get: func(p Proxy) any { return p.MaxRequestBody }, value: int64(1000)},
		{name: "max_request_body no limit", yaml: "proxy:\n  max_request_body: 0\n", get: func(p Proxy) any { return p.MaxRequestBody }, value: int64(0)},
		{name: "max_request_body negative", yaml: "proxy:\n  max_request_body: -1\n",
			want: []string{`2:21: proxy.max_request_body: -1 is negative (use 0 for no limit)`}},
		{name: "max_request_body bad unit", yaml: "proxy:\n  max_request_body: 10 parsecs\n",
			want: []string{`2:21: proxy.max_request_body: "10 parsecs" is not a size (use a number with b, k, m or g, e.g. 512m)`}},
		{name: "max_request_body huge", yaml: "proxy:\n  max_request_body: 99999999999g\n",
			want: []string{`2:21: proxy.max_request_body: "99999999999g" is too large`}},
		{name: "max_request_body bool", yaml: "proxy:\n  max_request_body: true\n",
			want: []string{`2:21: proxy.max_request_body: "true" is not a size (use a number with b, k, m or g, e.g. 512m)`}},

		{name: "max_held_requests", yaml: "proxy:\n  max_held_requests: 500\n", get: func(p Proxy) any { return p.MaxHeldRequests }, value: 500},
		{name: "max_held_requests zero", yaml: "proxy:\n  max_held_requests: 0\n",
			want: []string{`2:22: proxy.max_held_requests: 0 is out of range: use 1 to 1000000`}},
		{name: "max_held_requests huge", yaml: "proxy:\n  max_held_requests: 1000001\n",
			want: []string{`2:22: proxy.max_held_requests: 1000001 is out of range: use 1 to 1000000`}},
		{name: "max_held_requests string", yaml: "proxy:\n  max_held_requests: many\n",
			want: []string{`2:22: proxy.max_held_requests: expected an integer from 1 to 1000000, got the string "many"`}},

		{name: "access_log off", yaml: "proxy:\n  access_log: false\n", get: func(p Proxy) any { return p.AccessLog }, value: false},
		{name: "access_log on", yaml: "proxy:\n  access_log: true\n", get: func(p Proxy) any { return p.AccessLog }, value: true},
		{name: "access_log yes", yaml: "proxy:\n  access_log: yes\n",
			want: []string{`2:15: proxy.access_log: expected true or false, got the string "yes"`}},
		{name: "access_log quoted", yaml: "proxy:\n  access_log: \"true\"\n",
			want: []string{`2:15: proxy.access_log: expected true or false, got the string "true"`}},

		{name: "proxy_protocol", yaml: "proxy:\n  trusted_proxies: [127.0.0.1]\n  proxy_protocol: true\n",
			get: func(p Proxy) any { return p.ProxyProtocol }, value: true},
		{name: "proxy_protocol off without trust", yaml: "proxy:\n  proxy_protocol: false\n",
			get: func(p Proxy) any { return p.ProxyProtocol }, value: false},
		{name: "proxy_protocol without trusted_proxies", yaml: "proxy:\n  proxy_protocol: true\n",
			want: []string{`2:19: proxy.proxy_protocol: true needs proxy.trusted_proxies: the PROXY protocol is accepted only from the balancers listed there (e.g. trusted_proxies: [10.0.0.5])`}},
		{name: "proxy_protocol with no trusted_proxies", yaml: "proxy:\n  trusted_proxies: []\n  proxy_protocol: true\n",
			want: []string{`3:19: proxy.proxy_protocol: true needs proxy.trusted_proxies: the PROXY protocol is accepted only from the balancers listed there (e.g. trusted_proxies: [10.0.0.5])`}},
		{name: "proxy_protocol with bad trusted_proxies", yaml: "proxy:\n  trusted_proxies: [balancer]\n  proxy_protocol: true\n",
			want: []string{`2:21: proxy.trusted_proxies[0]: "balancer" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)`}},
		{name: "proxy_protocol number", yaml: "proxy:\n  proxy_protocol: 2\n",
			want: []string{`2:19: proxy.proxy_protocol: expected true or false, got the integer 2`}},

		{name: "every problem at once", yaml: "proxy:\n  outage_hold: x\n  response_timeout: y\n  max_request_body: z\n  max_held_requests: -3\n  access_log: 1\n  proxy_protocol: true\n  maintenance_page: \"\"\n",
			want: []string{
				`2:16: proxy.outage_hold: "x" is not a duration (use e.g. 500ms, 2s or 1m30s; 0 turns the hold off)`,
				`3:21: proxy.response_timeout: "y" is not a duration (use e.g. 500ms, 2s or 1m30s)`,
				`4:21: proxy.max_request_body: "z" is not a size (use a number with b, k, m or g, e.g. 512m)`,
				`5:22: proxy.max_held_requests: -3 is out of range: use 1 to 1000000`,
				`6:15: proxy.access_log: expected true or false, got the integer 1`,
				`7:19: proxy.proxy_protocol: true needs proxy.trusted_proxies: the PROXY protocol is accepted only from the balancers listed there (e.g. trusted_proxies: [10.0.0.5])`,
				`8:21: proxy.maintenance_page: is empty: name an HTML file, or leave the key out for the built-in page`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := appYAML("proxy", tt.yaml)
			app, got := parseErrors(t, src)
			if tt.want != nil {
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("problems of\n%s\ngot:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
				}
				return
			}
			if got != nil {
				t.Fatalf("unexpected problems in\n%s\n%s", src, strings.Join(got, "\n"))
			}
			if v := tt.get(app.Proxy); !reflect.DeepEqual(v, tt.value) {
				t.Errorf("got %#v, want %#v", v, tt.value)
			}
		})
	}
}

func TestParse_MaintenancePage(t *testing.T) {
	dir := t.TempDir()
	page := "<!doctype html>\n<title>Back soon</title>\n<p>{{message}}</p>\n"
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abs := write("page.html", []byte(page))
	write("bom.html", []byte("\ufeff  <html><body>x</body></html>"))
	write("comment.html", []byte("<!-- ours -->\n<div>x</div>"))
	write("big.html", []byte("<p>"+strings.Repeat("x", MaxMaintenancePage)))
	write("max.html", []byte("<p>"+strings.Repeat("x", MaxMaintenancePage-3)))
	write("empty.html", nil)
	write("blank.html", []byte(" \n\t\n"))
	write("text.html", []byte("Down for maintenance"))
	write("lt.html", []byte("< 5 minutes"))
	write("binary.html", []byte("<p>\x00\x01</p>"))
	write("latin1.html", []byte("<p>caf\xe9</p>"))
	if err := os.Mkdir(filepath.Join(dir, "folder.html"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.html"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "web.yaml")
	tests := []struct {
		path string
		want string // the problem; "" for a page that loads
	}{
		{abs, ""},
		{"page.html", ""}, // relative to the config file's folder
		{"./page.html", ""},
		{"bom.html", ""},
		{"comment.html", ""},
		{"max.html", ""},
		{"missing.html", `"missing.html" does not exist`},
		{"folder.html", `"folder.html" is a folder: name an HTML file`},
		{"fifo.html", `"fifo.html" is not a regular file: name an HTML file`},
		{"/dev/null", `"/dev/null" is not a regular file: name an HTML file`},
		{"big.html", `"big.html" is larger than 1048576 bytes (1 MiB): keep the page small`},
		{"empty.html", `"empty.html" is empty: write an HTML page (<!doctype html>…)`},
		{"blank.html", `"blank.html" is empty: write an HTML page (<!doctype html>…)`},
		{"text.html", `"text.html" does not look like HTML: it must begin with <!doctype html>, <html> or another tag`},
		{"lt.html", `"lt.html" does not look like HTML: it must begin with <!doctype html>, <html> or another tag`},
		{"binary.html", `"binary.html" is not text: write an HTML page in UTF-8`},
		{"latin1.html", `"latin1.html" is not text: write an HTML page in UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			src := appYAML("proxy", "proxy:\n  maintenance_page: "+tt.path+"\n")
			app, err := Parse(strings.NewReader(src), file)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if app.Proxy.MaintenancePage != tt.path || len(app.Proxy.MaintenanceHTML) == 0 {
					t.Fatalf("page %q: got %q, %d bytes", tt.path, app.Proxy.MaintenancePage, len(app.Proxy.MaintenanceHTML))
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("got %v, want one problem", err)
			}
			want := file + ":2:21: proxy.maintenance_page: " + tt.want
			if errs[0].Error() != want {
				t.Fatalf("got  %s\nwant %s", errs[0], want)
			}
		})
	}
	t.Run("content read at load", func(t *testing.T) {
		app, err := Parse(strings.NewReader(appYAML("proxy", "proxy:\n  maintenance_page: page.html\n")), file)
		if err != nil {
			t.Fatal(err)
		}
		if string(app.Proxy.MaintenanceHTML) != page {
			t.Fatalf("MaintenanceHTML = %q", app.Proxy.MaintenanceHTML)
		}
	})
}

// An app config of the first milestones, without any of the proxy's new
// keys, loads as before with the new settings at their defaults.
func TestParse_OldConfigKeepsWorking(t *testing.T) {
	src := appYAML("proxy", "proxy:\n  listen_address: 127.0.0.1\n  trusted_proxies: [10.0.0.0/8]\n")
	app, err := Parse(strings.NewReader(src), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := defaultProxy
	want.ListenAddress = "127.0.0.1"
	want.TrustedProxies = app.Proxy.TrustedProxies
	if !reflect.DeepEqual(app.Proxy, want) || len(want.TrustedProxies) != 1 {
		t.Fatalf("proxy = %+v, want %+v", app.Proxy, want)
	}
}
