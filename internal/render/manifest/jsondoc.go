package manifest

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeMarshaled decodes what encoding/json's Marshal wrote for a value into the document
// kjson.UnmarshalCaseSensitivePreserveInts would give for it (FromTyped's slow path): objects
// as map[string]any, arrays as []any, integers that fit as int64, other numbers as float64.
// It reads only that compact form (no whitespace; strings of valid UTF-8 whose escapes are
// \" \\ \/ \b \f \n \r \t and \u outside the surrogates), and gives up (ok false) on
// anything else, leaving it to kjson. It copies raw once: keys and strings without escapes
// are substrings of that copy, not an allocation each. TestDecodeMarshaledMatchesKJSON and
// FuzzDecodeMarshaled hold it to kjson.
//
// finish, when not nil, is called on every object once its members are decoded (and
// finished), innermost first; top is true for the outermost one.
func decodeMarshaled(raw []byte, finish func(m map[string]any, top bool)) (doc map[string]any, ok bool) {
	r := jsonReader{s: string(raw), finish: finish}
	if r.i >= len(r.s) || r.s[0] != '{' {
		return nil, false
	}
	doc, ok = r.object(0)
	if !ok || r.i != len(r.s) {
		return nil, false
	}
	return doc, true
}

// jsonReader is one decodeMarshaled run: s from i on is still to read.
type jsonReader struct {
	s      string
	i      int
	finish func(m map[string]any, top bool)
}

// maxJSONDepth bounds nesting; deeper documents are left to kjson.
const maxJSONDepth = 1000

func (r *jsonReader) value(depth int) (any, bool) {
	if r.i >= len(r.s) || depth > maxJSONDepth {
		return nil, false
	}
	rest := r.s[r.i:]
	switch c := rest[0]; {
	case c == '{':
		return r.object(depth)
	case c == '[':
		return r.array(depth)
	case c == '"':
		return r.str()
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case strings.HasPrefix(rest, "true"):
		r.i += len("true")
		return true, true
	case strings.HasPrefix(rest, "false"):
		r.i += len("false")
		return false, true
	case strings.HasPrefix(rest, "null"):
		r.i += len("null")
		return nil, true
	}
	return nil, false
}

// object reads {"key":value,...} at r.i.
func (r *jsonReader) object(depth int) (map[string]any, bool) {
	r.i++ // '{'
	m := map[string]any{}
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		if r.finish != nil {
			r.finish(m, depth == 0)
		}
		return m, true
	}
	for {
		if r.i >= len(r.s) || r.s[r.i] != '"' {
			return nil, false
		}
		k, ok := r.str()
		if !ok || r.i >= len(r.s) || r.s[r.i] != ':' {
			return nil, false
		}
		r.i++
		v, ok := r.value(depth + 1)
		if !ok {
			return nil, false
		}
		m[k] = v // a repeated key: the last wins, as with kjson
		if r.i >= len(r.s) {
			return nil, false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case '}':
			r.i++
			if r.finish != nil {
				r.finish(m, depth == 0)
			}
			return m, true
		default:
			return nil, false
		}
	}
}

// array reads [value,...] at r.i.
func (r *jsonReader) array(depth int) ([]any, bool) {
	r.i++ // '['
	out := []any{}
	if r.i < len(r.s) && r.s[r.i] == ']' {
		r.i++
		return out, true
	}
	for {
		v, ok := r.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if r.i >= len(r.s) {
			return nil, false
		}
		switch r.s[r.i] {
		case ',':
			r.i++
		case ']':
			r.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// str reads a string at r.i (its opening quote).
func (r *jsonReader) str() (string, bool) {
	start := r.i + 1
	ascii := true
	for j := start; j < len(r.s); j++ {
		switch c := r.s[j]; {
		case c == '"':
			r.i = j + 1
			s := r.s[start:j]
			return s, ascii || utf8.ValidString(s)
		case c == '\\':
			return r.escapedStr(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// escapedStr reads a string holding escapes, from its first character at start.
func (r *jsonReader) escapedStr(start int) (string, bool) {
	var b strings.Builder
	for j := start; j < len(r.s); j++ {
		c := r.s[j]
		switch {
		case c == '"':
			r.i = j + 1
			s := b.String()
			return s, utf8.ValidString(s)
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if j+1 >= len(r.s) {
			return "", false
		}
		j++
		switch e := r.s[j]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if j+4 >= len(r.s) {
				return "", false
			}
			n, err := strconv.ParseUint(r.s[j+1:j+5], 16, 32)
			if err != nil || n >= 0xD800 && n < 0xE000 {
				return "", false // surrogates (pairs or not) are left to kjson
			}
			b.WriteRune(rune(n))
			j += 4
		default:
			return "", false
		}
	}
	return "", false
}

// number reads a number at r.i: an int64 when it has no '.' and fits (as kjson's
// PreserveInts), else a float64.
func (r *jsonReader) number() (any, bool) {
	j := r.i
	if r.s[j] == '-' {
		j++
	}
	digits := func() int {
		n := 0
		for j < len(r.s) && r.s[j] >= '0' && r.s[j] <= '9' {
			j++
			n++
		}
		return n
	}
	intStart := j
	if n := digits(); n == 0 || n > 1 && r.s[intStart] == '0' {
		return nil, false
	}
	fraction := false
	if j < len(r.s) && r.s[j] == '.' {
		j++
		if digits() == 0 {
			return nil, false
		}
		fraction = true
	}
	if j < len(r.s) && (r.s[j] == 'e' || r.s[j] == 'E') {
		j++
		if j < len(r.s) && (r.s[j] == '+' || r.s[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	text := r.s[r.i:j]
	r.i = j
	if !fraction {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, false // out of range: kjson reports it
	}
	return f, true
}
