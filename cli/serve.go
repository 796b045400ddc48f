package cli

import (
	"context"
	"fmt"
	"io"
)

// runServe runs the supervisor (bluegreen serve). Owned by the actors work.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "serve: not built yet")
	return 1
}
