package envtree

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// marshal gives the same bytes as manifest.Marshal, several times faster. manifest.Marshal
// goes through sigs.k8s.io/yaml (JSON encode, parse the JSON as YAML, encode with
// go.yaml.in/yaml/v2). Most rendered objects hold only plain scalars (names, labels,
// images, ports), which marshal writes itself in yaml/v2's block style and key order; any
// document with a scalar it is not sure about is handed to yaml/v2 directly (the same
// encoder, minus the JSON round trip), and anything not JSON-compatible to manifest.Marshal.
// TestMarshalMatchesManifest and the render tests hold all paths to the same output.
func marshal(o manifest.Object) ([]byte, error) {
	if !jsonCompatible(o.Doc, 0) {
		return manifest.Marshal(o)
	}
	if simpleDoc(o.Doc) {
		var b bytes.Buffer
		b.Grow(1024)
		writeMap(&b, o.Doc, 0)
		return b.Bytes(), nil
	}
	b, err := yamlv2.Marshal(ordered(o.Doc))
	if err != nil {
		return nil, fmt.Errorf("%s: encode %s %s: %w", o.Source, o.Kind(), o.Name(), err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b, nil
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

// yaml11Words are the plain scalars YAML 1.1 reads as booleans or null: yaml/v2 quotes them.
var yaml11Words = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true, "null": true, "Null": true, "NULL": true,
}

// scalarStyle says how yaml/v2 writes the string s, judged conservatively (unsure when in
// doubt). Double-quoted: "" and the YAML 1.1 bool and null words, and strings of digits
// (they read as numbers). Plain: printable ASCII without spaces, quotes, comment or flow
// indicators, not ending in ':', that starts with a letter (and is not one of those words),
// with '/' or "./", with '-' or "--" and a letter, or with a digit and holds a letter no
// number or timestamp can hold ("128Mi", "100m").
func scalarStyle(s string) style {
	if s == "" || yaml11Words[s] {
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
		if yaml11Words[strings.ToLower(s)] {
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

// lessKey is yaml/v2's order of string map keys: rune by rune; letters before anything
// else; runs of digits compared by value.
func lessKey(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			// A zero inside a number (not a leading zero) counts as a digit of it.
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ai, bi := i, i
		for ; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for ; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
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

// sortedMapKeys orders keys as yaml/v2 does (lessKey), deterministically: yaml/v2's
// comparator is not a strict order for some key sets (a1b < a9 < a10 < a1b), and there
// its output follows Go's random map order. Keys are put in byte order first and then
// sorted stably, so such sets always come out the same; everywhere else the order is
// yaml/v2's.
func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.SortStableFunc(keys, func(x, y string) int {
		switch {
		case lessKey(x, y):
			return -1
		case lessKey(y, x):
			return 1
		}
		return 0
	})
	return keys
}

// ordered turns maps into yaml/v2 MapSlices in sortedMapKeys order, so that the yaml/v2
// path is deterministic too.
func ordered(v any) any {
	switch v := v.(type) {
	case map[string]any:
		ms := make(yamlv2.MapSlice, 0, len(v))
		for _, k := range sortedMapKeys(v) {
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

// writeMap writes a non-empty or empty map whose first key starts at the current position
// (the caller wrote the indent, or "- "); later keys are indented by indent.
func writeMap(b *bytes.Buffer, m map[string]any, indent int) {
	for i, k := range sortedMapKeys(m) {
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

// jsonCompatible reports whether v holds only what encoding/json decodes into: maps with
// string keys, slices of any, strings, numbers, booleans and nil.
func jsonCompatible(v any, depth int) bool {
	if depth > 100 {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			if !jsonCompatible(c, depth+1) {
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
		// An integral float goes through JSON as an integer; leave it to manifest.Marshal.
		return !math.IsNaN(v) && !math.IsInf(v, 0) && v != math.Trunc(v)
	case string, bool, nil, int64, int:
		return true
	}
	return false
}

// Stream encodes objects, in the order given, as one YAML stream separated by "---" lines,
// each as manifest.Marshal would.
func Stream(objs []manifest.Object) ([]byte, error) {
	encoded := make([][]byte, len(objs))
	if err := parallel(len(objs), func(i int) error {
		b, err := marshal(objs[i])
		encoded[i] = b
		return err
	}); err != nil {
		return nil, err
	}
	return bytes.Join(encoded, []byte("---\n")), nil
}

// SortObjects orders objects exactly as manifest.Sort does, faster for thousands of objects:
// each object's sort key is read once instead of at every comparison. The kind order comes
// from manifest.Sort itself, applied to one stand-in object per kind.
func SortObjects(objs []manifest.Object) {
	type key struct {
		kind                        int
		namespace, name, apiVersion string
	}
	kinds := map[string]int{}
	var standIns []manifest.Object
	for _, o := range objs {
		if _, ok := kinds[o.Kind()]; !ok {
			kinds[o.Kind()] = 0
			standIns = append(standIns, manifest.Object{Doc: map[string]any{"kind": o.Kind()}})
		}
	}
	manifest.Sort(standIns)
	for i, o := range standIns {
		kinds[o.Kind()] = i
	}
	keys := make([]key, len(objs))
	idx := make([]int, len(objs))
	for i, o := range objs {
		keys[i] = key{kinds[o.Kind()], o.Namespace(), o.Name(), o.APIVersion()}
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ka, kb := &keys[a], &keys[b]
		return cmp.Or(cmp.Compare(ka.kind, kb.kind), cmp.Compare(ka.namespace, kb.namespace),
			cmp.Compare(ka.name, kb.name), cmp.Compare(ka.apiVersion, kb.apiVersion))
	})
	sorted := make([]manifest.Object, len(objs))
	for i, j := range idx {
		sorted[i] = objs[j]
	}
	copy(objs, sorted)
}
