// Command deploybench measures bluegreen deployments end to end against the
// real Docker daemon: it builds the demo images and the bluegreen binary,
// runs `bluegreen serve` with three apps, deploys one of them N times
// (alternating two versions) through the API, and prints the median and p95
// of the whole deployment and of each phase, plus the supervisor's resident
// memory (VmRSS, VmHWM) with three apps.
//
//	go run ./cmd/deploybench [-n 10]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bluegreen/bluegreen/deploy"
)

func main() {
	n := flag.Int("n", 10, "deployments to measure")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "deploybench:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	dir, err := os.MkdirTemp("", "deploybench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := build(dir)
	if err != nil {
		return err
	}
	names := []string{"bench-a", "bench-b", "bench-c"}
	apps := filepath.Join(dir, "apps.d")
	proxies, err := writeApps(apps, names)
	if err != nil {
		return err
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	serve := exec.Command(bin, "serve", "--apps", apps, "--db", filepath.Join(dir, "bg.db"), "--api", apiAddr, "--log-level", "warn")
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
		for _, name := range names {
			exec.Command("docker", "rm", "-f", name+"-blue", name+"-green").Run()
		}
	}()
	base := "http://" + apiAddr
	for _, name := range names {
		if err := waitStable(base, name, 90*time.Second); err != nil {
			return err
		}
	}
	rssStart := rss(serve.Process.Pid)
	t, err := measure(base, names[0], n)
	if err != nil {
		return err
	}
	// Memory with the three apps serving some traffic.
	for i := 0; i < 300; i++ {
		for _, p := range proxies {
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", p)); err == nil {
				resp.Body.Close()
			}
		}
	}
	rssEnd := rss(serve.Process.Pid)

	fmt.Printf("%d deployments of %s (API call to completed), demo test app, 3 apps managed\n\n", n, names[0])
	t.print()
	fmt.Printf("\nsupervisor memory, 3 apps: after start %s; after %d deploys and 900 proxied requests %s\n", rssStart, n, rssEnd)
	return nil
}

// build makes the demo images and the bluegreen binary in dir.
func build(dir string) (string, error) {
	if out, err := exec.Command("scripts/demo-images.sh").CombinedOutput(); err != nil {
		return "", fmt.Errorf("demo images (run from the repo root): %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "bluegreen")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
}

// writeApps writes the config of each app into the folder apps and returns
// their proxy ports.
func writeApps(apps string, names []string) ([]int, error) {
	if err := os.Mkdir(apps, 0o755); err != nil {
		return nil, err
	}
	var proxies []int
	for _, name := range names {
		p := []int{freePort(), freePort(), freePort()}
		proxies = append(proxies, p[0])
		cfg := fmt.Sprintf(`name: %s
image: bluegreen-demo:v1
ports: {proxy: %d, blue: %d, green: %d}
proxy: {listen_address: 127.0.0.1}
health_check: {path: /health, interval: 250ms, timeout: 1s, healthy_threshold: 2}
docker: {expose_port: 3000, memory_limit: 64m}
deployment: {drain_timeout: 5s, stop_timeout: 2s}
`, name, p[0], p[1], p[2])
		if err := os.WriteFile(filepath.Join(apps, name+".yaml"), []byte(cfg), 0o644); err != nil {
			return nil, err
		}
	}
	return proxies, nil
}

// timings are the durations of whole deployments and of each phase, in ms.
type timings struct {
	total  []float64
	phases map[string][]float64
	order  []string // phase names as they first came
}

// measure deploys app n times, alternating v2 and v1, and times it.
func measure(base, app string, n int) (timings, error) {
	t := timings{phases: map[string][]float64{}}
	for i := 0; i < n; i++ {
		image := "bluegreen-demo:v2"
		if i%2 == 1 {
			image = "bluegreen-demo:v1"
		}
		d, err := deployOnce(base, app, image)
		if err != nil {
			return t, err
		}
		if d.Status != deploy.StatusCompleted {
			return t, fmt.Errorf("deployment %d: %s: %s", d.DeploymentID, d.Status, d.Error)
		}
		t.total = append(t.total, float64(d.DurationMS))
		for _, p := range d.Phases {
			if _, ok := t.phases[p.Name]; !ok {
				t.order = append(t.order, p.Name)
			}
			t.phases[p.Name] = append(t.phases[p.Name], float64(p.DurationMS))
		}
	}
	return t, nil
}

func (t timings) print() {
	fmt.Printf("%-16s %10s %10s\n", "phase", "median ms", "p95 ms")
	fmt.Printf("%-16s %10.0f %10.0f\n", "whole deploy", pct(t.total, 50), pct(t.total, 95))
	for _, name := range t.order {
		fmt.Printf("%-16s %10.0f %10.0f\n", name, pct(t.phases[name], 50), pct(t.phases[name], 95))
	}
}

func waitStable(base, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var st deploy.AppStatus
		if err := getJSON(base+"/api/apps/"+name+"/status", &st); err == nil && st.Status == deploy.AppStable {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not stable within %s", name, timeout)
}

func deployOnce(base, app, image string) (deploy.Deployment, error) {
	var d deploy.Deployment
	body, _ := json.Marshal(deploy.Request{DesiredImage: image})
	resp, err := http.Post(base+"/api/apps/"+app+"/deploy?wait=true", "application/json", bytes.NewReader(body))
	if err != nil {
		return d, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("deploy %s: status %d", image, resp.StatusCode)
	}
	return d, json.NewDecoder(resp.Body).Decode(&d)
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// rss reads VmRSS and VmHWM of a process.
func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmHWM:") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(out, ", ")
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
