package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bluegreen/bluegreen/deploy"
)

// imagesCmd builds `bluegreen ctl images`.
func (c *ctl) imagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "images APP",
		Short:             "the app's images that bluegreen keeps (docker.keep_images), newest first",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: c.completeApp,
		RunE: c.run(func(ctx context.Context, cmd *cobra.Command, args []string) int {
			images, err := c.client.Images(ctx, args[0])
			return c.answer(orEmpty(images), err, func(w io.Writer) { c.fmt.imagesTable(w, images) })
		}),
	}
}

// imagesTable writes one row per image.
func (f formatter) imagesTable(w io.Writer, images []deploy.Image) {
	if len(images) == 0 {
		fmt.Fprintln(w, "(no images of this app in Docker)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tID\tSIZE\tCREATED\tIN USE\tLAST DEPLOYMENT")
	for _, im := range images {
		inUse := "no"
		if im.InUse {
			inUse = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t#%d\n", im.Image, shortImageID(im.ID), size(im.SizeBytes), f.age(im.CreatedAt), inUse, im.LastDeploymentID)
	}
	tw.Flush()
}

// shortImageID is the 12 hex digits docker images shows.
func shortImageID(id string) string {
	if len(id) > 7 && id[:7] == "sha256:" {
		id = id[7:]
	}
	return shortID(id)
}

// size writes bytes as docker does (decimal units).
func size(b int64) string {
	switch {
	case b <= 0:
		return "-"
	case b < 1000:
		return fmt.Sprintf("%dB", b)
	case b < 1000*1000:
		return fmt.Sprintf("%.1fkB", float64(b)/1000)
	case b < 1000*1000*1000:
		return fmt.Sprintf("%.1fMB", float64(b)/1e6)
	}
	return fmt.Sprintf("%.2fGB", float64(b)/1e9)
}
