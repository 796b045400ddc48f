package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
	"github.com/bluegreen/bluegreen/proxy"
)

// TestCrash_Kill9InVerificationWindow kills serve with SIGKILL while a
// verified deployment of v2 over v1 watches its window, then starts it
// again (docs/verification.md, "Crashes and upgrades"). In canary the new process
// routes every client to the old color, removes the candidate and ends
// the deployment interrupted. In verifying it keeps the new color active,
// watches a fresh window with the old container still running, and
// completes the deployment.
func TestCrash_Kill9InVerificationWindow(t *testing.T) {
	images(t)
	t.Run("canary", func(t *testing.T) {
		a := newApp(t, imgV1)
		a.verify = "verify: {window: 60s}, canary: [50]"
		s := newServe(t, "", a)
		s.start()
		st := s.stable(a, imgV1, 60*time.Second)
		oldColor := st.ActiveColor
		oldID := st.Containers.Of(oldColor).ID

		id := s.deploy(a, imgV2)
		d := s.inStatus(id, deploy.StatusCanary, 60*time.Second)
		if d.Verification == nil || d.Verification.Step != 50 {
			t.Fatalf("in canary: %+v", d.Verification)
		}
		// A client of the new color's half gets v2 in the step.
		if body := getCookie(t, a, bucketBelow(50)); body != "v2" {
			t.Fatalf("in the canary step a client under 50%% got %q", body)
		}
		s.kill9()

		first := firstAnswer(t, a, s.start(), "v1", "the old color")
		// At once, before a new deployment of v2 could begin its own
		// step: a client that was on the canary is on v1.
		if body := getCookie(t, a, bucketBelow(50)); body != "v1" {
			t.Fatalf("after the restart a client that was on the canary got %q, want v1", body)
		}
		end := s.ended(id, 30*time.Second)
		if end.Status != deploy.StatusInterrupted {
			t.Fatalf("deployment %s %q, want interrupted", end.Status, end.Error)
		}
		if c := containers(t, a.name)[a.name+"-"+string(oldColor)]; c[0] != oldID || c[1] != "running" {
			t.Fatalf("the old container %v, was %s running: recreated or stopped", c, oldID)
		}
		waitFor(t, 20*time.Second, "the interrupted deployment's candidate removed", func() (bool, string) {
			out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=bluegreen.app="+a.name,
				"--filter", fmt.Sprintf("label=bluegreen.deployment=%d", id)).CombinedOutput()
			return strings.TrimSpace(string(out)) == "", string(out)
		})
		t.Logf("kill -9 in canary: restart to first answer %s (v1)", first.Round(time.Millisecond))
	})
	t.Run("verifying", func(t *testing.T) {
		a := newApp(t, imgV1)
		a.verify = "verify: {window: 6s, min_requests: 1}"
		s := newServe(t, "", a)
		s.start()
		st := s.stable(a, imgV1, 60*time.Second)
		oldColor, newColor := st.ActiveColor, st.ActiveColor.Other()
		oldID := st.Containers.Of(oldColor).ID

		id := s.deploy(a, imgV2)
		d := s.inStatus(id, deploy.StatusVerifying, 60*time.Second)
		if d.Verification == nil || d.Verification.Step != 100 {
			t.Fatalf("in verifying: %+v", d.Verification)
		}
		newID := ""
		if st, err := s.status(a.name); err == nil && st.Containers.Of(newColor) != nil {
			newID = st.Containers.Of(newColor).ID
		}
		s.kill9()

		first := firstAnswer(t, a, s.start(), "v2", "the new color stays active")
		// A fresh window: the deployment runs on, in verifying again.
		waitFor(t, 10*time.Second, "a fresh window", func() (bool, string) {
			d, err := s.deployment(id)
			n := len(d.Phases)
			return err == nil && d.Status == deploy.StatusVerifying && n >= 2 && d.Phases[n-1].Name == "verifying" &&
				d.Phases[n-2].Name == "verifying", fmt.Sprint(d.Status, phaseNames(d), err)
		})
		if c := containers(t, a.name)[a.name+"-"+string(oldColor)]; c[0] != oldID || c[1] != "running" {
			t.Fatalf("the old container %v during the fresh window, was %s running", c, oldID)
		}
		end := s.ended(id, 60*time.Second)
		if end.Status != deploy.StatusCompleted || end.Verification == nil || end.Verification.Result != deploy.VerificationPassed {
			t.Fatalf("deployment %s: %q, verification %+v", end.Status, end.Error, end.Verification)
		}
		cs := containers(t, a.name)
		if c := cs[a.name+"-"+string(newColor)]; c[0] != newID || c[1] != "running" {
			t.Fatalf("the new container %v, was %s: recreated or stopped", c, newID)
		}
		waitFor(t, 30*time.Second, "the old color stopped", func() (bool, string) {
			c := containers(t, a.name)[a.name+"-"+string(oldColor)]
			return c[1] == "exited", c[1]
		})
		s.stable(a, imgV2, 20*time.Second)
		t.Logf("kill -9 in verifying: restart to first answer %s (v2)", first.Round(time.Millisecond))
	})
}

// inStatus waits until deployment id has status st and returns it.
func (s *serve) inStatus(id int64, st deploy.Status, timeout time.Duration) deploy.Deployment {
	s.t.Helper()
	var d deploy.Deployment
	waitFor(s.t, timeout, fmt.Sprintf("deployment %d %s", id, st), func() (bool, string) {
		var err error
		d, err = s.deployment(id)
		return err == nil && d.Status == st, fmt.Sprint(d.Status, err)
	})
	return d
}

// getCookie GETs the app's / as a client with the bluegreen_canary cookie
// value v, and returns the body.
func getCookie(t *testing.T, a *app, v string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url("/"), nil)
	req.Header.Set("Cookie", proxy.CanaryCookie+"="+v)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// bucketBelow is a cookie value whose bucket is under percent.
func bucketBelow(percent int) string {
	for i := 0; ; i++ {
		if v := fmt.Sprintf("%032x", i); proxy.Bucket(v) < percent {
			return v
		}
	}
}

func phaseNames(d deploy.Deployment) []string {
	var out []string
	for _, p := range d.Phases {
		out = append(out, p.Name)
	}
	return out
}

// firstAnswer waits for the first 200 of a's proxy after serve started
// again, which must be want (why says which color that is), and returns
// how long after the start it came.
func firstAnswer(t *testing.T, a *app, started time.Time, want, why string) time.Duration {
	t.Helper()
	var first time.Duration
	waitFor(t, 10*time.Second, "the first answer after the restart", func() (bool, string) {
		code, body, err := get(a.url("/"))
		if err != nil || code != 200 {
			return false, fmt.Sprint(code, err)
		}
		first = time.Since(started)
		if body != want {
			t.Fatalf("after the restart the proxy answered %q, want %s (%s)", body, want, why)
		}
		return true, ""
	})
	return first
}
