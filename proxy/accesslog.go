package proxy

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// The access log (docs/traffic.md, "Access log"): one record per finished
// request, in the shape of serve's other lines (log/slog's text or JSON
// format), written to the Sink of Options.AccessLogSink. A record is
// encoded into a buffer the request's scratch keeps, without allocating,
// after the answer went out (so that the client never waits for it), and
// handed to the sink in one Write that must not block.

// accessRecord is what a record says of one request. Its byte slices point
// into the request's head and are valid until the head is released.
type accessRecord struct {
	app, color, proto   string
	method, path, query []byte
	host, userAgent     []byte
	requestID           []byte
	clientIP            string
	status              int
	duration            time.Duration
	upstream            time.Duration // < 0: the request was not sent
	bytesIn, bytesOut   int64
}

// maxRecordBuf is the largest record buffer a scratch keeps; a larger one
// (a record of a huge head) is dropped after use.
const maxRecordBuf = 16 << 10

// recordEncoder encodes records; it caches the formatted time of the
// current second.
type recordEncoder struct {
	buf    []byte
	sec    int64  // the Unix second of prefix
	prefix []byte // "2006-01-02T15:04:05" of sec, in the local zone
	zone   []byte // "Z" or "+01:00"
}

// encode returns r encoded in format, ending in a newline, at now. The
// slice is valid until the next encode.
func (e *recordEncoder) encode(format LogFormat, now time.Time, r *accessRecord) []byte {
	b := e.buf[:0]
	if format == LogJSON {
		b = e.appendJSON(b, now, r)
	} else {
		b = e.appendText(b, now, r)
	}
	if cap(b) <= maxRecordBuf {
		e.buf = b
	} else {
		e.buf = nil
	}
	return b
}

// appendTime appends now as RFC 3339 with digits fraction digits (9: as
// time.RFC3339Nano, trailing zeros trimmed; 3: milliseconds, as slog's
// text handler).
func (e *recordEncoder) appendTime(b []byte, now time.Time, digits int) []byte {
	if sec := now.Unix(); sec != e.sec || e.prefix == nil {
		e.sec = sec
		e.prefix = now.AppendFormat(e.prefix[:0], "2006-01-02T15:04:05")
		e.zone = now.AppendFormat(e.zone[:0], "Z07:00")
	}
	b = append(b, e.prefix...)
	ns := now.Nanosecond()
	if digits == 3 {
		b = append(b, '.', byte('0'+ns/1e8), byte('0'+ns/1e7%10), byte('0'+ns/1e6%10))
	} else if ns > 0 {
		var frac [10]byte
		frac[0] = '.'
		for i, d := 9, ns; i > 0; i, d = i-1, d/10 {
			frac[i] = byte('0' + d%10)
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, e.zone...)
}

// appendMillis appends d in milliseconds with three decimals.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	b = strconv.AppendInt(b, us/1000, 10)
	f := us % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

func (e *recordEncoder) appendText(b []byte, now time.Time, r *accessRecord) []byte {
	b = append(b, "time="...)
	b = e.appendTime(b, now, 3)
	b = append(b, " level=INFO msg=request app="...)
	b = appendTextValue(b, r.app)
	b = append(b, " color="...)
	b = appendTextValue(b, r.color)
	b = append(b, " method="...)
	b = appendTextValue(b, bstr(r.method))
	b = append(b, " path="...)
	b = appendTextValue(b, bstr(r.path))
	b = append(b, " query="...)
	b = appendTextValue(b, bstr(r.query))
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, " duration_ms="...)
	b = appendMillis(b, r.duration)
	if r.upstream >= 0 {
		b = append(b, " upstream_ms="...)
		b = appendMillis(b, r.upstream)
	}
	b = append(b, " bytes_in="...)
	b = strconv.AppendInt(b, r.bytesIn, 10)
	b = append(b, " bytes_out="...)
	b = strconv.AppendInt(b, r.bytesOut, 10)
	b = append(b, " client_ip="...)
	b = appendTextValue(b, r.clientIP)
	b = append(b, " request_id="...)
	b = appendTextValue(b, bstr(r.requestID))
	b = append(b, " host="...)
	b = appendTextValue(b, bstr(r.host))
	b = append(b, " user_agent="...)
	b = appendTextValue(b, bstr(r.userAgent))
	b = append(b, " proto="...)
	b = appendTextValue(b, r.proto)
	return append(b, '\n')
}

func (e *recordEncoder) appendJSON(b []byte, now time.Time, r *accessRecord) []byte {
	b = append(b, `{"time":"`...)
	b = e.appendTime(b, now, 9)
	b = append(b, `","level":"INFO","msg":"request","app":`...)
	b = appendJSONString(b, r.app)
	b = append(b, `,"color":`...)
	b = appendJSONString(b, r.color)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, bstr(r.method))
	b = append(b, `,"path":`...)
	b = appendJSONString(b, bstr(r.path))
	b = append(b, `,"query":`...)
	b = appendJSONString(b, bstr(r.query))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, r.duration)
	if r.upstream >= 0 {
		b = append(b, `,"upstream_ms":`...)
		b = appendMillis(b, r.upstream)
	}
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.bytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, r.bytesOut, 10)
	b = append(b, `,"client_ip":`...)
	b = appendJSONString(b, r.clientIP)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, bstr(r.requestID))
	b = append(b, `,"host":`...)
	b = appendJSONString(b, bstr(r.host))
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, bstr(r.userAgent))
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.proto)
	return append(b, "}\n"...)
}

// bstr views b as a string, without a copy; the string must not outlive
// b's contents.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendTextValue appends s as log/slog's text handler writes a string
// value: as it is, or Go-quoted when it is empty or holds a space, '=', a
// quote, a control byte, a non-printing rune or invalid UTF-8.
func appendTextValue(b []byte, s string) []byte {
	if needsQuoting(s) {
		return appendQuoted(b, s)
	}
	return append(b, s...)
}

// appendQuoted appends s as strconv.Quote writes it, copying runs of
// printable ASCII at once.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		if c == '"' || c == '\\' {
			b = append(b, '\\', c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			var q [16]byte
			e := strconv.AppendQuoteRune(q[:0], r) // 'r', escaped as Quote escapes it
			b = append(b, e[1:len(e)-1]...)
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bareText are the ASCII bytes a text value may hold unquoted: those
// JSON takes as they are (and '\\'), but not space and '='.
var bareText = func() (t [utf8.RuneSelf]bool) {
	for c := range byte(utf8.RuneSelf) {
		t[c] = c == '\\' || c != ' ' && c != '=' && jsonSafe(c)
	}
	return t
}()

// needsQuoting is log/slog's rule for text values, and DEL is quoted too.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !bareText[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// jsonSafe reports whether an ASCII byte goes into a JSON string as it is.
func jsonSafe(c byte) bool { return c >= ' ' && c != '"' && c != '\\' && c != 0x7f }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string as log/slog's JSON handler
// writes it: quotes, backslashes and control bytes escaped, invalid UTF-8
// as U+FFFD, U+2028 and U+2029 escaped; DEL is escaped too.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
