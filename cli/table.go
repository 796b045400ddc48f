package cli

import (
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// column is a column of a table that fits a width (fitTable).
type column struct {
	head string
	// drop orders the columns given up when the table is too wide: the
	// lowest first; 0 is never dropped.
	drop int
	// cut lets its cells be cut: to comfortCut runes before any column is
	// dropped, further when dropping is not enough. The cut keeps a cell's
	// end ("…/web-api:20250630-1010-a333666"): the tag of an image.
	cut bool
}

// A column that may be cut keeps comfortCut runes before other columns are
// dropped, minCut at least.
const (
	comfortCut = 24
	minCut     = 8
)

// fitTable writes rows under cols as text/tabwriter would (each column as
// wide as its widest cell, two spaces between columns, none after the
// last). With width > 0 every line fits in width runes: the columns that
// may be cut are cut to comfortCut, columns are dropped by their drop
// order, the cut columns get back the room left, then they are cut down
// to minCut, then each line is cut. With width 0 nothing is dropped or
// cut.
func fitTable(w io.Writer, cols []column, rows [][]string, width int) {
	keep, widths := layout(cols, rows, width)
	last := -1
	for i := range cols {
		if keep[i] {
			last = i
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, cell := range cells {
			if !keep[i] {
				continue
			}
			if cols[i].cut {
				cell = cutStart(cell, widths[i])
			} else {
				cell = cutRunes(cell, widths[i])
			}
			b.WriteString(cell)
			if i != last {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2))
			}
		}
		s := b.String()
		if width > 0 {
			s = cutRunes(s, width)
		}
		io.WriteString(w, s+"\n")
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	line(heads)
	for _, r := range rows {
		line(r)
	}
}

// layout decides which columns fitTable shows (keep) and how wide each is.
func layout(cols []column, rows [][]string, width int) (keep []bool, widths []int) {
	widths = make([]int, len(cols))
	keep = make([]bool, len(cols))
	for i, c := range cols {
		keep[i] = true
		widths[i] = utf8.RuneCountInString(c.head)
		for _, r := range rows {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	if width <= 0 {
		return keep, widths
	}
	total := func() int {
		n, shown := 0, 0
		for i, k := range keep {
			if k {
				n += widths[i]
				shown++
			}
		}
		return n + 2*max(shown-1, 0)
	}
	full := slices.Clone(widths)
	if total() > width {
		for i, c := range cols {
			if c.cut {
				widths[i] = min(widths[i], comfortCut)
			}
		}
	}
	for total() > width {
		next := -1
		for i, c := range cols {
			if keep[i] && c.drop > 0 && (next < 0 || c.drop < cols[next].drop) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		keep[next] = false
	}
	for i, c := range cols {
		if room := width - total(); room > 0 && keep[i] && c.cut {
			widths[i] = min(full[i], widths[i]+room)
		}
		if over := total() - width; over > 0 && keep[i] && c.cut {
			widths[i] = max(widths[i]-over, minCut)
		}
	}
	return keep, widths
}

// cutRunes cuts s to at most n runes, the last one "…" when it cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// cutStart cuts s to at most n runes from its start, the first one "…"
// when it cut.
func cutStart(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return "…" + string(r[len(r)-n+1:])
}
