package config

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// pos is a place in a file, 1-based.
type pos struct{ line, col int }

// field is one value of the YAML document, found under a key or in a list.
type field struct {
	path string   // e.g. "docker.environment[2]"
	key  pos      // the key's place (the item's place in a list)
	at   pos      // the value's place; the key's when the value is null
	node ast.Node // the value with anchors, aliases and tags resolved; nil when null
}

// decoder walks the YAML AST of one file and collects its problems.
type decoder struct {
	file    string
	errs    Errors
	anchors map[string]ast.Node
	places  map[string]pos // where each field that was set is, by path
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, anchors: map[string]ast.Node{}, places: map[string]pos{}}
}

// errorf records a problem at p.
func (d *decoder) errorf(p pos, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// collectAnchors records every anchor of the document, so that aliases can
// be resolved wherever they are used.
func (d *decoder) collectAnchors(n ast.Node) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil && v.Name.GetToken() != nil {
			d.anchors[v.Name.GetToken().Value] = v.Value
		}
		d.collectAnchors(v.Value)
	case *ast.TagNode:
		d.collectAnchors(v.Value)
	case *ast.MappingKeyNode:
		d.collectAnchors(v.Value)
	case *ast.MappingNode:
		for _, kv := range v.Values {
			d.collectAnchors(kv.Key)
			d.collectAnchors(kv.Value)
		}
	case *ast.SequenceNode:
		for _, item := range v.Values {
			d.collectAnchors(item)
		}
	}
}

// resolve follows anchors, aliases and tags to the value; null becomes nil.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for depth := 0; n != nil && depth < 32; depth++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		case *ast.AliasNode:
			if v.Value == nil {
				return nil
			}
			n = d.anchors[v.Value.GetToken().Value]
		case *ast.NullNode:
			return nil
		default:
			return n
		}
	}
	return n
}

// placeOf is where a node starts: for a block mapping its first key.
func placeOf(n ast.Node) pos {
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		return placeOf(m.Values[0].Key)
	}
	if n == nil || n.GetToken() == nil {
		return pos{1, 1}
	}
	p := n.GetToken().Position
	return pos{p.Line, p.Column}
}

// newField makes the field of a value found at path under a key at key.
func (d *decoder) newField(path string, key pos, value ast.Node) *field {
	f := &field{path: path, key: key, at: key, node: d.resolve(value)}
	if f.node != nil {
		f.at = placeOf(value)
	}
	d.places[path] = f.at
	return f
}

// mapping decodes a mapping strictly: every key must be one of allowed and
// appear once. It returns the values by key; ok is false when f is not a
// mapping at all.
func (d *decoder) mapping(f *field, allowed []string) (map[string]*field, bool) {
	m, isMap := f.node.(*ast.MappingNode)
	if !isMap {
		d.errorf(f.at, f.path, "expected a mapping with the keys %s, got %s", strings.Join(allowed, ", "), describe(f.node))
		return nil, false
	}
	out := make(map[string]*field, len(m.Values))
	for _, kv := range m.Values {
		kp := placeOf(kv.Key)
		if _, merge := kv.Key.(*ast.MergeKeyNode); merge {
			d.errorf(kp, f.path, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		name, ok := d.keyText(kv.Key)
		if !ok {
			d.errorf(kp, f.path, "expected a plain key, got %s", describe(d.resolve(kv.Key)))
			continue
		}
		path := join(f.path, name)
		if !contains(allowed, name) {
			msg := fmt.Sprintf("unknown key %q (allowed: %s)", name, strings.Join(allowed, ", "))
			if s := suggest(name, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(kp, path, "%s", msg)
			continue
		}
		if prev, dup := out[name]; dup {
			d.errorf(kp, path, "is set twice (first at line %d)", prev.key.line)
			continue
		}
		out[name] = d.newField(path, kp, kv.Value)
	}
	return out, true
}

// sequence returns the items of a list; ok is false when f is not a list.
func (d *decoder) sequence(f *field, what string) ([]*field, bool) {
	s, isSeq := f.node.(*ast.SequenceNode)
	if !isSeq {
		d.errorf(f.at, f.path, "expected a list of %s, got %s", what, describe(f.node))
		return nil, false
	}
	items := make([]*field, len(s.Values))
	for i, v := range s.Values {
		items[i] = d.newField(fmt.Sprintf("%s[%d]", f.path, i), placeOf(v), v)
	}
	return items, true
}

// text returns a scalar's text (numbers and booleans as written).
func (d *decoder) text(f *field, what string) (string, bool) {
	s, ok := scalarText(f.node)
	if !ok {
		d.errorf(f.at, f.path, "expected %s, got %s", what, describe(f.node))
	}
	return s, ok
}

// integer returns a YAML integer.
func (d *decoder) integer(f *field, what string) (int64, bool) {
	n, isInt := f.node.(*ast.IntegerNode)
	if !isInt {
		d.errorf(f.at, f.path, "expected %s, got %s", what, describe(f.node))
		return 0, false
	}
	switch v := n.Value.(type) {
	case int64:
		return v, true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	}
	d.errorf(f.at, f.path, "%s is too large: expected %s", n.Token.Value, what)
	return 0, false
}

// keyText is the text of a mapping key; a key that YAML reads as null
// ("NULL", "~") is taken as written.
func (d *decoder) keyText(n ast.Node) (string, bool) {
	if nn, ok := n.(*ast.NullNode); ok && nn.Token != nil && nn.Token.Value != "" {
		return nn.Token.Value, true
	}
	return scalarText(d.resolve(n))
}

// scalarText is the text of a scalar node: strings unquoted, numbers and
// booleans as written.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// describe names what a node is, for messages: `a list`, `the string "x"`.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing (null)"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", v.Value)
	case *ast.LiteralNode:
		return "a text block"
	case *ast.IntegerNode:
		return "the integer " + v.Token.Value
	case *ast.FloatNode:
		return "the number " + v.Token.Value
	case *ast.BoolNode:
		return "the boolean " + v.Token.Value
	}
	return fmt.Sprintf("%s %q", strings.ToLower(n.Type().String()), n.GetToken().Value)
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the allowed key closest to a misspelt one, if close enough.
// A key that starts an allowed one ("drain" for drain_timeout) or is within
// two edits of it counts.
func suggest(key string, allowed []string) string {
	key = strings.ToLower(key)
	cands := append([]string(nil), allowed...)
	sort.Strings(cands)
	if len(key) >= 3 {
		for _, a := range cands {
			if strings.HasPrefix(a, key) {
				return a
			}
		}
	}
	best, bestDist := "", 3
	for _, a := range cands {
		if dist := editDistance(key, a); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and
// transpositions of adjacent bytes that turn a into b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
