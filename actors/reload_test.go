package actors

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

func TestSystem_Reload(t *testing.T) {
	buildImages(t)
	a := newTestApp(t, imgV1)
	h := newHarness(t, a)
	h.waitStable(a.name, imgV1, 60*time.Second)

	// Added.
	b := newTestApp(t, imgV2)
	b.name += "b"
	testimage.Cleanup(t, b.name)
	h.writeApp(b)
	res, err := h.sys.Reload(context.Background())
	if err != nil || !slices.Equal(res.Added, []string{b.name}) || !slices.Equal(res.Unchanged, []string{a.name}) {
		t.Fatalf("reload after adding: %+v, %v", res, err)
	}
	h.waitStable(b.name, imgV2, 60*time.Second)

	// Invalid: every error reported, the running config stays.
	bad := filepath.Join(h.dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nimage: x:1\nports: {proxy: 1}\nwhat: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = h.sys.Reload(context.Background())
	var de *deploy.Error
	if !errors.As(err, &de) || de.Code != deploy.EINVALIDCONFIG || len(de.Details) < 2 || !strings.Contains(strings.Join(de.Details, "\n"), "bad.yaml:4:1") {
		t.Fatalf("reload with a bad file: %v %+v", err, de)
	}
	if got, err := body(http.DefaultClient, b.url("/")); err != nil || got != "v2" {
		t.Fatalf("after a failed reload %s answered %q, %v", b.name, got, err)
	}
	os.Remove(bad)

	// Changed and removed.
	a.interval = "300ms"
	h.writeApp(a)
	os.Remove(filepath.Join(h.dir, b.name+".yaml"))
	res, err = h.sys.Reload(context.Background())
	if err != nil || !slices.Equal(res.Changed, []string{a.name}) || !slices.Equal(res.Removed, []string{b.name}) {
		t.Fatalf("reload after change and removal: %+v, %v", res, err)
	}
	// Added back at once, while its old actor may still be stopping: it comes
	// back and adopts its containers, which outlived the removal.
	h.writeApp(b)
	if res, err := h.sys.Reload(context.Background()); err != nil || !slices.Equal(res.Added, []string{b.name}) {
		t.Fatalf("reload re-adding %s: %+v, %v", b.name, res, err)
	}
	h.waitStable(b.name, imgV2, 30*time.Second)
	if got, err := body(http.DefaultClient, b.url("/")); err != nil || got != "v2" {
		t.Fatalf("re-added %s answered %q, %v", b.name, got, err)
	}
	os.Remove(filepath.Join(h.dir, b.name+".yaml"))
	if _, err := h.sys.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool {
		_, err := body(http.DefaultClient, b.url("/"))
		return err != nil && strings.Contains(err.Error(), "refused")
	}, func() string { return "the removed app's proxy still listens" })
	if _, err := h.sys.App(context.Background(), b.name); err == nil {
		t.Fatal("the removed app still has a status")
	}
	if got, err := body(http.DefaultClient, a.url("/")); err != nil || got != "v1" {
		t.Fatalf("%s answered %q, %v after the reload", a.name, got, err)
	}
}
