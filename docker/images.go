package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	dockerclient "github.com/fsouza/go-dockerclient"
)

// ErrImageInUse means Docker refused to remove an image: a container uses
// it, or it has children.
var ErrImageInUse = errors.New("image in use")

// Image is a local image as Docker lists it.
type Image struct {
	ID        string   // "sha256:..."
	Refs      []string // its tags and digest references, normalized (NormalizeRef)
	SizeBytes int64
	Created   time.Time
}

// Images lists the local images (not the intermediate layers).
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	list, err := c.dc.ListImages(dockerclient.ListImagesOptions{Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", c.cause(err))
	}
	out := make([]Image, 0, len(list))
	for _, im := range list {
		refs := make([]string, 0, len(im.RepoTags)+len(im.RepoDigests))
		for _, r := range slices.Concat(im.RepoTags, im.RepoDigests) {
			if r == "<none>:<none>" || r == "<none>@<none>" || strings.HasPrefix(r, "<none>") {
				continue
			}
			refs = append(refs, NormalizeRef(r))
		}
		out = append(out, Image{ID: im.ID, Refs: refs, SizeBytes: im.Size, Created: time.Unix(im.Created, 0).UTC()})
	}
	return out, nil
}

// ImagesInUse returns the IDs of the images that containers use, in any
// state and whoever made them. Each container is inspected: the list of
// containers names an image by the reference it was created from, which
// may point to another image by now.
func (c *Client) ImagesInUse(ctx context.Context) (map[string]bool, error) {
	list, err := c.dc.ListContainers(dockerclient.ListContainersOptions{All: true, Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", c.cause(err))
	}
	used := make(map[string]bool, len(list))
	for _, l := range list {
		ct, err := c.Inspect(ctx, l.ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed since listed
		}
		if err != nil {
			return nil, fmt.Errorf("images in use: %w", err)
		}
		used[ct.ImageID] = true
	}
	return used, nil
}

// RemoveImage removes the reference ref (a tag or digest reference), as
// `docker rmi ref` does without --force: an image with other references
// only loses this one; an image with no reference left is deleted with its
// untagged parents. Docker refusing because a container uses the image
// matches ErrImageInUse, a missing reference ErrImageMissing.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	err := c.dc.RemoveImageExtended(ref, dockerclient.RemoveImageOptions{Context: ctx})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dockerclient.ErrNoSuchImage):
		return fmt.Errorf("remove image %s: %w", ref, ErrImageMissing)
	case apiStatus(err) == http.StatusConflict:
		return fmt.Errorf("remove image %s: %w: %s", ref, ErrImageInUse, apiMessage(err))
	}
	return fmt.Errorf("remove image %s: %w", ref, c.cause(err))
}

// NormalizeRef writes an image reference as Docker lists it: a tag of
// "latest" when it has neither tag nor digest, and Docker Hub's familiar
// form ("nginx:1" for "docker.io/library/nginx:1").
func NormalizeRef(ref string) string {
	repo, tag := splitRef(ref)
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if r, ok := strings.CutPrefix(repo, p); ok && r != "" {
			repo = r
			break
		}
	}
	return joinRef(repo, tag)
}
