package docker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// DefaultHostIP is the address a container's port is published on when
// Spec.HostIP is empty.
const DefaultHostIP = "127.0.0.1"

// Spec describes a container to create.
type Spec struct {
	Name          string
	Image         string
	Labels        map[string]string
	Env           []string // "K=V"
	Volumes       []string // "host:container[:opts]" as Docker binds
	MemoryBytes   int64    // 0: no limit
	CPUs          float64  // 0: no limit; becomes NanoCPUs
	RestartPolicy string   // no | always | unless-stopped | on-failure[:N]; "": Docker's default (no)
	Network       string   // "": the default network
	Command       []string // replaces the image's CMD; nil keeps it
	HostIP        string   // "": DefaultHostIP
	HostPort      int      // 0 with ContainerPort set: Docker picks a free port
	ContainerPort int      // tcp; 0: nothing published
}

// Container is a container as Docker reports it.
type Container struct {
	ID           string
	Name         string // without the leading "/"
	Image        string // the reference it was created from
	ImageID      string
	State        string // created|running|paused|restarting|removing|exited|dead
	Running      bool
	ExitCode     int
	Error        string
	OOMKilled    bool
	RestartCount int
	StartedAt    time.Time
	FinishedAt   time.Time
	Labels       map[string]string
	HostPort     int // published host port of the first port binding, 0 if none
}

// Create creates (but does not start) the container s describes and returns
// its ID. A missing image matches ErrImageMissing, a taken name ErrNameInUse.
// A port already allocated shows up at Start.
func (c *Client) Create(ctx context.Context, s Spec) (id string, err error) {
	opts, err := createOptions(s)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", s.Name, err)
	}
	opts.Context = ctx
	ct, err := c.dc.CreateContainer(opts)
	switch {
	case err == nil:
		return ct.ID, nil
	case errors.Is(err, dockerclient.ErrNoSuchImage):
		return "", fmt.Errorf("create container %s: image %s: %w", s.Name, s.Image, ErrImageMissing)
	case errors.Is(err, dockerclient.ErrContainerAlreadyExists):
		return "", fmt.Errorf("create container %s: %w", s.Name, ErrNameInUse)
	default:
		return "", fmt.Errorf("create container %s: %w", s.Name, c.cause(err))
	}
}

// Start starts the container. Starting a running container is fine.
func (c *Client) Start(ctx context.Context, id string) error {
	err := c.start(ctx, id)
	var running *dockerclient.ContainerAlreadyRunning
	var missing *dockerclient.NoSuchContainer
	switch {
	case err == nil, errors.As(err, &running):
		return nil
	case errors.As(err, &missing):
		return fmt.Errorf("start container %s: %w", id, ErrNotFound)
	default:
		return fmt.Errorf("start container %s: %w", id, c.cause(err))
	}
}

// Stop stops the container, killing it after grace (rounded up to whole
// seconds). A container that is not running is fine; a missing one matches
// ErrNotFound. ctx should allow for grace.
func (c *Client) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := uint(math.Ceil(max(grace, 0).Seconds()))
	err := c.dc.StopContainerWithContext(id, secs, ctx)
	var notRunning *dockerclient.ContainerNotRunning
	var missing *dockerclient.NoSuchContainer
	switch {
	case err == nil, errors.As(err, &notRunning):
		return nil
	case errors.As(err, &missing):
		return fmt.Errorf("stop container %s: %w", id, ErrNotFound)
	default:
		return fmt.Errorf("stop container %s: %w", id, c.cause(err))
	}
}

