package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
)

// This file is the one YAML encoder of render output. Its output is what sigs.k8s.io/yaml
// (JSON encode, read the JSON with go.yaml.in/yaml/v2, write it with yaml/v2) writes, with
// one difference: map keys are in CompareKeys order, a total order, where yaml/v2's
// "natural" order is not a strict weak ordering (a1b < a9 < a10 < a1b) and its output then
// follows Go's random map order. On keys where yaml/v2's order is consistent the two agree
// for every key Kubernetes objects use in practice (TestMarshalMatchesSigsYAML).
//
// Three paths give the same bytes (TestMarshalPathsAgree):
//   - most rendered objects hold only plain scalars (names, labels, images, ports): the
//     docWriter writes them itself in yaml/v2's block style, in one pass that checks each
//     node as it writes it and gives up on the first it is not sure of;
//   - a document with a scalar the docWriter is not sure about goes to yaml/v2 directly,
//     with maps turned into ordered MapSlices;
//   - anything not JSON-compatible goes through JSON first, as sigs.k8s.io/yaml does.

// Marshal encodes the object as YAML with keys in CompareKeys order; the output ends with a
// newline. The same document always gives the same bytes, whatever order its maps were
// built in.
func Marshal(o Object) ([]byte, error) {
	b, err := encode(o.Doc)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %s %s: %w", o.Source, o.Kind(), o.Name(), err)
	}
	return b, nil
}

// MarshalValue encodes anything encoding/json can encode (a typed struct, such as a
// kustomization.yaml or a provenance record) the way Marshal encodes an object.
func MarshalValue(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	doc, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	// The decoded document holds json.Numbers, which the docWriter writes when they are
	// integers, as yaml/v2 writes what it reads from their text.
	if m, ok := doc.(map[string]any); ok && len(m) > 0 {
		if b, ok := writeDoc(m); ok {
			return b, nil
		}
	}
	return encodeDecodedJSON(doc)
}

// encode writes v in one pass with the docWriter when it can, else through yaml/v2 (after
// a JSON round trip when v is not JSON-compatible).
func encode(v any) ([]byte, error) {
	if m, ok := v.(map[string]any); ok {
		if len(m) == 0 {
			return []byte("{}\n"), nil
		}
		if b, ok := writeDoc(m); ok {
			return b, nil
		}
	}
	if jsonCompatible(v, 0) {
		return encodeV2(ordered(v))
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return encodeJSON(raw)
}

// encodeJSON writes a JSON document as YAML: numbers are read as yaml/v2 reads them (what
// sigs.k8s.io/yaml does), maps become MapSlices in CompareKeys order.
func encodeJSON(raw []byte) ([]byte, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return encodeDecodedJSON(v)
}

// decodeJSON decodes a JSON document with numbers as json.Number.
func decodeJSON(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// encodeDecodedJSON writes what decodeJSON decoded with yaml/v2.
func encodeDecodedJSON(v any) ([]byte, error) {
	v, err := fromJSON(v)
	if err != nil {
		return nil, err
	}
	return encodeV2(v)
}

func encodeV2(v any) ([]byte, error) {
	b, err := yamlv2.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b, nil
}

// fromJSON turns a document decoded with UseNumber into yaml/v2 values: numbers as yaml/v2
// resolves their JSON text, maps as ordered MapSlices.
func fromJSON(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		var n any
		if err := yamlv2.Unmarshal([]byte(v), &n); err != nil {
			return nil, fmt.Errorf("number %s: %w", v, err)
		}
		return n, nil
	case map[string]any:
		ms := make(yamlv2.MapSlice, 0, len(v))
		for _, k := range SortedKeys(v) {
			c, err := fromJSON(v[k])
			if err != nil {
				return nil, err
			}
			ms = append(ms, yamlv2.MapItem{Key: k, Value: c})
		}
		return ms, nil
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			n, err := fromJSON(c)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

// CompareKeys is the order of map keys in Marshal's output, a total order (it returns 0 only
// for equal strings) close to yaml/v2's natural order. Keys are compared as sequences of
// tokens: a run of ASCII digits, or one other rune. Digit runs compare by value, then the
// shorter (fewer leading zeros) first; other tokens by class (neither letter nor digit, then
// digit runs, then letters), then by rune. A key that is a prefix of another comes first.
func CompareKeys(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := i+1, j+1
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
			if c := compareNumbers(a[i:ei], b[j:ej]); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if ca, cb := a[i], b[j]; ca < utf8.RuneSelf && cb < utf8.RuneSelf {
			// Two ASCII runes, at least one not a digit: the rune and its class are
			// the byte, as below, without decoding.
			if ca == cb {
				i, j = i+1, j+1
				continue
			}
			return cmp.Or(cmp.Compare(asciiClass(ca), asciiClass(cb)), cmp.Compare(ca, cb))
		}
		ra, sa := utf8.DecodeRuneInString(a[i:])
		rb, sb := utf8.DecodeRuneInString(b[j:])
		ta, tb := a[i:i+sa], b[j:j+sb]
		if ta == tb {
			i, j = i+sa, j+sb
			continue
		}
		if c := cmp.Compare(keyClass(a[i], ra), keyClass(b[j], rb)); c != 0 {
			return c
		}
		return strings.Compare(ta, tb) // UTF-8 byte order is rune order
	}
	return cmp.Compare(len(a)-i, len(b)-j)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func keyClass(first byte, r rune) int {
	switch {
	case isDigit(first):
		return 1
	case r != utf8.RuneError && unicode.IsLetter(r):
		return 2
	}
	return 0
}

// asciiClass is keyClass of an ASCII character.
func asciiClass(c byte) int {
	switch {
	case isDigit(c):
		return 1
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return 2
	}
	return 0
}

// compareNumbers compares two runs of ASCII digits by value, then by length.
func compareNumbers(a, b string) int {
	ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	return cmp.Or(cmp.Compare(len(ta), len(tb)), strings.Compare(ta, tb), cmp.Compare(len(a), len(b)))
}

// SortedKeys returns m's keys in CompareKeys order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, CompareKeys)
	return keys
}

// ordered turns maps into yaml/v2 MapSlices in CompareKeys order.
func ordered(v any) any {
	switch v := v.(type) {
	case map[string]any:
		ms := make(yamlv2.MapSlice, 0, len(v))
		for _, k := range SortedKeys(v) {
			ms = append(ms, yamlv2.MapItem{Key: k, Value: ordered(v[k])})
		}
		return ms
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			out[i] = ordered(c)
		}
		return out
	}
	return v
}

type style int

const (
	unsure       style = iota // leave it to yaml/v2
	plain                     // written as is
	doubleQuoted              // written in double quotes, nothing to escape
)

// isYAML11Word reports the plain scalars YAML 1.1 reads as booleans or null: yaml/v2 quotes
// them.
func isYAML11Word(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL":
		return true
	}
	return false
}

