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
//   - most rendered objects hold only plain scalars (names, labels, images, ports): writeMap
//     writes them itself in yaml/v2's block style;
//   - a document with a scalar writeMap is not sure about goes to yaml/v2 directly, with
//     maps turned into ordered MapSlices;
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
	return encodeJSON(raw)
}

func encode(v any) ([]byte, error) {
	if m, ok := v.(map[string]any); ok && jsonCompatible(m, 0) && simpleDoc(m) {
		var b bytes.Buffer
		b.Grow(1024)
		if len(m) == 0 {
			b.WriteString("{}\n")
		} else {
			writeMap(&b, m, 0)
		}
		return b.Bytes(), nil
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
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
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

// simpleDoc reports whether every key and string value is one writeScalar writes as
// yaml/v2 would (see scalarStyle), and no number is a float.
func simpleDoc(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if scalarStyle(k) != plain || !simpleDoc(c) {
				return false
			}
		}
	case []any:
		for _, c := range v {
			if !simpleDoc(c) {
				return false
			}
		}
	case string:
		return scalarStyle(v) != unsure
	case float64:
		return false
	}
	return true
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

func writeIndent(b *bytes.Buffer, n int) {
	for range n {
		b.WriteByte(' ')
	}
}

// writeScalar writes a scalar of a simpleDoc.
func writeScalar(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case string:
		if scalarStyle(v) == doubleQuoted {
			b.WriteByte('"')
			b.WriteString(v)
			b.WriteByte('"')
		} else {
			b.WriteString(v)
		}
	}
}

// writeMap writes a non-empty map whose first key starts at the current position (the
// caller wrote the indent, or "- "); later keys are indented by indent.
func writeMap(b *bytes.Buffer, m map[string]any, indent int) {
	for i, k := range SortedKeys(m) {
		if i > 0 {
			writeIndent(b, indent)
		}
		b.WriteString(k)
		b.WriteByte(':')
		writeValue(b, m[k], indent, false)
	}
}

// writeValue writes what follows "key:" (inSeq false) or "-" (inSeq true).
func writeValue(b *bytes.Buffer, v any, indent int, inSeq bool) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			b.WriteString(" {}\n")
			return
		}
		if inSeq {
			b.WriteByte(' ')
			writeMap(b, v, indent+2)
			return
		}
		b.WriteByte('\n')
		writeIndent(b, indent+2)
		writeMap(b, v, indent+2)
	case []any:
		if len(v) == 0 {
			b.WriteString(" []\n")
			return
		}
		if inSeq {
			b.WriteByte(' ')
			writeSeq(b, v, indent+2)
			return
		}
		b.WriteByte('\n')
		writeIndent(b, indent)
		writeSeq(b, v, indent)
	default:
		b.WriteByte(' ')
		writeScalar(b, v)
		b.WriteByte('\n')
	}
}

// writeSeq writes a non-empty sequence whose first "-" goes at the current position; later
// ones are indented by indent.
func writeSeq(b *bytes.Buffer, s []any, indent int) {
	for i, v := range s {
		if i > 0 {
			writeIndent(b, indent)
		}
		b.WriteByte('-')
		writeValue(b, v, indent, true)
	}
}

// jsonCompatible reports whether v holds only what a JSON round trip leaves unchanged and
// yaml/v2 writes as sigs.k8s.io/yaml would: maps with valid UTF-8 string keys, slices of
// any, valid UTF-8 strings, integers, non-integral finite floats, booleans and nil.
func jsonCompatible(v any, depth int) bool {
	if depth > 100 {
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
