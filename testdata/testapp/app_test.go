package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func newTestServer(t *testing.T, mode string) (*app, *httptest.Server) {
	t.Helper()
	var logs bytes.Buffer
	a := newApp("v7", mode, log.New(&logs, "", 0))
	srv := httptest.NewServer(a.routes())
	t.Cleanup(func() {
		a.close()
		srv.Close()
	})
	return a, srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp, string(body)
}

func TestApp_Root(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	for _, path := range []string{"/", "/any/other?x=1"} {
		t.Run(path, func(t *testing.T) {
			resp, body := get(t, srv.URL+path)
			if resp.StatusCode != http.StatusOK || body != "v7\n" {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, "v7\n")
			}
			if got := resp.Header.Get("X-App-Version"); got != "v7" {
				t.Fatalf("X-App-Version = %q, want v7", got)
			}
		})
	}
}

func TestApp_Health(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		_, srv := newTestServer(t, healthOK)
		if resp, _ := get(t, srv.URL+"/health"); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
	})
	t.Run("fail", func(t *testing.T) {
		_, srv := newTestServer(t, healthFail)
		if resp, _ := get(t, srv.URL+"/health"); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
	})
	t.Run("hang", func(t *testing.T) {
		_, srv := newTestServer(t, healthHang)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got status %d, want no answer", resp.StatusCode)
		}
	})
	t.Run("switch at run time", func(t *testing.T) {
		_, srv := newTestServer(t, healthOK)
		for _, tc := range []struct {
			mode string
			want int
		}{{healthFail, 500}, {healthOK, 200}} {
			resp, err := http.Post(srv.URL+"/admin/health?mode="+tc.mode, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("set mode %s: status %d", tc.mode, resp.StatusCode)
			}
			if resp, _ := get(t, srv.URL+"/health"); resp.StatusCode != tc.want {
				t.Fatalf("mode %s: health status %d, want %d", tc.mode, resp.StatusCode, tc.want)
			}
		}
		resp, err := http.Post(srv.URL+"/admin/health?mode=bogus", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("bogus mode: status %d, want 400", resp.StatusCode)
		}
	})
}

func TestApp_Slow(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	t.Run("sleeps", func(t *testing.T) {
		start := time.Now()
		resp, body := get(t, srv.URL+"/slow?d=150ms")
		if resp.StatusCode != http.StatusOK || body != "v7\n" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Fatalf("answered after %s, want at least 150ms", el)
		}
	})
	t.Run("bad duration", func(t *testing.T) {
		if resp, _ := get(t, srv.URL+"/slow?d=soon"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
}

func TestApp_Headers(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/headers?a=b", nil)
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Host = "example.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got headersReply
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "GET" || got.Host != "example.test" || got.URL != "/headers?a=b" || got.RemoteAddr == "" {
		t.Fatalf("got %+v", got)
	}
	if m := got.Headers["X-Multi"]; len(m) != 2 || m[0] != "one" || m[1] != "two" {
		t.Fatalf("X-Multi = %q, want [one two]", m)
	}
}

func TestApp_SSE(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	resp, err := http.Get(srv.URL + "/sse?n=3&interval=10ms")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	var data []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	if want := []string{"v7 0", "v7 1", "v7 2"}; strings.Join(data, ",") != strings.Join(want, ",") {
		t.Fatalf("events %q, want %q", data, want)
	}
}

func TestApp_Upload(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	body := bytes.Repeat([]byte("abc"), 100000)
	resp, err := http.Post(srv.URL+"/upload", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got uploadReply
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if got.Bytes != int64(len(body)) || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %+v, want %d bytes, sha256 %x", got, len(body), sum)
	}
}

func TestApp_Download(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	t.Run("pattern", func(t *testing.T) {
		const n = 100000
		resp, body := get(t, srv.URL+"/download?bytes=100000")
		if resp.StatusCode != http.StatusOK || len(body) != n {
			t.Fatalf("got %d with %d bytes, want 200 with %d", resp.StatusCode, len(body), n)
		}
		for i := range n {
			if body[i] != byte(i%251) {
				t.Fatalf("byte %d = %d, want %d", i, body[i], i%251)
			}
		}
	})
	t.Run("bad size", func(t *testing.T) {
		if resp, _ := get(t, srv.URL+"/download?bytes=-1"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
}

func TestApp_Echo(t *testing.T) {
	_, srv := newTestServer(t, healthOK)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, tc := range []struct {
		typ websocket.MessageType
		msg []byte
	}{
		{websocket.MessageText, []byte("hello")},
		{websocket.MessageBinary, []byte{0, 1, 2, 255}},
	} {
		if err := c.Write(ctx, tc.typ, tc.msg); err != nil {
			t.Fatal(err)
		}
		typ, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != tc.typ || !bytes.Equal(msg, tc.msg) {
			t.Fatalf("echo %v %q, want %v %q", typ, msg, tc.typ, tc.msg)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

func TestApp_FailRate(t *testing.T) {
	for _, rate := range []uint64{0, 30, 100} {
		a, srv := newTestServer(t, healthOK)
		a.failRate = rate
		var failed uint64
		for range 200 {
			resp, body := get(t, srv.URL+"/")
			switch {
			case resp.StatusCode == http.StatusInternalServerError:
				failed++
			case resp.StatusCode != http.StatusOK || body != "v7\n":
				t.Fatalf("rate %d: got %d %q", rate, resp.StatusCode, body)
			}
			if resp, _ := get(t, srv.URL+"/health"); resp.StatusCode != http.StatusOK {
				t.Fatalf("rate %d: /health answered %d", rate, resp.StatusCode)
			}
		}
		if want := 2 * rate; failed != want {
			t.Errorf("rate %d%%: %d of 200 failed, want %d", rate, failed, want)
		}
	}
}

func TestEnvPercent(t *testing.T) {
	for v, want := range map[string]uint64{"": 0, "0": 0, "30": 30, "100": 100} {
		t.Setenv("FAIL_RATE", v)
		if got, err := envPercent("FAIL_RATE"); err != nil || got != want {
			t.Errorf("%q: %d %v", v, got, err)
		}
	}
	for _, v := range []string{"101", "-1", "30%", "x"} {
		t.Setenv("FAIL_RATE", v)
		if _, err := envPercent("FAIL_RATE"); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}
