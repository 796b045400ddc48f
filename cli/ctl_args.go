package cli

import (
	"io"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// valueError is why a flag's value is refused; flagError prints it after
// the flag and the value: `--limit "ten" is not a non-negative integer`.
type valueError string

func (e valueError) Error() string { return string(e) }

// countValue is a flag holding a non-negative integer.
type countValue struct{ n *int }

func newCount(n *int, def int) *countValue {
	*n = def
	return &countValue{n: n}
}

func (v *countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return valueError("is not a non-negative integer")
	}
	*v.n = n
	return nil
}

func (v *countValue) String() string {
	if v.n == nil || *v.n < 0 {
		return ""
	}
	return strconv.Itoa(*v.n)
}

func (v *countValue) Type() string { return "N" }

// durationValue is a flag holding a positive duration.
type durationValue struct{ d *time.Duration }

func newDuration(d *time.Duration, def time.Duration) *durationValue {
	*d = def
	return &durationValue{d: d}
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return valueError("is not a positive duration (use 90s, 10m)")
	}
	*v.d = d
	return nil
}

func (v *durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v *durationValue) Type() string { return "D" }

// isTerminal reports whether w is a terminal: a file whose terminal
// attributes can be read (/dev/null, a character device too, is not one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// defaultWidth is the width of a terminal that does not tell its own.
const defaultWidth = 80

// termWidth returns the number of columns of the terminal w, or
// defaultWidth when it does not say.
func termWidth(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return defaultWidth
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return defaultWidth
	}
	return int(ws.Col)
}

// termHeight returns the number of rows of the terminal w, 0 when it does
// not say.
func termHeight(w io.Writer) int {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Row)
}
