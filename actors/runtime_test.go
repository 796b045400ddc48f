package actors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluegreen/bluegreen/docker"
	"github.com/bluegreen/bluegreen/internal/testsupport/testimage"
)

// fakeRuntime is the Docker of the actors' unit tests, in memory: images and
// containers are maps, and a running container is an HTTP server on
// 127.0.0.1 at its published port that answers "/" with its image and
// "/health" with the status its image (or the test) sets. A test makes a
// call fail once (failNext), wait until it lets it go on (hold), or takes
// the daemon away (setDown).
type fakeRuntime struct {
	t *testing.T

	mu         sync.Mutex
	images     map[string]fakeImage // images a pull can get
	local      map[string]bool      // images present, by reference
	ids        map[string]string    // image ID of a reference; default fakeImageID(ref)
	removed    []string             // references RemoveImage removed, in order
	calls      []string             // calls that went through (past their hold), in order
	containers map[string]*fakeContainer
	nextID     int
	down       bool
	fails      map[string]error                        // call name → its next error
	holds      map[string]chan struct{}                // call name → closed when the test lets it go on
	lates      map[string]chan struct{}                // call name → its answer, read at once, is returned when closed
	waiting    map[string]int                          // call name → late answers read and not returned yet
	streams    map[chan docker.Event]map[string]string // event streams and their label filters
	quiet      bool                                    // events are not sent (a stream that missed them)
	held       *[]docker.Event                         // non-nil: events wait here, in order, for holdEvents' release
	cleanup    chan struct{}                           // non-nil: Stop returns after the exit only once it is closed (Docker's clean-up)
}

// fakeImage is how containers of an image behave.
type fakeImage struct {
	health   int           // the status of GET /health; 0 is 200
	exits    bool          // exits with code 1 as soon as it starts
	failRate int           // the percent of GET / answered 500, spread evenly (as testapp's FAIL_RATE)
	delay    time.Duration // how long GET / takes
}

// fakeContainer is a container of the fake runtime.
type fakeContainer struct {
	docker.Container
	health int
	served int // GET / answered
	srv    *http.Server
	ln     net.Listener // closed by halt itself: srv.Close misses it until Serve began
}

var _ Runtime = (*fakeRuntime)(nil)

func newFakeRuntime(t *testing.T) *fakeRuntime {
	rt := &fakeRuntime{t: t, images: map[string]fakeImage{}, local: map[string]bool{}, ids: map[string]string{},
		containers: map[string]*fakeContainer{}, fails: map[string]error{}, holds: map[string]chan struct{}{},
		lates: map[string]chan struct{}{}, waiting: map[string]int{}, streams: map[chan docker.Event]map[string]string{}}
	t.Cleanup(rt.close)
	return rt
}

// image makes ref known to pulls; local makes it present too.
func (rt *fakeRuntime) image(ref string, im fakeImage, local bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.images[ref] = im
	rt.local[ref] = local
}

// present reports whether ref is a local image reference.
func (rt *fakeRuntime) present(ref string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.local[ref]
}

// removedRefs returns the references RemoveImage removed, in order.
func (rt *fakeRuntime) removedRefs() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.removed)
}

// idOf is the image ID of ref. rt.mu is held.
func (rt *fakeRuntime) idOf(ref string) string {
	if id, ok := rt.ids[ref]; ok {
		return id
	}
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// failNext makes the next call named call (EnsureImage, Create, Start, ...) fail with err.
func (rt *fakeRuntime) failNext(call string, err error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.fails[call] = err
}

// hold makes calls named call wait until release is called (or their ctx ends).
func (rt *fakeRuntime) hold(call string) (release func()) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ch := make(chan struct{})
	rt.holds[call] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			rt.mu.Lock()
			delete(rt.holds, call)
			rt.mu.Unlock()
			close(ch)
		})
	}
}

// late makes calls named call (Inspect, List) read their answer at once and
// return it only once release is called: an answer older than what happens
// meanwhile.
func (rt *fakeRuntime) late(call string) (release func()) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ch := make(chan struct{})
	rt.lates[call] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			rt.mu.Lock()
			delete(rt.lates, call)
			rt.mu.Unlock()
			close(ch)
		})
	}
}

// answerLate waits for the release of a late call, its answer read. rt.mu
// is not held.
func (rt *fakeRuntime) answerLate(ctx context.Context, call string) {
	rt.mu.Lock()
	ch := rt.lates[call]
	if ch != nil {
		rt.waiting[call]++
	}
	rt.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
		}
		rt.mu.Lock()
		rt.waiting[call]--
		rt.mu.Unlock()
	}
}

