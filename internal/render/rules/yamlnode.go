package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error Load reports about the content of the rules repo.
var ErrInvalid = errors.New("invalid rules repo")

// FieldError is one problem in one rules file: where it is, what is wrong, and how to fix it.
type FieldError struct {
	File  string // path inside the rules repo
	Line  int    // 1-based; 0 when unknown
	Field string // YAML path inside the file, e.g. "[2].criteria[0].env_id"
	Msg   string
	Fix   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	if e.Fix != "" {
		b.WriteString("; " + e.Fix)
	}
	return b.String()
}

// Unwrap lets callers test errors.Is(err, ErrInvalid).
func (e *FieldError) Unwrap() error { return ErrInvalid }

// maxNodes bounds the work one YAML file may cause (aliases can multiply it).
const maxNodes = 200_000

// decoder walks the yaml.v3 node tree of one file, collecting errors with their positions.
// Walking nodes by hand (instead of decoding into structs) gives strict unknown-field
// errors with line numbers and suggestions.
type decoder struct {
	file  string
	errs  []*FieldError
	nodes int
}

func (d *decoder) fail(n *yaml.Node, field, fix, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// resolve follows aliases and counts nodes so that alias bombs stop early.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "an unexpected node"
}

// fields checks that n is a mapping whose keys are all in allowed, without duplicates, and
// returns the value nodes by key. ok is false when n is not a mapping.
func (d *decoder) fields(n *yaml.Node, path string, allowed []string) (map[string]*yaml.Node, bool) {
	n = d.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.fail(n, path, "write it as a mapping of key: value", "expected a mapping, found %s", kindName(n))
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.fail(n.Content[i], path, "use plain field names as keys", "keys must be strings")
			continue
		}
		key := k.Value
		if _, dup := out[key]; dup {
			d.fail(k, join(path, key), "remove one of them", "field is set twice")
			continue
		}
		if !slices.Contains(allowed, key) {
			fix := "allowed fields: " + strings.Join(allowed, ", ")
			if s := Suggest(key, allowed); s != "" {
				fix = "did you mean " + strconv.Quote(s) + "? " + fix
			}
			d.fail(k, join(path, key), fix, "unknown field %q", key)
			continue
		}
		out[key] = n.Content[i+1]
	}
	return out, true
}

// str reads a scalar as text; null reads as "". Any other node kind is an error.
func (d *decoder) str(n *yaml.Node, path string) string {
	n = d.resolve(n)
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "write a single value", "expected a string, found %s", kindName(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// isNull reports whether n is absent or an explicit null.
func (d *decoder) isNull(n *yaml.Node) bool {
	n = d.resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	n = d.resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.fail(n, path, "write true or false", "expected a boolean, found %s", describe(n))
		return false
	}
	v, _ := strconv.ParseBool(n.Value)
	return v
}

func (d *decoder) int32Value(n *yaml.Node, path string) (int32, bool) {
	n = d.resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.fail(n, path, "write a whole number", "expected an integer, found %s", describe(n))
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil || v < 0 || v > math.MaxInt32 {
		d.fail(n, path, "write a number between 0 and 2147483647", "integer %s out of range", n.Value)
		return 0, false
	}
	return int32(v), true
}

func describe(n *yaml.Node) string {
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

// strList reads a list of strings.
func (d *decoder) strList(n *yaml.Node, path string) []string {
	n = d.resolve(n)
	if d.isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "write a list, e.g. [a, b]", "expected a list of strings, found %s", kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, d.str(c, index(path, i)))
	}
	return out
}

// strMap reads a mapping of string to string, keys sorted on output by callers.
func (d *decoder) strMap(n *yaml.Node, path string) map[string]string {
	n = d.resolve(n)
	if d.isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write key: value pairs", "expected a mapping of strings, found %s", kindName(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			d.fail(n.Content[i], path, "use strings as keys", "keys must be strings")
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.fail(k, join(path, k.Value), "remove one of them", "key is set twice")
			continue
		}
		out[k.Value] = d.str(n.Content[i+1], join(path, k.Value))
	}
	return out
}

// value converts a node to a JSON-compatible value: map[string]any, []any, string, int64,
// float64, bool or nil.
func (d *decoder) value(n *yaml.Node, path string, depth int) (any, bool) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, path, "make the file smaller or avoid repeated aliases", "document too large (more than %d nodes)", maxNodes)
		}
		return nil, false
	}
	if depth > 100 {
		d.fail(n, path, "flatten the value", "nesting deeper than 100 levels")
		return nil, false
	}
	n = d.resolve(n)
	if n == nil {
		d.fail(nil, path, "remove the alias loop", "unresolvable alias")
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.resolve(n.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				d.fail(n.Content[i], path, "use plain string keys (merge keys << are not supported)", "unsupported key")
				ok = false
				continue
			}
			if _, dup := m[k.Value]; dup {
				d.fail(k, join(path, k.Value), "remove one of them", "key is set twice")
				ok = false
				continue
			}
			v, vok := d.value(n.Content[i+1], join(path, k.Value), depth+1)
			ok = ok && vok
			m[k.Value] = v
		}
		return m, ok
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			v, vok := d.value(c, index(path, i), depth+1)
			ok = ok && vok
			l = append(l, v)
		}
		return l, ok
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, true
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				d.fail(n, path, "write true or false", "invalid boolean %q", n.Value)
				return nil, false
			}
			return b, true
		case "!!int":
			var i int64
			if err := n.Decode(&i); err == nil {
				return i, true
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				d.fail(n, path, "write a smaller number or quote it", "invalid number %q", n.Value)
				return nil, false
			}
			return f, true
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				d.fail(n, path, "write a finite number or quote it", "invalid number %q", n.Value)
				return nil, false
			}
			return f, true
		case "!!str", "":
			return n.Value, true
		case "!!binary", "!!timestamp":
			return n.Value, true
		default:
			if strings.HasPrefix(n.Tag, "!!") {
				d.fail(n, path, "remove the tag or quote the value", "unsupported YAML tag %s", n.Tag)
				return nil, false
			}
			return n.Value, true
		}
	}
	d.fail(n, path, "write a plain YAML value", "unsupported YAML node")
	return nil, false
}

// Suggest returns the name in allowed closest to got when it is close enough to be a typo
// of it (case, '-' and '_' aside, at most two edits away), else "". Error messages use it
// for "did you mean"; package render uses it for Score fields too.
func Suggest(got string, allowed []string) string {
	best, bestDist := "", 3
	g := strings.ToLower(got)
	for _, a := range allowed {
		al := strings.ToLower(a)
		norm := func(s string) string { return strings.NewReplacer("_", "", "-", "").Replace(s) }
		if norm(al) == norm(g) {
			return a
		}
		if dist := levenshtein(g, al); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
