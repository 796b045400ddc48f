package cli

import (
	"fmt"
	"io"
)

// runValidate checks app configs (bluegreen validate). Owned by the config work.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "validate: not built yet")
	return 1
}
