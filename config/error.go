package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem of an app config, at a place in a file.
type Error struct {
	File      string
	Line, Col int    // 1-based; 0 when the problem has no place in the file (e.g. it cannot be read)
	Field     string // the field path, e.g. "health_check.interval"; empty for the whole file
	Msg       string // what is wrong and what is expected
}

// Error formats the problem as "file:line:col: field: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are all the problems found, sorted by file, line and column.
type Errors []*Error

// Error gives one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the problems by file, line and column, keeping the order of
// problems at the same place.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
		)
	})
}

// err returns es as an error, or nil when there is no problem.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}