// Remove force-removes the container, running or not, with its anonymous
// volumes. A missing container is fine; when another removal of it is under
// way, Remove waits for it. Either way, when Remove returns nil the container
// is gone and its name free.
func (c *Client) Remove(ctx context.Context, id string) error {
	err := c.dc.RemoveContainer(dockerclient.RemoveContainerOptions{
		ID: id, Force: true, RemoveVolumes: true, Context: ctx,
	})
	var missing *dockerclient.NoSuchContainer
	switch {
	case err == nil, errors.As(err, &missing):
		return nil
	case apiStatus(err) == http.StatusConflict && strings.Contains(apiMessage(err), "already in progress"):
		// Another removal runs: wait until it is done, so the name is free
		// when Remove returns.
		for {
			if _, err := c.Inspect(ctx, id); errors.Is(err, ErrNotFound) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("remove container %s: still there: %w", id, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	default:
		return fmt.Errorf("remove container %s: %w", id, c.cause(err))
	}
}

// Rename gives the container id the name name (a container's labels stay
// as they were). A missing container matches ErrNotFound, a name another
// container has ErrNameInUse.
func (c *Client) Rename(ctx context.Context, id, name string) error {
	err := c.dc.RenameContainer(dockerclient.RenameContainerOptions{ID: id, Name: name, Context: ctx})
	switch {
	case err == nil:
		return nil
	case apiStatus(err) == http.StatusNotFound:
		return fmt.Errorf("rename container %s to %s: %w", id, name, ErrNotFound)
	case apiStatus(err) == http.StatusConflict:
		return fmt.Errorf("rename container %s to %s: %w: %s", id, name, ErrNameInUse, apiMessage(err))
	default:
		return fmt.Errorf("rename container %s to %s: %w", id, name, c.cause(err))
	}
}

// Inspect returns the container named or identified by nameOrID; a missing
// one matches ErrNotFound.
func (c *Client) Inspect(ctx context.Context, nameOrID string) (Container, error) {
	ct, err := c.dc.InspectContainerWithOptions(dockerclient.InspectContainerOptions{ID: nameOrID, Context: ctx})
	var missing *dockerclient.NoSuchContainer
	switch {
	case err == nil:
		return fromDocker(ct), nil
	case errors.As(err, &missing):
		return Container{}, fmt.Errorf("inspect container %s: %w", nameOrID, ErrNotFound)
	default:
		return Container{}, fmt.Errorf("inspect container %s: %w", nameOrID, c.cause(err))
	}
}

// List returns the containers in any state carrying all the given labels
// (k=v), sorted by name.
func (c *Client) List(ctx context.Context, labels map[string]string) ([]Container, error) {
	list, err := c.listLabelled(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(list))
	for _, l := range list {
		ct, err := c.Inspect(ctx, l.ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed since listed
		}
		if err != nil {
			return nil, fmt.Errorf("list containers %s: %w", labelString(labels), err)
		}
		out = append(out, ct)
	}
	slices.SortFunc(out, func(a, b Container) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Summaries lists the containers in any state carrying all the given labels
// (k=v) as Docker's list reports them, in one call: ID, Name, Image, State,
// Running and Labels are set; the rest (an exit code, the published port)
// takes an Inspect.
func (c *Client) Summaries(ctx context.Context, labels map[string]string) ([]Container, error) {
	list, err := c.listLabelled(ctx, labels)
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(list))
	for _, l := range list {
		ct := Container{ID: l.ID, Image: l.Image, State: l.State, Running: l.State == "running", Labels: l.Labels}
		if len(l.Names) > 0 {
			ct.Name = strings.TrimPrefix(l.Names[0], "/")
		}
		out = append(out, ct)
	}
	return out, nil
}

// listLabelled is Docker's list of the containers in any state carrying all
// the given labels (k=v).
func (c *Client) listLabelled(ctx context.Context, labels map[string]string) ([]dockerclient.APIContainers, error) {
	filters := map[string][]string{}
	for k, v := range labels {
		filters["label"] = append(filters["label"], k+"="+v)
	}
	list, err := c.dc.ListContainers(dockerclient.ListContainersOptions{All: true, Filters: filters, Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("list containers %s: %w", labelString(labels), c.cause(err))
	}
	return list, nil
}

// start calls the daemon. go-dockerclient learns the server's API version
// on its first container start, writing client fields without a lock, so
// starts are serialized until a start has reached the daemon once.
func (c *Client) start(ctx context.Context, id string) error {
	if c.versionKnown.Load() {
		return c.dc.StartContainerWithContext(id, nil, ctx)
	}
	c.startMu.Lock()
	defer c.startMu.Unlock()
	err := c.dc.StartContainerWithContext(id, nil, ctx)
	if c.unavailable(err) == nil && ctx.Err() == nil {
		c.versionKnown.Store(true)
	}
	return err
}

// cause turns a go-dockerclient error into the error to wrap: connection
// failures match ErrUnavailable, daemon answers become their message.
func (c *Client) cause(err error) error {
	if ue := c.unavailable(err); ue != nil {
		return ue
	}
	var e *dockerclient.Error
	if errors.As(err, &e) {
		return errors.New(e.Message)
	}
	return err
}

// createOptions maps a Spec to the Engine API's create request.
func createOptions(s Spec) (dockerclient.CreateContainerOptions, error) {
	if s.Image == "" {
		return dockerclient.CreateContainerOptions{}, errors.New("no image")
	}
	restart, err := parseRestartPolicy(s.RestartPolicy)
	if err != nil {
		return dockerclient.CreateContainerOptions{}, err
	}
	if s.MemoryBytes < 0 || s.CPUs < 0 {
		return dockerclient.CreateContainerOptions{}, fmt.Errorf("negative limits (memory %d, cpus %g)", s.MemoryBytes, s.CPUs)
	}
	cfg := &dockerclient.Config{
		Image:  s.Image,
		Env:    s.Env,
		Labels: s.Labels,
		Cmd:    s.Command,
	}
	hc := &dockerclient.HostConfig{
		Binds:         s.Volumes,
		Memory:        s.MemoryBytes,
		NanoCPUs:      int64(math.Round(s.CPUs * 1e9)),
		RestartPolicy: restart,
		NetworkMode:   s.Network,
	}
	if s.ContainerPort > 0 {
		if s.ContainerPort > 65535 || s.HostPort < 0 || s.HostPort > 65535 {
			return dockerclient.CreateContainerOptions{}, fmt.Errorf("port %d:%d out of range", s.HostPort, s.ContainerPort)
		}
		hostIP := s.HostIP
		if hostIP == "" {
			hostIP = DefaultHostIP
		}
		port := dockerclient.Port(strconv.Itoa(s.ContainerPort) + "/tcp")
		cfg.ExposedPorts = map[dockerclient.Port]struct{}{port: {}}
		binding := dockerclient.PortBinding{HostIP: hostIP}
		if s.HostPort > 0 {
			binding.HostPort = strconv.Itoa(s.HostPort)
		}
		hc.PortBindings = map[dockerclient.Port][]dockerclient.PortBinding{port: {binding}}
	}
	return dockerclient.CreateContainerOptions{Name: s.Name, Config: cfg, HostConfig: hc}, nil
}

// parseRestartPolicy parses no | always | unless-stopped | on-failure[:N].
func parseRestartPolicy(p string) (dockerclient.RestartPolicy, error) {
	switch p {
	case "":
		return dockerclient.RestartPolicy{}, nil
	case "no", "always", "unless-stopped", "on-failure":
		return dockerclient.RestartPolicy{Name: p}, nil
	}
	if n, ok := strings.CutPrefix(p, "on-failure:"); ok {
		if retries, err := strconv.Atoi(n); err == nil && retries >= 0 {
			return dockerclient.RestartPolicy{Name: "on-failure", MaximumRetryCount: retries}, nil
		}
	}
	return dockerclient.RestartPolicy{}, fmt.Errorf("restart policy %q: use no, always, unless-stopped or on-failure[:N]", p)
}

// fromDocker maps an inspected container.
func fromDocker(ct *dockerclient.Container) Container {
	out := Container{
		ID:           ct.ID,
		Name:         strings.TrimPrefix(ct.Name, "/"),
		ImageID:      ct.Image,
		State:        ct.State.Status,
		Running:      ct.State.Running,
		ExitCode:     ct.State.ExitCode,
		Error:        ct.State.Error,
		OOMKilled:    ct.State.OOMKilled,
		RestartCount: ct.RestartCount,
		StartedAt:    ct.State.StartedAt,
		FinishedAt:   ct.State.FinishedAt,
	}
	if ct.Config != nil {
		out.Image = ct.Config.Image
		out.Labels = ct.Config.Labels
	}
	if ct.NetworkSettings != nil {
		out.HostPort = firstHostPort(ct.NetworkSettings.Ports)
	}
	if out.HostPort == 0 && ct.HostConfig != nil {
		out.HostPort = firstHostPort(ct.HostConfig.PortBindings)
	}
	return out
}

// firstHostPort returns the host port of the first binding, ports in order.
func firstHostPort(m map[dockerclient.Port][]dockerclient.PortBinding) int {
	keys := make([]dockerclient.Port, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, b := range m[k] {
			if p, err := strconv.Atoi(b.HostPort); err == nil && p > 0 {
				return p
			}
		}
	}
	return 0
}

func labelString(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}"
}
