package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"html"
	"strconv"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// The maintenance answer (docs/traffic.md, "Maintenance"): 503 with
// Retry-After, an HTML page to a request whose Accept names text/html and
// JSON to any other. Both are rendered once, when the maintenance begins;
// a request only picks one and writes it.

// builtinPage is the maintenance page when proxy.maintenance_page is not
// set; {{message}} is replaced by the message, HTML-escaped.
const builtinPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Down for maintenance</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222;line-height:1.5}h1{font-size:1.6rem}</style>
</head>
<body>
<h1>Down for maintenance</h1>
<p>{{message}}</p>
</body>
</html>
`

// messagePlaceholder is replaced by the message in a maintenance page.
const messagePlaceholder = "{{message}}"

// maintenanceAnswer is a maintenance's two answers: each a head without
// its Connection field and final CRLF, and a body.
type maintenanceAnswer struct {
	htmlHead, htmlBody []byte
	jsonHead, jsonBody []byte
}

// renderMaintenance renders m's answers.
func renderMaintenance(m MaintenancePage) *maintenanceAnswer {
	page := m.Page
	if page == nil {
		page = []byte(builtinPage)
	}
	htmlBody := bytes.ReplaceAll(page, []byte(messagePlaceholder), []byte(html.EscapeString(m.Message)))
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e.Error.Code, e.Error.Message = "maintenance", m.Message
	jsonBody, _ := json.Marshal(e) // a struct of strings always encodes
	jsonBody = append(jsonBody, '\n')
	retry := strconv.FormatInt(int64((m.RetryAfter+time.Second-1)/time.Second), 10)
	head := func(ctype string, n int) []byte {
		return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + ctype +
			"\r\nRetry-After: " + retry + "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: " +
			strconv.Itoa(n) + "\r\n")
	}
	return &maintenanceAnswer{
		htmlHead: head("text/html; charset=utf-8", len(htmlBody)), htmlBody: htmlBody,
		jsonHead: head("application/json", len(jsonBody)), jsonBody: jsonBody,
	}
}

// write writes the answer to a request with head rq: the page when rq
// accepts HTML, else the JSON; the body not to a HEAD request. conn is the
// Connection field's value ("": none).
func (a *maintenanceAnswer) write(w *bufio.Writer, rq *http1.Head, conn string) {
	head, body := a.jsonHead, a.jsonBody
	if acceptsHTML(rq) {
		head, body = a.htmlHead, a.htmlBody
	}
	w.Write(head)
	if conn != "" {
		w.WriteString("Connection: ")
		w.WriteString(conn)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	if !rq.IsHEAD() {
		w.Write(body)
	}
}

// acceptsHTML reports whether a request's Accept fields name text/html
// (with a quality above 0).
func acceptsHTML(rq *http1.Head) bool {
	for i := range rq.NumFields() {
		f := rq.Field(i)
		if !http1.EqualFold(rq.Name(f), "Accept") {
			continue
		}
		for r := range http1.Tokens(rq.Value(f)) {
			typ, params, _ := bytes.Cut(r, []byte(";"))
			if http1.EqualFold(bytes.TrimSpace(typ), "text/html") && !zeroQuality(params) {
				return true
			}
		}
	}
	return false
}

// zeroQuality reports whether media range parameters say q=0.
func zeroQuality(params []byte) bool {
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte(";"))
		k, v, ok := bytes.Cut(bytes.TrimSpace(p), []byte("="))
		if !ok || !http1.EqualFold(bytes.TrimSpace(k), "q") {
			continue
		}
		v = bytes.TrimSpace(v)
		return len(v) > 0 && v[0] == '0' && len(bytes.Trim(v[1:], ".0")) == 0
	}
	return false
}
