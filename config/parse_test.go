package config

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// baseSections is a minimal valid app, one section per top-level key.
var baseSections = []struct{ key, text string }{
	{"name", "name: web\n"},
	{"image", "image: web:1\n"},
	{"ports", "ports:\n  proxy: 8000\n  blue: 18000\n  green: 18001\n"},
	{"health_check", "health_check:\n  path: /health\n"},
	{"docker", "docker:\n  expose_port: 3000\n"},
}

// appYAML is the minimal valid app with the section key replaced by text,
// which comes first so that its line numbers are those of the text itself.
func appYAML(key, text string) string {
	var b strings.Builder
	b.WriteString(text)
	for _, s := range baseSections {
		if s.key != key {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

// parseErrors parses src as t.yaml and returns its problems as lines
// without the file name ("line:col: field: msg").
func parseErrors(t *testing.T, src string) (*App, []string) {
	t.Helper()
	app, err := Parse(strings.NewReader(src), "t.yaml")
	if err == nil {
		return app, nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error is %T, want Errors: %v", err, err)
	}
	if app != nil {
		t.Errorf("Parse returned an app with errors")
	}
	var lines []string
	for _, e := range errs {
		if e.File != "t.yaml" {
			t.Errorf("error names file %q, want t.yaml", e.File)
		}
		lines = append(lines, strings.TrimPrefix(e.Error(), "t.yaml:"))
	}
	return nil, lines
}

func TestParse_Fields(t *testing.T) {
	sha := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		section string // the base section that yaml replaces
		yaml    string
		get     func(a *App) any // for a valid config: the value to check
		value   any
		want    []string // for an invalid config: every problem
	}{
		// name
		{name: "name plain", section: "name", yaml: "name: web-api\n", get: func(a *App) any { return a.Name }, value: "web-api"},
		{name: "name dots underscores digits", section: "name", yaml: "name: 1a.b_c-d\n", get: func(a *App) any { return a.Name }, value: "1a.b_c-d"},
		{name: "name 63 chars", section: "name", yaml: "name: " + strings.Repeat("a", 63) + "\n", get: func(a *App) any { return len(a.Name) }, value: 63},
		{name: "name 64 chars", section: "name", yaml: "name: " + strings.Repeat("a", 64) + "\n",
			want: []string{`1:7: name: "` + strings.Repeat("a", 64) + `" is not a valid app name: use 1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`}},
		{name: "name uppercase", section: "name", yaml: "name: Web\n",
			want: []string{`1:7: name: "Web" is not a valid app name: use 1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`}},
		{name: "name leading dash", section: "name", yaml: "name: \"-web\"\n",
			want: []string{`1:7: name: "-web" is not a valid app name: use 1-63 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`}},
		{name: "name a list", section: "name", yaml: "name: [web]\n",
			want: []string{`1:7: name: expected a name, got a list`}},
		{name: "name null", section: "name", yaml: "name:\n",
			want: []string{`1:1: name: is empty: it is required (the app's name, e.g. web-api)`}},
		{name: "name missing", section: "name", yaml: "",
			want: []string{`1:1: name: is required (the app's name, e.g. web-api)`}},

		// image
		{name: "image with tag", section: "image", yaml: "image: web-api:20250630-1010-a333666\n", get: func(a *App) any { return a.Image }, value: "web-api:20250630-1010-a333666"},
		{name: "image registry port path", section: "image", yaml: "image: registry.example.com:5000/team/web:1.2\n", get: func(a *App) any { return a.Image }, value: "registry.example.com:5000/team/web:1.2"},
		{name: "image localhost no tag", section: "image", yaml: "image: localhost/web\n", get: func(a *App) any { return a.Image }, value: "localhost/web"},
		{name: "image digest", section: "image", yaml: "image: ghcr.io/o/web:v1@" + sha + "\n", get: func(a *App) any { return a.Image }, value: "ghcr.io/o/web:v1@" + sha},
		{name: "image ipv6 registry", section: "image", yaml: "image: \"[::1]:5000/web:1\"\n", get: func(a *App) any { return a.Image }, value: "[::1]:5000/web:1"},
		{name: "image uppercase", section: "image", yaml: "image: Web:1\n",
			want: []string{`1:8: image: "Web:1" is not a valid image reference: path component "Web" must be lowercase`}},
		{name: "image bad tag", section: "image", yaml: "image: web:-1\n",
			want: []string{`1:8: image: "web:-1" is not a valid image reference: tag "-1" may hold only letters, digits, '_', '.' and '-' (not first), at most 128`}},
		{name: "image short digest", section: "image", yaml: "image: web@sha256:abc\n",
			want: []string{`1:8: image: "web@sha256:abc" is not a valid image reference: digest "sha256:abc" is not sha256:<64 lowercase hex digits>`}},
		{name: "image bad registry", section: "image", yaml: "image: reg_istry.com/web\n",
			want: []string{`1:8: image: "reg_istry.com/web" is not a valid image reference: registry "reg_istry.com" is not a valid host[:port]`}},
		{name: "image empty component", section: "image", yaml: "image: team//web\n",
			want: []string{`1:8: image: "team//web" is not a valid image reference: has an empty path component`}},
		{name: "image double dash ok, dot dot not", section: "image", yaml: "image: a..b\n",
			want: []string{`1:8: image: "a..b" is not a valid image reference: path component "a..b" may hold only lowercase letters, digits and single separators (. _ __ -) between them`}},
		{name: "image space", section: "image", yaml: "image: \"web :1\"\n",
			want: []string{`1:8: image: "web :1" is not a valid image reference: contains whitespace or control characters`}},
		{name: "image missing", section: "image", yaml: "",
			want: []string{`1:1: image: is required (the image deployed on first start, e.g. web-api:1.0)`}},

		// ports
		{name: "ports", section: "ports", yaml: "ports: {proxy: 80, blue: 1, green: 65535}\n", get: func(a *App) any { return a.Ports }, value: Ports{Proxy: 80, Blue: 1, Green: 65535}},
		{name: "ports out of range", section: "ports", yaml: "ports:\n  proxy: 0\n  blue: 65536\n  green: -1\n",
			want: []string{
				`2:10: ports.proxy: 0 is not a port number (1-65535)`,
				`3:9: ports.blue: 65536 is not a port number (1-65535)`,
				`4:10: ports.green: -1 is not a port number (1-65535)`,
			}},
		{name: "ports quoted", section: "ports", yaml: "ports:\n  proxy: \"8000\"\n  blue: 18000\n  green: 18001\n",
			want: []string{`2:10: ports.proxy: expected a port number (1-65535), got the string "8000"`}},
		{name: "ports not distinct", section: "ports", yaml: "ports:\n  proxy: 8000\n  blue: 18000\n  green: 18000\n",
			want: []string{`4:10: ports.green: 18000 is also ports.blue: proxy, blue and green must be three different ports`}},
		{name: "ports green missing", section: "ports", yaml: "ports:\n  proxy: 8000\n  blue: 18000\n",
			want: []string{`1:1: ports.green: is required (the host port of the green container)`}},
		{name: "ports not a mapping", section: "ports", yaml: "ports: 8000\n",
			want: []string{`1:8: ports: expected a mapping with the keys proxy, blue, green, got the integer 8000`}},
		{name: "ports unknown key", section: "ports", yaml: "ports:\n  proxy: 8000\n  blue: 18000\n  green: 18001\n  admin: 9000\n",
			want: []string{`5:3: ports.admin: unknown key "admin" (allowed: proxy, blue, green)`}},

		// proxy
		{name: "proxy defaults", section: "proxy", yaml: "", get: func(a *App) any { return a.Proxy }, value: defaultProxy},
		{name: "proxy empty", section: "proxy", yaml: "proxy:\n", get: func(a *App) any { return a.Proxy }, value: defaultProxy},
		{name: "listen ipv4", section: "proxy", yaml: "proxy:\n  listen_address: 127.0.0.1\n", get: func(a *App) any { return a.Proxy.ListenAddress }, value: "127.0.0.1"},
		{name: "listen ipv6", section: "proxy", yaml: "proxy:\n  listen_address: \"::\"\n", get: func(a *App) any { return a.Proxy.ListenAddress }, value: "::"},
		{name: "listen localhost", section: "proxy", yaml: "proxy:\n  listen_address: localhost\n", get: func(a *App) any { return a.Proxy.ListenAddress }, value: "localhost"},
		{name: "listen with port", section: "proxy", yaml: "proxy:\n  listen_address: 0.0.0.0:80\n",
			want: []string{`2:19: proxy.listen_address: "0.0.0.0:80" is not an IP address (use e.g. 0.0.0.0, 127.0.0.1, :: or localhost; the port is ports.proxy)`}},
		{name: "trusted proxies", section: "proxy", yaml: "proxy:\n  trusted_proxies: [10.0.0.0/8, 192.168.1.10, \"fd00::/8\", 10.1.2.3/16, \"::1\"]\n",
			get: func(a *App) any { return a.Proxy.TrustedProxies },
			value: []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("fd00::/8"),
				netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("::1/128"),
			}},
		{name: "trusted proxies bad", section: "proxy", yaml: "proxy:\n  trusted_proxies:\n    - 10.0.0.0/33\n    - proxy.local\n    - [1]\n",
			want: []string{
				`3:7: proxy.trusted_proxies[0]: "10.0.0.0/33" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)`,
				`4:7: proxy.trusted_proxies[1]: "proxy.local" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.168.1.10, fd00::/8)`,
				`5:7: proxy.trusted_proxies[2]: expected an IP address or CIDR, got a list`,
			}},
		{name: "trusted proxies scalar", section: "proxy", yaml: "proxy:\n  trusted_proxies: 10.0.0.0/8\n",
			want: []string{`2:20: proxy.trusted_proxies: expected a list of IP addresses or CIDRs (e.g. [10.0.0.0/8, 192.168.1.10]), got the string "10.0.0.0/8"`}},
		{name: "proxy unknown key", section: "proxy", yaml: "proxy:\n  listen: 0.0.0.0\n",
			want: []string{`2:3: proxy.listen: unknown key "listen" (allowed: listen_address, trusted_proxies, outage_hold, response_timeout, max_request_body, max_held_requests, maintenance_page, access_log, proxy_protocol); did you mean "listen_address"?`}},

		// health_check
		{name: "health defaults", section: "health_check", yaml: "health_check:\n  path: /health\n", get: func(a *App) any { return a.HealthCheck },
			value: HealthCheck{Path: "/health", Method: "GET", Timeout: 5 * time.Second, Interval: time.Second, HealthyThreshold: 2, UnhealthyThreshold: 3}},
		{name: "health all set", section: "health_check",
			yaml: "health_check:\n  path: /health?full=1\n  method: post\n  timeout: 500ms\n  interval: 1m30s\n  healthy_threshold: 1\n  unhealthy_threshold: 5\n  expected_status: [200, 204]\n",
			get:  func(a *App) any { return a.HealthCheck },
			value: HealthCheck{Path: "/health?full=1", Method: "POST", Timeout: 500 * time.Millisecond, Interval: 90 * time.Second,
				HealthyThreshold: 1, UnhealthyThreshold: 5, ExpectedStatus: []int{200, 204}}},
		{name: "expected status integer", section: "health_check", yaml: "health_check:\n  path: /\n  expected_status: 301\n",
			get: func(a *App) any { return a.HealthCheck.ExpectedStatus }, value: []int{301}},
		{name: "health path relative", section: "health_check", yaml: "health_check:\n  path: health\n",
			want: []string{`2:9: health_check.path: "health" must start with "/" (e.g. /health)`}},
		{name: "health path space", section: "health_check", yaml: "health_check:\n  path: /a b\n",
			want: []string{`2:9: health_check.path: "/a b" must not contain spaces or control characters (escape them, e.g. %20)`}},
		{name: "health path missing", section: "health_check", yaml: "health_check:\n  method: GET\n",
			want: []string{`1:1: health_check.path: is required (the HTTP path to check, e.g. /health)`}},
		{name: "health missing", section: "health_check", yaml: "",
			want: []string{`1:1: health_check: is required (a mapping with at least path)`}},
		{name: "health method", section: "health_check", yaml: "health_check:\n  path: /\n  method: FETCH\n",
			want: []string{`3:11: health_check.method: "FETCH" is not a supported HTTP method (use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)`}},
		{name: "health durations", section: "health_check",
			yaml: "health_check:\n  path: /\n  timeout: 2\n  interval: \"2\"\n",
			want: []string{
				`3:12: health_check.timeout: "2" is not a duration (use 2s)`,
				`4:13: health_check.interval: "2" is not a duration (use 2s)`,
			}},
		{name: "health durations invalid", section: "health_check",
			yaml: "health_check:\n  path: /\n  timeout: 0s\n  interval: -1s\n",
			want: []string{
				`3:12: health_check.timeout: "0s" must be greater than 0`,
				`4:13: health_check.interval: "-1s" must be greater than 0`,
			}},
		{name: "health duration junk", section: "health_check",
			yaml: "health_check:\n  path: /\n  timeout: soon\n  interval: [1s]\n",
			want: []string{
				`3:12: health_check.timeout: "soon" is not a duration (use e.g. 500ms, 2s or 1m30s)`,
				`4:13: health_check.interval: expected a duration like 500ms, 2s or 1m30s, got a list`,
			}},
		{name: "health thresholds", section: "health_check",
			yaml: "health_check:\n  path: /\n  healthy_threshold: 0\n  unhealthy_threshold: \"3\"\n",
			want: []string{
				`3:22: health_check.healthy_threshold: 0 must be at least 1`,
				`4:24: health_check.unhealthy_threshold: expected an integer of at least 1, got the string "3"`,
			}},
		{name: "expected status bad", section: "health_check",
			yaml: "health_check:\n  path: /\n  expected_status: [200, 99, \"204\", 600]\n",
			want: []string{
				`3:26: health_check.expected_status[1]: 99 is not an HTTP status code (100-599)`,
				`3:30: health_check.expected_status[2]: expected an HTTP status code (100-599) or a list of them, got the string "204"`,
				`3:37: health_check.expected_status[3]: 600 is not an HTTP status code (100-599)`,
			}},
		{name: "expected status string", section: "health_check",
			yaml: "health_check:\n  path: /\n  expected_status: 2xx\n",
			want: []string{`3:20: health_check.expected_status: expected an HTTP status code (100-599) or a list of them, got the string "2xx"`}},
		{name: "health unknown key", section: "health_check",
			yaml: "health_check:\n  path: /\n  intervall: 2s\n",
			want: []string{`3:3: health_check.intervall: unknown key "intervall" (allowed: path, method, timeout, interval, healthy_threshold, unhealthy_threshold, expected_status); did you mean "interval"?`}},

		// docker
		{name: "docker defaults", section: "docker", yaml: "docker:\n  expose_port: 3000\n", get: func(a *App) any { return a.Docker },
			value: Docker{ExposePort: 3000, RestartPolicy: "unless-stopped", PullPolicy: "if-not-present", KeepImages: 5}},
		{name: "keep_images", section: "docker", yaml: "docker:\n  expose_port: 1\n  keep_images: 2\n",
			get: func(a *App) any { return a.Docker.KeepImages }, value: 2},
		{name: "keep_images 0 keeps all", section: "docker", yaml: "docker:\n  expose_port: 1\n  keep_images: 0\n",
			get: func(a *App) any { return a.Docker.KeepImages }, value: 0},
		{name: "keep_images negative", section: "docker", yaml: "docker:\n  expose_port: 1\n  keep_images: -1\n",
			want: []string{`3:16: docker.keep_images: -1 is not a number of images to keep (0-10000; 0 keeps every image)`}},
		{name: "keep_images too large", section: "docker", yaml: "docker:\n  expose_port: 1\n  keep_images: 10001\n",
			want: []string{`3:16: docker.keep_images: 10001 is not a number of images to keep (0-10000; 0 keeps every image)`}},
		{name: "keep_images not a number", section: "docker", yaml: "docker:\n  expose_port: 1\n  keep_images: five\n",
			want: []string{`3:16: docker.keep_images: expected a number of images (0 keeps every image), got the string "five"`}},
		{name: "keep_images typo", section: "docker", yaml: "docker:\n  expose_port: 1\n  keep_image: 3\n",
			want: []string{`3:3: docker.keep_image: unknown key "keep_image" (allowed: expose_port, environment, volumes, memory_limit, cpu_limit, restart_policy, pull_policy, network, command, keep_images); did you mean "keep_images"?`}},
		{name: "docker missing", section: "docker", yaml: "",
			want: []string{`1:1: docker: is required (a mapping with at least expose_port)`}},
		{name: "expose_port missing", section: "docker", yaml: "docker:\n  network: bridge\n",
			want: []string{`1:1: docker.expose_port: is required (the port the app listens on inside the container)`}},
		{name: "expose_port bad", section: "docker", yaml: "docker:\n  expose_port: 99999\n",
			want: []string{`2:16: docker.expose_port: 99999 is not a port number (1-65535)`}},
		{name: "environment list", section: "docker", yaml: "docker:\n  expose_port: 1\n  environment:\n    - \"DATABASE_URL=postgres://u:p@db:5432/app?x=1\"\n    - EMPTY=\n    - _X=1\n",
			get: func(a *App) any { return a.Docker.Environment }, value: []string{"DATABASE_URL=postgres://u:p@db:5432/app?x=1", "EMPTY=", "_X=1"}},
		{name: "environment map sorted", section: "docker", yaml: "docker:\n  expose_port: 1\n  environment:\n    ZED: last\n    PORT: 3000\n    DEBUG: true\n    EMPTY: \"\"\n    RATIO: 1.50\n",
			get: func(a *App) any { return a.Docker.Environment }, value: []string{"DEBUG=true", "EMPTY=", "PORT=3000", "RATIO=1.50", "ZED=last"}},
		{name: "environment list bad", section: "docker", yaml: "docker:\n  expose_port: 1\n  environment:\n    - NOVALUE\n    - 1BAD=x\n    - A=1\n    - A=2\n    - {B: 1}\n",
			want: []string{
				`4:7: docker.environment[0]: "NOVALUE" is not KEY=value`,
				`5:7: docker.environment.1BAD: "1BAD" is not a valid variable name (letters, digits and '_', not starting with a digit)`,
				`7:7: docker.environment.A: is set twice (first at line 6)`,
				`8:7: docker.environment[4]: expected a "KEY=value" string, got a mapping`,
			}},
		{name: "environment map bad", section: "docker", yaml: "docker:\n  expose_port: 1\n  environment:\n    OK: 1\n    NULL:\n    LIST: [1]\n    BAD-NAME: x\n",
			want: []string{
				`5:5: docker.environment.NULL: has no value (use "" for an empty one)`,
				`6:11: docker.environment.LIST: expected a string, number or boolean, got a list`,
				`7:5: docker.environment.BAD-NAME: "BAD-NAME" is not a valid variable name (letters, digits and '_', not starting with a digit)`,
			}},
		{name: "environment scalar", section: "docker", yaml: "docker:\n  expose_port: 1\n  environment: A=1\n",
			want: []string{`3:16: docker.environment: expected a list of "KEY=value" strings or a mapping of KEY: value, got the string "A=1"`}},
		{name: "volumes", section: "docker", yaml: "docker:\n  expose_port: 1\n  volumes: [\"/srv/web/data:/app/data:rw\", \"cache:/cache:ro,nocopy\", \"/etc/tz:/etc/tz:ro,Z,rslave\"]\n",
			get: func(a *App) any { return a.Docker.Volumes }, value: []string{"/srv/web/data:/app/data:rw", "cache:/cache:ro,nocopy", "/etc/tz:/etc/tz:ro,Z,rslave"}},
		{name: "volumes bad", section: "docker",
			yaml: "docker:\n  expose_port: 1\n  volumes:\n    - /data\n    - ./data:/data\n    - /a:data\n    - /a:/\n    - /a:/b:rx\n    - /a:/c:ro,rw\n    - /a:/d:nocopy\n    - v1:/e:shared\n    - /x:/app/data\n    - /y:/app/data/\n",
			want: []string{
				`4:7: docker.volumes[0]: "/data" is not host:container[:options] (e.g. /srv/app/data:/data:rw or app-data:/data)`,
				`5:7: docker.volumes[1]: "./data:/data" host part "./data" must be an absolute path or a volume name`,
				`6:7: docker.volumes[2]: "/a:data" container path "data" must be absolute`,
				`7:7: docker.volumes[3]: "/a:/" cannot mount over the container's /`,
				`8:7: docker.volumes[4]: "/a:/b:rx" unknown option "rx" (use ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate, consistent, cached, delegated)`,
				`9:7: docker.volumes[5]: "/a:/c:ro,rw" options "ro" and "rw" cannot be combined`,
				`10:7: docker.volumes[6]: "/a:/d:nocopy" option "nocopy" applies only to named volumes`,
				`11:7: docker.volumes[7]: "v1:/e:shared" option "shared" applies only to host paths`,
				`13:7: docker.volumes[9]: "/y:/app/data/" mounts /app/data again (first at line 12)`,
			}},
		{name: "memory m", section: "docker", yaml: "docker:\n  expose_port: 1\n  memory_limit: 512m\n", get: func(a *App) any { return a.Docker.MemoryLimit }, value: int64(512 << 20)},
		{name: "memory G", section: "docker", yaml: "docker:\n  expose_port: 1\n  memory_limit: 1G\n", get: func(a *App) any { return a.Docker.MemoryLimit }, value: int64(1 << 30)},
		{name: "memory bytes", section: "docker", yaml: "docker:\n  expose_port: 1\n  memory_limit: 536870912\n", get: func(a *App) any { return a.Docker.MemoryLimit }, value: int64(512 << 20)},
		{name: "memory too small", section: "docker", yaml: "docker:\n  expose_port: 1\n  memory_limit: 5m\n",
			want: []string{`3:17: docker.memory_limit: 5m is below Docker's minimum of 6m (omit it for no limit)`}},
		{name: "memory unit", section: "docker", yaml: "docker:\n  expose_port: 1\n  memory_limit: 512x\n",
			want: []string{`3:17: docker.memory_limit: "512x" is not a memory size (use a number with b, k, m or g, e.g. 512m)`}},
		{name: "cpu string", section: "docker", yaml: "docker:\n  expose_port: 1\n  cpu_limit: \"0.5\"\n", get: func(a *App) any { return a.Docker.CPULimit }, value: 0.5},
		{name: "cpu number", section: "docker", yaml: "docker:\n  expose_port: 1\n  cpu_limit: 2\n", get: func(a *App) any { return a.Docker.CPULimit }, value: 2.0},
		{name: "cpu bad", section: "docker", yaml: "docker:\n  expose_port: 1\n  cpu_limit: half\n",
			want: []string{`3:14: docker.cpu_limit: "half" is not a number of CPUs (e.g. 0.5 or 2)`}},
		{name: "cpu zero", section: "docker", yaml: "docker:\n  expose_port: 1\n  cpu_limit: 0\n",
			want: []string{`3:14: docker.cpu_limit: 0 must be greater than 0 (omit it for no limit)`}},
		{name: "cpu tiny", section: "docker", yaml: "docker:\n  expose_port: 1\n  cpu_limit: 0.001\n",
			want: []string{`3:14: docker.cpu_limit: 0.001 is below Docker's minimum of 0.01`}},
		{name: "restart no", section: "docker", yaml: "docker:\n  expose_port: 1\n  restart_policy: no\n", get: func(a *App) any { return a.Docker.RestartPolicy }, value: "no"},
		{name: "restart on-failure:3", section: "docker", yaml: "docker:\n  expose_port: 1\n  restart_policy: on-failure:3\n", get: func(a *App) any { return a.Docker.RestartPolicy }, value: "on-failure:3"},
		{name: "restart bad", section: "docker", yaml: "docker:\n  expose_port: 1\n  restart_policy: on-failure:x\n",
			want: []string{`3:19: docker.restart_policy: "on-failure:x" is not a restart policy (use no, always, unless-stopped, on-failure or on-failure:N)`}},
		{name: "pull never", section: "docker", yaml: "docker:\n  expose_port: 1\n  pull_policy: never\n", get: func(a *App) any { return a.Docker.PullPolicy }, value: "never"},
		{name: "pull bad", section: "docker", yaml: "docker:\n  expose_port: 1\n  pull_policy: missing\n",
			want: []string{`3:16: docker.pull_policy: "missing" is not a pull policy (use if-not-present, always, never)`}},
		{name: "network", section: "docker", yaml: "docker:\n  expose_port: 1\n  network: backend_net\n", get: func(a *App) any { return a.Docker.Network }, value: "backend_net"},
		{name: "network host", section: "docker", yaml: "docker:\n  expose_port: 1\n  network: host\n",
			want: []string{`3:12: docker.network: "host" cannot be used: the containers publish their port on 127.0.0.1 (use bridge or a user-defined network)`}},
		{name: "command", section: "docker", yaml: "docker:\n  expose_port: 1\n  command: [\"./server\", --port, 3000]\n",
			get: func(a *App) any { return a.Docker.Command }, value: []string{"./server", "--port", "3000"}},
		{name: "command string", section: "docker", yaml: "docker:\n  expose_port: 1\n  command: ./server --port 3000\n",
			want: []string{`3:12: docker.command: expected a list of strings (e.g. ["./server", "--port", "3000"]), got the string "./server --port 3000"`}},
		{name: "docker unknown key", section: "docker", yaml: "docker:\n  expose_port: 1\n  ports: [80]\n",
			want: []string{`3:3: docker.ports: unknown key "ports" (allowed: expose_port, environment, volumes, memory_limit, cpu_limit, restart_policy, pull_policy, network, command, keep_images)`}},

		// deployment
		{name: "deployment defaults", section: "deployment", yaml: "", get: func(a *App) any { return a.Deployment },
			value: Deployment{DrainTimeout: 30 * time.Second, WebSocketDrainTimeout: 30 * time.Second, StartupTimeout: 60 * time.Second, HealthCheckTimeout: 120 * time.Second, StopTimeout: 10 * time.Second}},
		{name: "websocket drain follows drain", section: "deployment", yaml: "deployment:\n  drain_timeout: 5s\n", get: func(a *App) any { return a.Deployment.WebSocketDrainTimeout }, value: 5 * time.Second},
		{name: "deployment all set", section: "deployment",
			yaml:  "deployment:\n  drain_timeout: 1m\n  websocket_drain_timeout: 10s\n  startup_timeout: 90s\n  health_check_timeout: 3m\n  stop_timeout: 20s\n",
			get:   func(a *App) any { return a.Deployment },
			value: Deployment{DrainTimeout: time.Minute, WebSocketDrainTimeout: 10 * time.Second, StartupTimeout: 90 * time.Second, HealthCheckTimeout: 3 * time.Minute, StopTimeout: 20 * time.Second}},
		{name: "deployment bad durations", section: "deployment",
			yaml: "deployment:\n  drain_timeout: 30\n  websocket_drain_timeout: 1.5\n  startup_timeout: 1h\n  stop_timeout: 1500ms\n",
			want: []string{
				`2:18: deployment.drain_timeout: "30" is not a duration (use 30s)`,
				`3:28: deployment.websocket_drain_timeout: "1.5" is not a duration (use 1.5s)`,
				`5:17: deployment.stop_timeout: 1.5s is not whole seconds: Docker's stop grace period counts seconds (e.g. 10s)`,
			}},
		{name: "health check timeout too short", section: "deployment",
			yaml: "deployment:\n  health_check_timeout: 1s\n",
			want: []string{`2:25: deployment.health_check_timeout: the health check timeout 1s is shorter than interval × healthy_threshold (1s × 2 = 2s): a new container could never pass`}},
		{name: "health check timeout too short for set interval", section: "health_check",
			yaml: "health_check:\n  path: /\n  interval: 30s\n  healthy_threshold: 5\n",
			want: []string{`3:13: health_check.interval: the health check timeout 2m0s is shorter than interval × healthy_threshold (30s × 5 = 2m30s): a new container could never pass`}},
		{name: "deployment unknown key", section: "deployment", yaml: "deployment:\n  drain: 1s\n",
			want: []string{`2:3: deployment.drain: unknown key "drain" (allowed: drain_timeout, websocket_drain_timeout, startup_timeout, health_check_timeout, stop_timeout, verify, canary); did you mean "drain_timeout"?`}},

		// top level
		{name: "top unknown key", section: "name", yaml: "nmae: web\n",
			want: []string{
				`1:1: nmae: unknown key "nmae" (allowed: name, image, ports, proxy, health_check, docker, deployment); did you mean "name"?`,
				`1:1: name: is required (the app's name, e.g. web-api)`,
			}},
		{name: "duplicate key", section: "name", yaml: "name: web\nname: api\n",
			want: []string{`2:1: name: is set twice (first at line 1)`}},
		{name: "anchor and alias", section: "ports", yaml: "ports: &p\n  proxy: 8000\n  blue: 18000\n  green: 18001\nx-copy: *p\n",
			want: []string{`5:1: x-copy: unknown key "x-copy" (allowed: name, image, ports, proxy, health_check, docker, deployment)`}},
		{name: "alias value", section: "image", yaml: "image: &img web:2\ndeployment:\n  drain_timeout: &d 5s\n  stop_timeout: *d\n",
			get: func(a *App) any { return []any{a.Image, a.Deployment.StopTimeout} }, value: []any{"web:2", 5 * time.Second}},
		{name: "merge key", section: "ports", yaml: "ports:\n  <<: {proxy: 1}\n  blue: 2\n  green: 3\n",
			want: []string{
				`1:1: ports.proxy: is required (the app's public port, where the proxy listens)`,
				`2:3: ports: merge keys (<<) are not supported: write the keys out`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := appYAML(tt.section, tt.yaml)
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
			if v := tt.get(app); !reflect.DeepEqual(v, tt.value) {
				t.Errorf("got %#v, want %#v", v, tt.value)
			}
		})
	}
}

func TestParse_Document(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty", "", []string{`1:1: file is empty: expected an app config with name, image, ports, health_check and docker`}},
		{"comment only", "# nothing yet\n", []string{`1:1: file is empty: expected an app config with name, image, ports, health_check and docker`}},
		{"list", "- name: web\n", []string{`1:1: expected a mapping with the keys name, image, ports, proxy, health_check, docker, deployment, got a list`}},
		{"scalar", "web\n", []string{`1:1: expected a mapping with the keys name, image, ports, proxy, health_check, docker, deployment, got the string "web"`}},
		{"two documents", appYAML("", "") + "---\nname: api\n", []string{`12:1: holds 2 YAML documents: expected one app config per file`}},
		{"syntax error", "name: web\nports: [1, 2\n", []string{`2:8: invalid YAML: sequence end token ']' not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := parseErrors(t, tt.src)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParse_TooLarge(t *testing.T) {
	src := appYAML("", "") + "# " + strings.Repeat("x", maxFileSize) + "\n"
	_, got := parseErrors(t, src)
	want := []string{`1:1: file is larger than 1048576 bytes: not an app config`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParse_Contract(t *testing.T) {
	// The example of the app config format as the contract first wrote it (docs/config.md has its own).
	src := `name: web-api
image: web-api:20250630-1010-a333666
ports:
  proxy: 8000
  blue: 18000
  green: 18001
proxy:
  listen_address: 0.0.0.0
  trusted_proxies: [10.0.0.0/8]
health_check:
  path: /health
  method: GET
  timeout: 5s
  interval: 2s
  healthy_threshold: 3
  unhealthy_threshold: 2
  expected_status: 200
docker:
  expose_port: 3000
  environment:
    - "DATABASE_URL=postgres://user:pass@db:5432/app"
  volumes: ["/srv/web/data:/app/data:rw"]
  memory_limit: 512m
  cpu_limit: "0.5"
  restart_policy: unless-stopped
  pull_policy: if-not-present
  network: bridge
  command: ["./server", "--port", "3000"]
deployment:
  drain_timeout: 30s
  websocket_drain_timeout: 10s
  startup_timeout: 60s
  health_check_timeout: 120s
  stop_timeout: 10s
`
	app, err := Parse(strings.NewReader(src), "apps.d/web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &App{
		Name:  "web-api",
		Image: "web-api:20250630-1010-a333666",
		Ports: Ports{Proxy: 8000, Blue: 18000, Green: 18001},
		Proxy: Proxy{ListenAddress: "0.0.0.0", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			OutageHold: 10 * time.Second, ResponseTimeout: 60 * time.Second, MaxHeldRequests: 10000, AccessLog: true},
		HealthCheck: HealthCheck{Path: "/health", Method: "GET", Timeout: 5 * time.Second, Interval: 2 * time.Second,
			HealthyThreshold: 3, UnhealthyThreshold: 2, ExpectedStatus: []int{200}},
		Docker: Docker{
			ExposePort:    3000,
			Environment:   []string{"DATABASE_URL=postgres://user:pass@db:5432/app"},
			Volumes:       []string{"/srv/web/data:/app/data:rw"},
			MemoryLimit:   512 << 20,
			CPULimit:      0.5,
			RestartPolicy: "unless-stopped",
			PullPolicy:    "if-not-present",
			Network:       "bridge",
			Command:       []string{"./server", "--port", "3000"},
			KeepImages:    5,
		},
		Deployment: Deployment{DrainTimeout: 30 * time.Second, WebSocketDrainTimeout: 10 * time.Second,
			StartupTimeout: 60 * time.Second, HealthCheckTimeout: 120 * time.Second, StopTimeout: 10 * time.Second},
		File: "apps.d/web.yaml",
	}
	if !reflect.DeepEqual(app, want) {
		t.Errorf("got  %+v\nwant %+v", app, want)
	}
}