// scalarStyle says how yaml/v2 writes the string s, judged conservatively (unsure when in
// doubt). Double-quoted: "" and the YAML 1.1 bool and null words, and strings of digits
// (they read as numbers). Plain: printable ASCII without spaces, quotes, comment or flow
// indicators, not ending in ':', that starts with a letter (and is not one of those words),
// with '/' or "./", with '-' or "--" and a letter, or with a digit and holds a letter no
// number or timestamp can hold ("128Mi", "100m").
func scalarStyle(s string) style {
	if s == "" || isYAML11Word(s) {
		return doubleQuoted
	}
	digits := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '_', c == '/', c == '-', c == '=', c == '+', c == '@':
			digits = false
		case c == ':':
			digits = false
			if i+1 == len(s) || s[i+1] == ' ' {
				return unsure
			}
		default:
			return unsure
		}
	}
	if digits {
		return doubleQuoted
	}
	letter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	switch c := s[0]; {
	case letter(c):
		if len(s) <= len("false") && isYAML11Word(strings.ToLower(s)) { // no allocation for longer words
			return unsure // "yES": yaml/v2 writes it plain, but why be clever
		}
		return plain
	case c == '/':
		return plain
	case c == '.':
		if len(s) > 1 && s[1] == '/' {
			return plain
		}
	case c == '-':
		if len(s) > 1 && letter(s[1]) || len(s) > 2 && s[1] == '-' && letter(s[2]) {
			return plain
		}
	case c >= '0' && c <= '9':
		// Letters a number, float or timestamp can hold: hex digits, base prefixes,
		// exponents, the T and Z of timestamps, inf and nan.
		if strings.IndexFunc(s, func(r rune) bool {
			return (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') && !strings.ContainsRune("abcdefABCDEFxXoOtTzZinINeE", r)
		}) >= 0 {
			return plain
		}
	}
	return unsure
}

// writeDoc writes a non-empty map in yaml/v2's block style when every node in it is one
// the docWriter writes exactly as the yaml/v2 path would: keys that scalarStyle finds plain,
// strings it is sure of, integers, booleans, nil (and json.Numbers holding an integer),
// nested at most as deep as jsonCompatible allows. ok is false otherwise, and the caller
// takes another path.
//
// It replaces a jsonCompatible walk, a walk checking the scalars and a third writing them:
// the checks are made on the one walk that writes, and scalarStyle runs once per string.
func writeDoc(m map[string]any) (b []byte, ok bool) {
	w := docWriter{b: make([]byte, 0, 1024)}
	if !w.mapping(m, 0, 0) {
		return nil, false
	}
	return w.b, true
}