// lateAnswers counts the calls named call that read their answer and wait
// to return it.
func (rt *fakeRuntime) lateAnswers(call string) int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.waiting[call]
}

// setDown takes the daemon away (every call fails as unreachable) or brings it back.
func (rt *fakeRuntime) setDown(down bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.down = down
	if down {
		rt.closeStreams()
	}
}

// restartDaemon is a restart of dockerd without live-restore: the event
// streams break and every running container stops (code 255, as Docker
// records it). With restartPolicy the daemon starts them again when it comes
// back, as Docker does for always and unless-stopped.
func (rt *fakeRuntime) restartDaemon(startAgain bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.closeStreams()
	for _, c := range rt.containers {
		if c.Running {
			rt.halt(c, 255)
			if startAgain {
				rt.run(c)
			}
		}
	}
}

// setQuiet stops (or resumes) sending events, as a stream that misses them.
func (rt *fakeRuntime) setQuiet(quiet bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.quiet = quiet
}

// streamCount counts the open event streams.
func (rt *fakeRuntime) streamCount() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.streams)
}

// setHealth makes the container named name answer /health with status.
func (rt *fakeRuntime) setHealth(name string, status int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil {
		c.health = status
	}
}

// exit stops the container named name as a crash would (code, OOM kill).
func (rt *fakeRuntime) exit(name string, code int, oom bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil {
		if oom {
			rt.emit(c, docker.ActionOOM, 0)
		}
		rt.halt(c, code)
		c.OOMKilled = oom
	}
}

// kill is `docker kill`: the container dies with 137, and Docker's restart
// policy does not start it again.
func (rt *fakeRuntime) kill(name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil {
		rt.emit(c, docker.ActionKill, 0)
		rt.halt(c, 137)
	}
}

// dockerRestarts makes the container named name exit with code and Docker
// start it again at once, as its restart policy would.
func (rt *fakeRuntime) dockerRestarts(name string, code int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil {
		rt.halt(c, code)
		rt.run(c)
		c.RestartCount++
	}
}

// dockerStarts starts the exited container named name, as Docker's restart
// policy or an operator's docker start would; its start event is sent
// unless the runtime is quiet.
func (rt *fakeRuntime) dockerStarts(name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil && !c.Running {
		if err := rt.run(c); err != nil {
			rt.t.Error(err)
		}
		c.RestartCount++
	}
}

// sendEvent sends an event of the container named name now (one a quiet
// stream held back).
func (rt *fakeRuntime) sendEvent(name, action string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil {
		rt.emit(c, action, 0)
	}
}

// container returns the container named name as Docker would report it.
func (rt *fakeRuntime) container(name string) (docker.Container, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if c := rt.byName(name); c != nil {
		return rt.report(c), true
	}
	return docker.Container{}, false
}

// exists reports whether the container id exists.
func (rt *fakeRuntime) exists(id string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.containers[id] != nil
}

// containersOf returns the containers labelled as app's.
func (rt *fakeRuntime) containersOf(app string) []docker.Container {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []docker.Container
	for _, c := range rt.containers {
		if c.Labels[LabelApp] == app {
			out = append(out, rt.report(c))
		}
	}
	return out
}

// enter runs the hooks of a call: Docker down, an injected failure, a hold.
func (rt *fakeRuntime) enter(ctx context.Context, call string) error {
	rt.mu.Lock()
	down, err, hold := rt.down, rt.fails[call], rt.holds[call]
	delete(rt.fails, call)
	rt.mu.Unlock()
	if down {
		return fmt.Errorf("cannot reach Docker at fake: connection refused: is dockerd running?: %w", docker.ErrUnavailable)
	}
	if err != nil {
		return err
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rt.mu.Lock()
	rt.calls = append(rt.calls, call)
	rt.mu.Unlock()
	return nil
}

// callLog returns the names of the calls that went through, in order.
func (rt *fakeRuntime) callLog() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return slices.Clone(rt.calls)
}

func (rt *fakeRuntime) Ping(ctx context.Context) error { return rt.enter(ctx, "Ping") }

