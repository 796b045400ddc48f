package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// Logs returns the last tail lines (all when tail <= 0) the container wrote
// to stdout and stderr, in the order written. A missing container matches
// ErrNotFound.
func (c *Client) Logs(ctx context.Context, id string, tail int) ([]string, error) {
	var buf bytes.Buffer
	if err := c.logs(ctx, id, tail, false, &buf); err != nil {
		return nil, err
	}
	text := strings.TrimSuffix(buf.String(), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines, nil
}

// StreamLogs copies the container's stdout and stderr to w, starting with
// the last tail lines (all when tail <= 0). With follow it keeps streaming
// new output until ctx is done or the container stops; both end it without
// error. A missing container matches ErrNotFound.
func (c *Client) StreamLogs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error {
	err := c.logs(ctx, id, tail, follow, &lockedWriter{w: w})
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Client) logs(ctx context.Context, id string, tail int, follow bool, w io.Writer) error {
	t := "all"
	if tail > 0 {
		t = strconv.Itoa(tail)
	}
	err := c.dc.Logs(dockerclient.LogsOptions{
		Context:      ctx,
		Container:    id,
		OutputStream: w,
		ErrorStream:  w,
		Tail:         t,
		Follow:       follow,
		Stdout:       true,
		Stderr:       true,
	})
	if err == nil {
		return nil
	}
	var missing *dockerclient.NoSuchContainer
	if apiStatus(err) == http.StatusNotFound || errors.As(err, &missing) {
		return fmt.Errorf("logs of container %s: %w", id, ErrNotFound)
	}
	return fmt.Errorf("logs of container %s: %w", id, c.cause(err))
}

// lockedWriter serializes writes, as stdout and stderr share one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
