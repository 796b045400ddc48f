package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

// TestCrash_Kill9KeepsTheStandby kills serve with SIGKILL while a
// deployment's candidate is under health checks in the color of the
// standby (v1, kept for a switch back after v2 was deployed). The standby
// is then aside; the new process finds it, removes the interrupted
// candidate and puts the standby back; its resumed deployment of the same
// image rolls back, and the standby stays. `ctl switch` to it serves v1,
// from the same container; never more than one container per color runs.
func TestCrash_Kill9KeepsTheStandby(t *testing.T) {
	images(t)
	a := newApp(t, imgV1)
	a.healthTimeout = "6s"
	s := newServe(t, "", a)
	s.start()
	s.stable(a, imgV1, 60*time.Second)
	s.ended(s.deploy(a, imgV2), 60*time.Second)
	s.stable(a, imgV2, 30*time.Second)
	var standby [2]string
	waitFor(t, 20*time.Second, "blue's v1 stopped: the standby", func() (bool, string) {
		standby = containers(t, a.name)[a.name+"-blue"]
		return standby[1] == "exited", fmt.Sprint(standby)
	})

	id := s.deploy(a, imgSick)
	waitFor(t, 30*time.Second, "the candidate under health checks", func() (bool, string) {
		d, err := s.deployment(id)
		return err == nil && d.Status == deploy.StatusHealthChecking, fmt.Sprint(d.Status, err)
	})
	if c := containers(t, a.name)[a.name+"-blue-standby"]; c[0] != standby[0] || c[1] != "exited" {
		t.Fatalf("during the candidate's gate the standby is %v, want %s aside, exited", c, standby[0])
	}
	s.kill9()

	s.start()
	if d := s.ended(id, 30*time.Second); d.Status != deploy.StatusInterrupted {
		t.Fatalf("the killed deployment %+v", d)
	}
	var again deploy.Deployment
	waitFor(t, 60*time.Second, "the interrupted request deployed again, and rolled back", func() (bool, string) {
		st, err := s.status(a.name)
		if err != nil || st.LastDeployment == nil || st.LastDeployment.DeploymentID == id || st.Deployment != nil {
			return false, fmt.Sprint(err)
		}
		again = *st.LastDeployment
		return true, ""
	})
	if again.Status != deploy.StatusRolledBack || again.ToImage != imgSick {
		t.Fatalf("the deployment again %+v", again)
	}
	waitFor(t, 20*time.Second, "the standby back in blue", func() (bool, string) {
		cs := containers(t, a.name)
		return len(cs) == 2 && cs[a.name+"-blue"] == standby, fmt.Sprint(cs)
	})

	code, out, errOut := s.ctl("switch", a.name, "blue")
	if code != 0 || !strings.Contains(out, "traffic now on blue") {
		t.Fatalf("ctl switch %s blue: exit %d\n%s%s", a.name, code, out, errOut)
	}
	if code, body, err := get(a.url("/")); err != nil || code != 200 || body != "v1" {
		t.Fatalf("after the switch: %d %q %v", code, body, err)
	}
	// The switch ended when green's process exited; Docker shows it
	// exited once its clean-up is done.
	waitFor(t, 20*time.Second, "blue's standby serving, green stopped", func() (bool, string) {
		cs := containers(t, a.name)
		return len(cs) == 2 && cs[a.name+"-blue"] == [2]string{standby[0], "running"} && cs[a.name+"-green"][1] == "exited", fmt.Sprint(cs)
	})
}