func (rt *fakeRuntime) EnsureImage(ctx context.Context, ref, policy string) (bool, error) {
	if err := rt.enter(ctx, "EnsureImage"); err != nil {
		return false, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.local[ref] && policy != docker.PullAlways {
		return false, nil
	}
	if policy == docker.PullNever {
		return false, fmt.Errorf("image %s: %w locally and pull_policy is never", ref, docker.ErrImageMissing)
	}
	if _, ok := rt.images[ref]; !ok {
		return false, fmt.Errorf("pull %s: %w", ref, docker.ErrImageMissing)
	}
	rt.local[ref] = true
	return true, nil
}

func (rt *fakeRuntime) Create(ctx context.Context, s docker.Spec) (string, error) {
	if err := rt.enter(ctx, "Create"); err != nil {
		return "", err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.local[s.Image] {
		return "", fmt.Errorf("create %s: image %s: %w", s.Name, s.Image, docker.ErrImageMissing)
	}
	if rt.byName(s.Name) != nil {
		return "", fmt.Errorf("create %s: %w", s.Name, docker.ErrNameInUse)
	}
	rt.nextID++
	id := fmt.Sprintf("%064x", rt.nextID)
	rt.containers[id] = &fakeContainer{Container: docker.Container{ID: id, Name: s.Name, Image: s.Image, ImageID: rt.idOf(s.Image),
		State: "created", Labels: maps.Clone(s.Labels), HostPort: s.HostPort}, health: rt.images[s.Image].health}
	return id, nil
}

func (rt *fakeRuntime) Start(ctx context.Context, id string) error {
	if err := rt.enter(ctx, "Start"); err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.containers[id]
	if c == nil {
		return fmt.Errorf("start container %s: %w", id, docker.ErrNotFound)
	}
	if c.Running {
		return nil
	}
	if rt.images[c.Image].exits {
		rt.emit(c, docker.ActionStart, 0)
		c.State, c.ExitCode = "exited", 1
		rt.emit(c, docker.ActionDie, 1)
		return nil
	}
	return rt.run(c)
}

// run starts c's server. rt.mu is held.
func (rt *fakeRuntime) run(c *fakeContainer) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.HostPort)))
	if err != nil {
		return fmt.Errorf("start container %s: port is already allocated: %v", c.Name, err)
	}
	c.srv = &http.Server{Handler: rt.handler(c), ReadHeaderTimeout: time.Second}
	c.ln = ln
	go c.srv.Serve(ln)
	c.State, c.Running, c.ExitCode, c.OOMKilled, c.StartedAt = "running", true, 0, false, time.Now()
	rt.emit(c, docker.ActionStart, 0)
	return nil
}

