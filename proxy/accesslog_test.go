package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostileRecord is a record whose every string field carries what a
// client could put there: quotes, '=', spaces, tabs, control bytes,
// invalid UTF-8, line separators, a fake second record.
func hostileRecord(s string) *accessRecord {
	return &accessRecord{
		app: "web", color: ColorBlue, proto: "HTTP/1.1",
		method: []byte("GET"), path: []byte("/" + s), query: []byte(s),
		host: []byte(s), userAgent: []byte(s),
		clientIP: "203.0.113.9", requestID: []byte("0123456789abcdef0123456789abcdef"),
		status: 200, duration: 1234567 * time.Nanosecond, upstream: 987 * time.Microsecond,
		bytesIn: 123, bytesOut: 4567,
	}
}

var hostileStrings = []string{
	"",
	"plain",
	`a "quoted" value`,
	"key=value other=x",
	"tab\tand space",
	"new\nline msg=request level=ERROR",
	"carriage\rreturn",
	"nul\x00byte\x01\x1f",
	"del\x7f",
	"invalid \xff\xfe utf-8 \xc3",
	"line\u2028separators\u2029",
	"back\\slash\\",
	"}{\"time\":\"x\",\"msg\":\"forged\"}",
	"caf\u00e9 \u65e5\u672c \U0001F600",
	"\u00a0nbsp\u200bzero-width\ufeffbom",
}

// slogLine is what log/slog's own handler writes for r at now: the shape
// the access log must have.
func slogLine(t *testing.T, format LogFormat, now time.Time, r *accessRecord) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if format == LogJSON {
		h = slog.NewJSONHandler(&buf, nil)
	}
	rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	ms := func(d time.Duration) json.Number { return json.Number(string(appendMillis(nil, d))) }
	rec.AddAttrs(slog.String("app", r.app), slog.String("color", r.color), slog.String("method", string(r.method)),
		slog.String("path", string(r.path)), slog.String("query", string(r.query)), slog.Int("status", r.status),
		slog.Any("duration_ms", ms(r.duration)))
	if r.upstream >= 0 {
		rec.AddAttrs(slog.Any("upstream_ms", ms(r.upstream)))
	}
	rec.AddAttrs(slog.Int64("bytes_in", r.bytesIn), slog.Int64("bytes_out", r.bytesOut),
		slog.String("client_ip", r.clientIP), slog.String("request_id", string(r.requestID)),
		slog.String("host", string(r.host)), slog.String("user_agent", string(r.userAgent)), slog.String("proto", r.proto))
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestRecordEncoder_likeSlog(t *testing.T) {
	var e recordEncoder
	now := time.Date(2026, 12, 7, 22, 57, 48, 123456789, time.Local)
	for _, s := range hostileStrings {
		for _, format := range []LogFormat{LogText, LogJSON} {
			r := hostileRecord(s)
			got := string(e.encode(format, now, r))
			want := slogLine(t, format, now, r)
			if strings.ContainsRune(s, 0x7f) {
				// slog leaves DEL as it is; the access log escapes it.
				want = strings.ReplaceAll(want, "\x7f", map[LogFormat]string{LogText: `\x7f`, LogJSON: `\u007f`}[format])
				if format == LogText {
					want = strings.ReplaceAll(want, "query=del"+`\x7f`, `query="del\x7f"`)
					want = strings.ReplaceAll(want, "path=/del"+`\x7f`, `path="/del\x7f"`)
					want = strings.ReplaceAll(want, "host=del"+`\x7f`, `host="del\x7f"`)
					want = strings.ReplaceAll(want, "user_agent=del"+`\x7f`, `user_agent="del\x7f"`)
				}
			}
			if got != want {
				t.Errorf("format %d, %q:\n got %s\nwant %s", format, s, got, want)
			}
			checkRecord(t, format, []byte(got), r)
		}
	}
	t.Run("not sent: no upstream_ms", func(t *testing.T) {
		r := hostileRecord("x")
		r.upstream = -1
		for _, format := range []LogFormat{LogText, LogJSON} {
			if got := string(e.encode(format, now, r)); strings.Contains(got, "upstream_ms") {
				t.Errorf("%s", got)
			}
		}
	})
	t.Run("times", func(t *testing.T) {
		for _, ns := range []int{0, 1, 100000000, 999999999} {
			at := time.Date(2026, 1, 2, 3, 4, 5, ns, time.UTC)
			for _, format := range []LogFormat{LogText, LogJSON} {
				r := hostileRecord("x")
				if got, want := string(e.encode(format, at, r)), slogLine(t, format, at, r); got != want {
					t.Errorf("%v:\n got %s\nwant %s", at, got, want)
				}
			}
		}
	})
}