// docWriter is one writeDoc run.
type docWriter struct {
	b []byte
}

func (w *docWriter) indent(n int) {
	for range n {
		w.b = append(w.b, ' ')
	}
}

// mapping writes a non-empty map at depth whose first key starts at the current position
// (the caller wrote the indent, or "- "); later keys are indented by indent.
func (w *docWriter) mapping(m map[string]any, indent, depth int) bool {
	var room [16]string // on the stack: most maps sort their keys without an allocation
	keys := room[:0]
	for k := range m {
		if scalarStyle(k) != plain {
			return false
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, CompareKeys)
	for i, k := range keys {
		if i > 0 {
			w.indent(indent)
		}
		w.b = append(w.b, k...)
		w.b = append(w.b, ':')
		if !w.value(m[k], indent, false, depth+1) {
			return false
		}
	}
	return true
}

// seq writes a non-empty sequence at depth whose first "-" goes at the current position;
// later ones are indented by indent.
func (w *docWriter) seq(s []any, indent, depth int) bool {
	for i, v := range s {
		if i > 0 {
			w.indent(indent)
		}
		w.b = append(w.b, '-')
		if !w.value(v, indent, true, depth+1) {
			return false
		}
	}
	return true
}

// value writes what follows "key:" (inSeq false) or "-" (inSeq true), a node at depth.
func (w *docWriter) value(v any, indent int, inSeq bool, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			w.b = append(w.b, " {}\n"...)
			return true
		}
		if inSeq {
			w.b = append(w.b, ' ')
		} else {
			w.b = append(w.b, '\n')
			w.indent(indent + 2)
		}
		return w.mapping(v, indent+2, depth)
	case []any:
		if len(v) == 0 {
			w.b = append(w.b, " []\n"...)
			return true
		}
		if inSeq {
			w.b = append(w.b, ' ')
			return w.seq(v, indent+2, depth)
		}
		w.b = append(w.b, '\n')
		w.indent(indent)
		return w.seq(v, indent, depth)
	case string:
		switch scalarStyle(v) {
		case plain:
			w.b = append(w.b, ' ')
			w.b = append(w.b, v...)
		case doubleQuoted:
			w.b = append(w.b, " \""...)
			w.b = append(w.b, v...)
			w.b = append(w.b, '"')
		default:
			return false
		}
	case nil:
		w.b = append(w.b, " null"...)
	case bool:
		w.b = append(w.b, ' ')
		w.b = strconv.AppendBool(w.b, v)
	case int64:
		w.b = append(w.b, ' ')
		w.b = strconv.AppendInt(w.b, v, 10)
	case int:
		w.b = append(w.b, ' ')
		w.b = strconv.AppendInt(w.b, int64(v), 10)
	case json.Number:
		// yaml/v2 reads a JSON integer's text as that integer and writes it back in
		// decimal ("-0" as 0); anything else (fractions, exponents, overflow) is left to
		// it.
		n, ok := jsonInt(v)
		if !ok {
			return false
		}
		w.b = append(w.b, ' ')
		w.b = strconv.AppendInt(w.b, n, 10)
	default:
		return false // floats are left to yaml/v2, other types to the JSON path
	}
	w.b = append(w.b, '\n')
	return true
}

// jsonInt parses a JSON integer, -?(0|[1-9][0-9]*), that fits an int64.
func jsonInt(n json.Number) (int64, bool) {
	d := strings.TrimPrefix(string(n), "-")
	if d == "" || d[0] == '0' && len(d) > 1 {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if !isDigit(d[i]) {
			return 0, false
		}
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// maxDepth is how deeply nested a document the direct paths write: deeper ones are left
// to the JSON path.
const maxDepth = 100

// jsonCompatible reports whether v holds only what a JSON round trip leaves unchanged and
// yaml/v2 writes as sigs.k8s.io/yaml would: maps with valid UTF-8 string keys, slices of
// any, valid UTF-8 strings, integers, non-integral finite floats, booleans and nil.
func jsonCompatible(v any, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if !utf8.ValidString(k) || !jsonCompatible(c, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, c := range v {
			if !jsonCompatible(c, depth+1) {
				return false
			}
		}
		return true
	case float64:
		// An integral float goes through JSON as an integer; leave it to the JSON path.
		return !math.IsNaN(v) && !math.IsInf(v, 0) && v != math.Trunc(v)
	case string:
		return utf8.ValidString(v)
	case bool, nil, int64, int:
		return true
	}
	return false
}