func (rt *fakeRuntime) Stop(ctx context.Context, id string, grace time.Duration) error {
	if err := rt.enter(ctx, "Stop"); err != nil {
		return err
	}
	rt.mu.Lock()
	c := rt.containers[id]
	if c == nil {
		rt.mu.Unlock()
		return fmt.Errorf("stop container %s: %w", id, docker.ErrNotFound)
	}
	if c.Running {
		rt.emit(c, docker.ActionKill, 0)
	}
	rt.halt(c, 0)
	cleanup := rt.cleanup
	rt.mu.Unlock()
	if cleanup != nil {
		select {
		case <-cleanup:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (rt *fakeRuntime) Remove(ctx context.Context, id string) error {
	if err := rt.enter(ctx, "Remove"); err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.containers[id]
	if c == nil {
		c = rt.byName(id)
	}
	if c == nil {
		return nil // Docker's Remove: a missing container is fine
	}
	rt.halt(c, 137)
	rt.emit(c, docker.ActionDestroy, 0)
	delete(rt.containers, c.ID)
	return nil
}

func (rt *fakeRuntime) Rename(ctx context.Context, id, name string) error {
	if err := rt.enter(ctx, "Rename"); err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.containers[id]
	if c == nil {
		c = rt.byName(id)
	}
	if c == nil {
		return fmt.Errorf("rename container %s: %w", id, docker.ErrNotFound)
	}
	if other := rt.byName(name); other != nil && other != c {
		return fmt.Errorf("rename container %s to %s: %w", id, name, docker.ErrNameInUse)
	}
	c.Name = name
	return nil
}

func (rt *fakeRuntime) Events(ctx context.Context, since time.Time, labels map[string]string) (<-chan docker.Event, error) {
	if err := rt.enter(ctx, "Events"); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ch := make(chan docker.Event, 1024)
	rt.streams[ch] = maps.Clone(labels)
	go func() {
		<-ctx.Done()
		rt.mu.Lock()
		defer rt.mu.Unlock()
		if _, open := rt.streams[ch]; open {
			delete(rt.streams, ch)
			close(ch)
		}
	}()
	return ch, nil
}

// emit sends an event of c to the streams whose labels it carries. rt.mu is held.
func (rt *fakeRuntime) emit(c *fakeContainer, action string, code int) {
	if rt.quiet {
		return
	}
	e := docker.Event{Action: action, ID: c.ID, Name: c.Name, Labels: maps.Clone(c.Labels), ExitCode: code, Time: time.Now()}
	if rt.held != nil {
		*rt.held = append(*rt.held, e)
		return
	}
	rt.deliver(e)
}

// holdEvents keeps the events from the streams, as a stream slower than
// the calls' answers, until release sends them in order.
func (rt *fakeRuntime) holdEvents() (release func()) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	held := new([]docker.Event)
	rt.held = held
	return func() {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		rt.held = nil
		for _, e := range *held {
			rt.deliver(e)
		}
	}
}

// deliver sends e to the streams whose labels it carries. rt.mu is held.
func (rt *fakeRuntime) deliver(e docker.Event) {
	for ch, labels := range rt.streams {
		match := true
		for k, v := range labels {
			match = match && e.Labels[k] == v
		}
		if match {
			select {
			case ch <- e:
			default:
			}
		}
	}
}

// closeStreams ends every event stream. rt.mu is held.
func (rt *fakeRuntime) closeStreams() {
	for ch := range rt.streams {
		close(ch)
	}
	clear(rt.streams)
}

func (rt *fakeRuntime) Inspect(ctx context.Context, nameOrID string) (docker.Container, error) {
	if err := rt.enter(ctx, "Inspect"); err != nil {
		return docker.Container{}, err
	}
	rt.mu.Lock()
	c := rt.containers[nameOrID]
	if c == nil {
		c = rt.byName(nameOrID)
	}
	var ct docker.Container
	err := fmt.Errorf("inspect container %s: %w", nameOrID, docker.ErrNotFound)
	if c != nil {
		ct, err = rt.report(c), nil
	}
	rt.mu.Unlock()
	rt.answerLate(ctx, "Inspect")
	return ct, err
}

func (rt *fakeRuntime) List(ctx context.Context, labels map[string]string) ([]docker.Container, error) {
	if err := rt.enter(ctx, "List"); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []docker.Container
	for _, c := range rt.containers {
		match := true
		for k, v := range labels {
			match = match && c.Labels[k] == v
		}
		if match {
			out = append(out, rt.report(c))
		}
	}
	return out, nil
}

func (rt *fakeRuntime) Summaries(ctx context.Context, labels map[string]string) ([]docker.Container, error) {
	if err := rt.enter(ctx, "Summaries"); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	var out []docker.Container
	for _, c := range rt.containers {
		match := true
		for k, v := range labels {
			match = match && c.Labels[k] == v
		}
		if match {
			ct := rt.report(c)
			out = append(out, docker.Container{ID: ct.ID, Name: ct.Name, Image: ct.Image, State: ct.State, Running: ct.Running, Labels: ct.Labels})
		}
	}
	rt.mu.Unlock()
	rt.answerLate(ctx, "Summaries")
	return out, nil
}

func (rt *fakeRuntime) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	if err := rt.enter(ctx, "Logs"); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	c := rt.containers[id]
	if c == nil {
		return nil, fmt.Errorf("logs of %s: %w", id, docker.ErrNotFound)
	}
	return []string{"starting " + c.Image, "listening on :3000"}, nil
}

func (rt *fakeRuntime) StreamLogs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error {
	lines, err := rt.Logs(ctx, id, tail)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}

func (rt *fakeRuntime) Images(ctx context.Context) ([]docker.Image, error) {
	if err := rt.enter(ctx, "Images"); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	byID := map[string]*docker.Image{}
	var ids []string
	for ref, ok := range rt.local {
		if !ok {
			continue
		}
		id := rt.idOf(ref)
		im := byID[id]
		if im == nil {
			im = &docker.Image{ID: id, SizeBytes: 9_000_000, Created: time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)}
			byID[id] = im
			ids = append(ids, id)
		}
		im.Refs = append(im.Refs, docker.NormalizeRef(ref))
	}
	slices.Sort(ids)
	out := make([]docker.Image, 0, len(ids))
	for _, id := range ids {
		slices.Sort(byID[id].Refs)
		out = append(out, *byID[id])
	}
	return out, nil
}

func (rt *fakeRuntime) ImagesInUse(ctx context.Context) (map[string]bool, error) {
	if err := rt.enter(ctx, "ImagesInUse"); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	used := map[string]bool{}
	for _, c := range rt.containers {
		used[c.ImageID] = true
	}
	return used, nil
}