func TestRecordEncoder_allocs(t *testing.T) {
	var e recordEncoder
	r := hostileRecord(`a "quoted" value with \xff`)
	now := time.Now()
	for _, format := range []LogFormat{LogText, LogJSON} {
		e.encode(format, now, r)
		if n := testing.AllocsPerRun(100, func() { e.encode(format, now, r) }); n != 0 {
			t.Errorf("format %d: %v allocations per record", format, n)
		}
	}
}

// checkRecord parses a record (JSON with encoding/json, text with
// parseLogfmt) and checks that every field says what r holds.
func checkRecord(t *testing.T, format LogFormat, line []byte, r *accessRecord) {
	t.Helper()
	if bytes.IndexByte(line, '\n') != len(line)-1 {
		t.Fatalf("not one line: %q", line)
	}
	want := map[string]string{
		"level": "INFO", "msg": "request", "app": r.app, "color": r.color, "method": string(r.method),
		"path": string(r.path), "query": string(r.query), "status": strconv.Itoa(r.status),
		"bytes_in": strconv.FormatInt(r.bytesIn, 10), "bytes_out": strconv.FormatInt(r.bytesOut, 10),
		"client_ip": r.clientIP, "request_id": string(r.requestID), "host": string(r.host),
		"user_agent": string(r.userAgent), "proto": r.proto, "duration_ms": string(appendMillis(nil, r.duration)),
	}
	if r.upstream >= 0 {
		want["upstream_ms"] = string(appendMillis(nil, r.upstream))
	}
	var got map[string]string
	if format == LogJSON {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("JSON record does not parse: %v: %q", err, line)
		}
		got = map[string]string{}
		for k, v := range m {
			got[k] = fmt.Sprint(v)
		}
		for k, v := range want {
			want[k] = string([]rune(v)) // each invalid byte is U+FFFD in JSON
		}
	} else {
		var err error
		if got, err = parseLogfmt(string(line[:len(line)-1])); err != nil {
			t.Fatalf("text record does not parse: %v: %q", err, line)
		}
	}
	if _, ok := got["time"]; !ok {
		t.Errorf("no time: %q", line)
	}
	delete(got, "time")
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (%q)", k, got[k], v, line)
		}
	}
}

// parseLogfmt reads key=value pairs separated by one space; a value is
// either bare (no space, quote or '=') or a Go-quoted string.
func parseLogfmt(s string) (map[string]string, error) {
	m := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 1 {
			return nil, fmt.Errorf("no key at %q", s)
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			if v, err = strconv.Unquote(q); err != nil {
				return nil, err
			}
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			v, s = s[:end], s[end:]
			if v == "" || strings.ContainsAny(v, `"=`) {
				return nil, fmt.Errorf("%s: bare value %q", k, v)
			}
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s twice", k)
		}
		m[k] = v
		if s != "" {
			if s[0] != ' ' {
				return nil, fmt.Errorf("no space after %s", k)
			}
			s = s[1:]
		}
	}
	return m, nil
}

// FuzzRecordEncoder: whatever a client puts in a path, query, host or
// user agent, a record is one line that parses back to the same fields,
// in both formats.
func FuzzRecordEncoder(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, s, s)
	}
	var e recordEncoder
	f.Fuzz(func(t *testing.T, path, host, ua string) {
		r := hostileRecord("")
		r.path, r.query, r.host, r.userAgent = []byte(path), []byte(ua+path), []byte(host), []byte(ua)
		for _, format := range []LogFormat{LogText, LogJSON} {
			checkRecord(t, format, e.encode(format, time.Now(), r), r)
		}
	})
}

// BenchmarkRecordEncoder is the CPU cost of one record of an ordinary
// request.
func BenchmarkRecordEncoder(b *testing.B) {
	r := hostileRecord("")
	r.path, r.query, r.host, r.userAgent = []byte("/api/items/42"), []byte("page=2"), []byte("shop.example"), []byte("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	for _, format := range []LogFormat{LogText, LogJSON} {
		b.Run(map[LogFormat]string{LogText: "text", LogJSON: "json"}[format], func(b *testing.B) {
			var e recordEncoder
			b.ReportAllocs()
			for b.Loop() {
				e.encode(format, time.Now(), r)
			}
		})
	}
}
