package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// goWords are what a message in the API's own words never holds: a Go
// type or struct field, encoding/json's prefix, a package-qualified name.
var goWords = regexp.MustCompile(`Go (struct|value)|struct field|json: |\b(deploy|api|actors|main|http|time)\.[A-Z]|\*[a-z]+\.[A-Z]|\bunmarshal\b`)

// checkErrorShape fails unless rec is an error answer with the documented
// shape: a status of 400 or more, application/json, exactly
// {"error": {"code", "message"[, "details"]}}, a message in the API's own
// words.
func checkErrorShape(t *testing.T, what string, rec *httptest.ResponseRecorder) ErrorDetail {
	t.Helper()
	if rec.Code < 400 {
		t.Fatalf("%s: status %d, want an error", what, rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q; body %q", what, ct, rec.Body)
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var eb ErrorBody
	if err := dec.Decode(&eb); err != nil || dec.More() {
		t.Fatalf("%s: body %q is not the error shape: %v", what, rec.Body, err)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("%s: %+v lacks a code or a message", what, eb)
	}
	if codeFor(rec.Code) != eb.Error.Code && rec.Code != 400 && rec.Code != 503 {
		t.Fatalf("%s: status %d with code %q, want %q", what, rec.Code, eb.Error.Code, codeFor(rec.Code))
	}
	if goWords.MatchString(eb.Error.Message) {
		t.Fatalf("%s: message names Go internals: %q", what, eb.Error.Message)
	}
	return eb.Error
}

// TestServer_ErrorShape walks every route with every other method, unknown
// routes, and bodies that are not JSON or hold fields of the wrong type:
// every answer is the JSON error of docs/api.md, "Errors".
func TestServer_ErrorShape(t *testing.T) {
	srv := NewServer(newFakeBackend(), nil).(*server)
	if len(srv.patterns) < 18 {
		t.Fatalf("only %d routes known", len(srv.patterns))
	}
	do := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		return rec
	}
	methodsOf := map[string][]string{} // path → its methods
	for _, p := range srv.patterns {
		method, path, _ := strings.Cut(p, " ")
		path = strings.NewReplacer("{name}", "web", "{id}", "1", "{$}", "").Replace(path)
		methodsOf[path] = append(methodsOf[path], method)
	}

	t.Run("wrong methods", func(t *testing.T) {
		for path, methods := range methodsOf {
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
				if slices.Contains(methods, m) {
					continue
				}
				rec := do(jsonRequest(m, path, ""))
				what := m + " " + path
				if rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("%s: status %d, want 405", what, rec.Code)
				}
				e := checkErrorShape(t, what, rec)
				allow := rec.Header().Get("Allow")
				for _, want := range methods {
					if !strings.Contains(allow, want) || !strings.Contains(e.Message, want) {
						t.Fatalf("%s: Allow %q, message %q: want %s named", what, allow, e.Message, want)
					}
				}
			}
		}
	})
	t.Run("unknown routes", func(t *testing.T) {
		for _, target := range []string{"/api", "/api/", "/api/nope", "/api/apps/", "/api/apps/web", "/api/apps/web/nope",
			"/api/apps/web/deploy/more", "/api/deployments/", "/api/events/stream/x", "/nope", "/metrics/x"} {
			for _, m := range []string{"GET", "POST", "DELETE"} {
				rec := do(jsonRequest(m, target, ""))
				if rec.Code != http.StatusNotFound {
					t.Fatalf("%s %s: status %d, want 404", m, target, rec.Code)
				}
				checkErrorShape(t, m+" "+target, rec)
			}
		}
	})
	t.Run("bodies", func(t *testing.T) {
		for _, tc := range []struct{ target, body, want string }{
			{"/api/apps/web/deploy", `{"desired_image": 5}`, "desired_image: want a string, got a number"},
			{"/api/apps/web/deploy", `{"desired_image": ["web:v2"]}`, "desired_image: want a string, got an array"},
			{"/api/apps/web/deploy", `{"trigger_source": true}`, "trigger_source: want a string, got true or false"},
			{"/api/apps/web/deploy", `{"desired_image": {"x": 1}}`, "desired_image: want a string, got an object"},
			{"/api/apps/web/deploy", `[]`, "want an object, got an array"},
			{"/api/apps/web/deploy", `"web:v2"`, "want an object, got a string"},
			{"/api/apps/web/deploy", `{"desired_image":`, "not valid JSON: it ends early"},
			{"/api/apps/web/deploy", `{"desired_image" "x"}`, "not valid JSON at byte"},
			{"/api/apps/web/deploy", `{"image": "web:v2"}`, `unknown field "image" (known: desired_image, trigger_source`},
			{"/api/apps/web/deploy", `{} {}`, "more than one value"},
			{"/api/apps/web/deploy", "\xff", "not valid JSON"},
			{"/api/apps/web/deploy", `{"trigger_source": "cron"}`, `trigger_source "cron"`},
			{"/api/apps/web/switch", `{"color": 1}`, "color: want a string, got a number"},
			{"/api/apps/web/switch", `{"color": "red"}`, `color "red" is not blue or green`},
			{"/api/apps/web/switch", `{"colour": "blue"}`, `unknown field "colour" (known: color)`},
			{"/api/apps/web/switch", `null`, `color "" is not blue or green`},
		} {
			rec := do(jsonRequest("POST", tc.target, tc.body))
			what := "POST " + tc.target + " " + tc.body
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400; %s", what, rec.Code, rec.Body)
			}
			if e := checkErrorShape(t, what, rec); !strings.Contains(e.Message, tc.want) {
				t.Fatalf("%s: message %q, want it to say %q", what, e.Message, tc.want)
			}
		}
	})
	t.Run("queries and the stream", func(t *testing.T) {
		for _, target := range []string{"/api/apps/web/history?limit=x", "/api/apps/web/history?offset=-1",
			"/api/apps/web/health?limit=0", "/api/apps/web/logs?tail=x", "/api/apps/web/logs?follow=maybe",
			"/api/events?after_id=-5", "/api/events?limit=100000", "/api/deployments/0", "/api/deployments/1x",
			"/api/events/stream", "/api/apps/nope/status", "/api/apps/nope/images"} {
			checkErrorShape(t, "GET "+target, do(jsonRequest("GET", target, "")))
		}
		r := jsonRequest("GET", "/api/events/stream", "")
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "8")
		checkErrorShape(t, "a WebSocket handshake of another version", do(r))
	})
}