// RemoveImage removes the reference as Docker does without force: an image
// with other references only loses it; its last reference stays while a
// container uses the image.
func (rt *fakeRuntime) RemoveImage(ctx context.Context, ref string) error {
	if err := rt.enter(ctx, "RemoveImage"); err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.local[ref] {
		return fmt.Errorf("remove image %s: %w", ref, docker.ErrImageMissing)
	}
	id, refs := rt.idOf(ref), 0
	for r, ok := range rt.local {
		if ok && rt.idOf(r) == id {
			refs++
		}
	}
	if refs == 1 {
		for _, c := range rt.containers {
			if c.ImageID == id {
				return fmt.Errorf("remove image %s: %w: container %s is using it", ref, docker.ErrImageInUse, c.Name)
			}
		}
	}
	delete(rt.local, ref)
	rt.removed = append(rt.removed, ref)
	return nil
}

// handler serves a running container: "/" answers its image (after its
// delay, with a 500 for its fail rate), "/health" its health,
// "/slow?d=300ms" its image after d.
func (rt *fakeRuntime) handler(c *fakeContainer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		image, health := c.Image, c.health
		rt.mu.Unlock()
		if r.URL.Path == "/slow" {
			d, _ := time.ParseDuration(r.URL.Query().Get("d"))
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if r.URL.Path == "/health" {
			if health == 0 {
				health = http.StatusOK
			}
			w.WriteHeader(health)
			return
		}
		if r.URL.Path == "/" {
			rt.mu.Lock()
			im := rt.images[image]
			c.served++
			n := c.served
			rt.mu.Unlock()
			select {
			case <-time.After(im.delay):
			case <-r.Context().Done():
				return
			}
			if n*im.failRate/100 > (n-1)*im.failRate/100 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}
		io.WriteString(w, image)
	})
}

// halt stops c's server and marks it exited with code. rt.mu is held.
func (rt *fakeRuntime) halt(c *fakeContainer, code int) {
	if c.srv != nil {
		c.srv.Close()
		c.ln.Close()
		c.srv, c.ln = nil, nil
	}
	was := c.Running
	if c.Running {
		c.ExitCode = code
	}
	c.State, c.Running, c.FinishedAt = "exited", false, time.Now()
	if was {
		rt.emit(c, docker.ActionDie, code)
	}
}

func (rt *fakeRuntime) byName(name string) *fakeContainer {
	for _, c := range rt.containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (rt *fakeRuntime) report(c *fakeContainer) docker.Container {
	ct := c.Container
	ct.Labels = maps.Clone(c.Labels)
	return ct
}

func (rt *fakeRuntime) close() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.closeStreams()
	for _, c := range rt.containers {
		rt.halt(c, 0)
	}
}

// fakeClock holds the timers the app actors start; a test fires them.
type fakeClock struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (fc *fakeClock) after(d time.Duration, f func()) func() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	fc.timers = append(fc.timers, t)
	return func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// pending counts the timers of duration d that are neither stopped nor fired.
func (fc *fakeClock) pending(d time.Duration) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	n := 0
	for _, t := range fc.timers {
		if t.d == d && !t.stopped {
			n++
		}
	}
	return n
}

// fire runs the pending timers of duration d, as if d passed.
func (fc *fakeClock) fire(d time.Duration) int {
	fc.mu.Lock()
	var due []*fakeTimer
	for _, t := range fc.timers {
		if t.d == d && !t.stopped {
			t.stopped = true
			due = append(due, t)
		}
	}
	fc.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}

func TestFakeRuntime(t *testing.T) {
	ctx := context.Background()
	rt := newFakeRuntime(t)
	rt.image("web:v1", fakeImage{}, false)
	if pulled, err := rt.EnsureImage(ctx, "web:v1", docker.PullIfNotPresent); err != nil || !pulled {
		t.Fatalf("pull: %v %v", pulled, err)
	}
	if _, err := rt.EnsureImage(ctx, "web:nope", docker.PullIfNotPresent); !errors.Is(err, docker.ErrImageMissing) {
		t.Fatalf("missing image: %v", err)
	}
	port := testimage.FreePort(t)
	id, err := rt.Create(ctx, docker.Spec{Name: "web-blue", Image: "web:v1", HostPort: port})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got, err := body(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || got != "web:v1" {
		t.Fatalf("container answered %q, %v", got, err)
	}
	rt.setDown(true)
	if _, err := rt.Inspect(ctx, id); !errors.Is(err, docker.ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	rt.setDown(false)
	rt.exit("web-blue", 137, true)
	if ct, _ := rt.Inspect(ctx, "web-blue"); ct.Running || ct.ExitCode != 137 || !ct.OOMKilled {
		t.Fatalf("after exit: %+v", ct)
	}
	if err := rt.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Inspect(ctx, id); !errors.Is(err, docker.ErrNotFound) {
		t.Fatalf("removed: %v", err)
	}
}
