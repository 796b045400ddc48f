package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/internal/http1"
)

// maintenanceAnswerTo writes m's answer to the raw request req and reads
// it back as a client would.
func maintenanceAnswerTo(t *testing.T, m MaintenancePage, req, conn string) (*http.Response, string) {
	t.Helper()
	var rq http1.Head
	if err := rq.ReadHead(bufio.NewReader(strings.NewReader(req))); err != nil {
		t.Fatal(err)
	}
	if err := rq.ParseRequest(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	renderMaintenance(m).write(w, &rq, conn)
	w.Flush()
	resp, err := http.ReadResponse(bufio.NewReader(&out), &http.Request{Method: string(rq.Method())})
	if err != nil {
		t.Fatalf("the answer does not parse: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() > 0 {
		t.Fatalf("bytes beyond the answer: %q", out.Bytes())
	}
	return resp, string(body)
}

func TestMaintenanceAnswer(t *testing.T) {
	m := MaintenancePage{Message: `Back at 5 <b>"soon"</b> & more`, RetryAfter: 90*time.Second + time.Millisecond}
	get := func(accept string) string {
		if accept == "" {
			return "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		}
		return "GET / HTTP/1.1\r\nHost: x\r\nAccept: " + accept + "\r\n\r\n"
	}
	for accept, html := range map[string]bool{
		"":                                       false,
		"application/json":                       false,
		"*/*":                                    false,
		"text/*":                                 false,
		"text/html":                              true,
		"TEXT/HTML; charset=utf-8":               true,
		"application/xhtml+xml, text/html;q=0.9": true,
		"text/html;q=0":                          false,
		"text/html; q=0.000, */*":                false,
		"text/htmlx":                             false,
	} {
		resp, body := maintenanceAnswerTo(t, m, get(accept), "")
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "91" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Accept %q: %d %v", accept, resp.StatusCode, resp.Header)
		}
		if html {
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(body, "<p>Back at 5 &lt;b&gt;&#34;soon&#34;&lt;/b&gt; &amp; more</p>") {
				t.Errorf("Accept %q: %s %q", accept, resp.Header.Get("Content-Type"), body)
			}
			continue
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &e) != nil ||
			e.Error.Code != "maintenance" || e.Error.Message != m.Message {
			t.Errorf("Accept %q: %s %q", accept, resp.Header.Get("Content-Type"), body)
		}
	}
	t.Run("a page of its own", func(t *testing.T) {
		page := MaintenancePage{Message: "<x>", RetryAfter: time.Minute, Page: []byte("<h1>{{message}}</h1>{{message}}{{ message }}")}
		resp, body := maintenanceAnswerTo(t, page, get("text/html"), "close")
		if body != "<h1>&lt;x&gt;</h1>&lt;x&gt;{{ message }}" || resp.Header.Get("Retry-After") != "60" || !resp.Close {
			t.Errorf("%q %v", body, resp.Header)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, body := maintenanceAnswerTo(t, m, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "keep-alive")
		if body != "" || resp.ContentLength <= 0 {
			t.Errorf("%q, Content-Length %d", body, resp.ContentLength)
		}
	})
}
