package actors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/config"
	"github.com/bluegreen/bluegreen/deploy"
)

func TestSupervisor_Reload(t *testing.T) {
	a, b := unitApp(t, "web:v1"), unitApp(t, "web:v2")
	u := newUnit(t, a)
	u.stable(a.Name, "web:v1")
	ctx := context.Background()

	u.configs(nil, a, b)
	res, err := u.sys.Reload(ctx)
	if err != nil || !slices.Equal(res.Added, []string{b.Name}) || !slices.Equal(res.Unchanged, []string{a.Name}) {
		t.Fatalf("reload adding %s: %+v, %v", b.Name, res, err)
	}
	u.stable(b.Name, "web:v2")

	bad := config.Errors{{File: "bad.yaml", Line: 4, Col: 1, Field: "what", Msg: "unknown key"}, {File: "bad.yaml", Msg: "no ports"}}
	u.configs(bad, a, b)
	_, err = u.sys.Reload(ctx)
	var de *deploy.Error
	if !errors.As(err, &de) || de.Code != deploy.EINVALIDCONFIG || len(de.Details) != 2 || !strings.HasPrefix(de.Details[0], "bad.yaml:4:1: what:") {
		t.Fatalf("reload of invalid configs: %v %+v", err, de)
	}

	changed := *a
	changed.HealthCheck.Interval = 10 * time.Millisecond
	u.configs(nil, &changed)
	res, err = u.sys.Reload(ctx)
	if err != nil || !slices.Equal(res.Changed, []string{a.Name}) || !slices.Equal(res.Removed, []string{b.Name}) {
		t.Fatalf("reload changing %s and removing %s: %+v, %v", a.Name, b.Name, res, err)
	}
	u.until("the removed app gone", func() bool {
		_, err := u.sys.App(ctx, b.Name)
		return deploy.ErrorCode(err) == deploy.ENOTFOUND && strings.HasPrefix(u.serves(b), "Get ")
	})
	// Added back at once: it adopts the containers that outlived its removal.
	u.configs(nil, &changed, b)
	if res, err := u.sys.Reload(ctx); err != nil || !slices.Equal(res.Added, []string{b.Name}) {
		t.Fatalf("reload adding %s back: %+v, %v", b.Name, res, err)
	}
	u.stable(b.Name, "web:v2")
	if hist, _ := u.sys.History(ctx, b.Name, 10, 0); len(hist) != 1 {
		t.Fatalf("re-added app deployed again: %+v", hist)
	}
	if names, _ := u.sys.names(); !slices.Equal(names, []string{a.Name, b.Name}) {
		t.Fatalf("apps %v", names)
	}
}

func TestSupervisor_RespawnsAFailedApp(t *testing.T) {
	a, b := unitApp(t, "web:v1"), unitApp(t, "web:v2")
	u := newUnit(t, a, b)
	u.stable(a.Name, "web:v1")
	u.stable(b.Name, "web:v2")
	pid := u.sys.eng.Registry.GetPID("supervisor/root/app", a.Name)
	// What the recover middleware sends when the app actor panics.
	u.sys.eng.Send(u.sys.root, childFailed{PID: pid, Name: a.Name, Reason: "test panic"})
	u.until("a new app actor", func() bool {
		np := u.sys.eng.Registry.GetPID("supervisor/root/app", a.Name)
		return np != nil && np != pid
	})
	u.stable(a.Name, "web:v1")
	if got := u.serves(b); got != "web:v2" {
		t.Fatalf("the other app answered %q", got)
	}
	if evs := u.events(a.Name); !slices.Contains(evs, deploy.EventActorFailed) {
		t.Fatalf("events %v", evs)
	}
}
