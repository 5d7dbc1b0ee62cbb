// Package fastyaml decodes the block YAML that rules templates and Score files typically
// hold (mappings, sequences, plain and quoted scalars, one-line flow sequences of scalars,
// comments) straight into a JSON-compatible document, several times faster than yaml.v3 and
// with a fraction of its allocations. It is deliberately narrow: on anything it does not fully
// understand (block scalars, anchors, tags, multi-line scalars, flow mappings, numbers other
// than plain integers, duplicate keys, tabs, control characters, document markers, ...) it
// declines, and the caller decodes with yaml.v3, which stays the reference: FuzzDecode checks
// that whatever Decode accepts, yaml.v3 decodes to the same document. It owns no I/O and
// no state.
package fastyaml

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decode decodes raw as yaml.v3 would into an `any`, with integers as int64 (yaml.v3 gives
// int), or returns ok == false when it is not sure: then decode with yaml.v3. An accepted
// document has only map[string]any, []any, string, int64, bool and nil.
func Decode(raw []byte) (v any, ok bool) {
	p := fastParser{}
	if !p.split(raw) {
		return nil, false
	}
	if len(p.lines) == 0 {
		return nil, false // no content (only comments): leave it to yaml.v3
	}
	if p.lines[0].indent != 0 {
		return nil, false
	}
	v, ok = p.node(0)
	if !ok || p.i != len(p.lines) {
		return nil, false
	}
	return v, true
}

type fastLine struct {
	indent int
	text   string // without the indent; may end in a comment
}

type fastParser struct {
	lines []fastLine
	i     int
}

// split cuts raw into lines with content, dropping blank and comment-only lines.
func (p *fastParser) split(raw []byte) bool {
	s := string(raw)
	if !printable(s) {
		return false
	}
	p.lines = make([]fastLine, 0, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		n := 0
		for n < len(line) && line[n] == ' ' {
			n++
		}
		text := strings.TrimRight(line[n:], " ")
		if text == "" || text[0] == '#' {
			continue
		}
		if n == 0 && (strings.HasPrefix(text, "---") || strings.HasPrefix(text, "...") || text[0] == '%') {
			return false
		}
		p.lines = append(p.lines, fastLine{n, text})
	}
	return true
}

// printable reports whether s is valid UTF-8 made of newlines and what YAML calls printable
// characters, without tabs, carriage returns and byte order marks (left to yaml.v3).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				switch {
				case r == '\n', r >= 0x20 && r <= 0x7E, r == 0x85, r >= 0xA0 && r <= 0xD7FF,
					r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF, r >= 0x10000 && r <= 0x10FFFF:
				default:
					return false // utf8.RuneError included: invalid UTF-8 decodes as U+FFFD...
				}
			}
			return utf8.ValidString(s[i:]) // ...which is printable, so check validity too
		} else if c != '\n' && (c < 0x20 || c == 0x7F) {
			return false
		}
	}
	return true
}

// node parses the block node whose first line is p.lines[p.i], at indent.
func (p *fastParser) node(indent int) (any, bool) {
	if isSeqItem(p.lines[p.i].text) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

func (p *fastParser) seq(indent int) (any, bool) {
	out := []any{}
	for p.i < len(p.lines) {
		l := &p.lines[p.i]
		if l.indent < indent || l.indent == indent && !isSeqItem(l.text) {
			break
		}
		if l.indent > indent {
			return nil, false
		}
		if l.text == "-" {
			p.i++
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				v, ok := p.node(p.lines[p.i].indent)
				if !ok {
					return nil, false
				}
				out = append(out, v)
			} else {
				out = append(out, nil)
			}
			continue
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		if rest[0] == '#' {
			return nil, false // "- # comment" then a nested node: rare, leave it
		}
		if isSeqItem(rest) {
			return nil, false // "- - x"
		}
		if _, _, isKey := splitKey(rest); isKey {
			// "- key: value": a mapping whose first entry is on this line.
			*l = fastLine{indent: l.indent + len(l.text) - len(rest), text: rest}
			v, ok := p.mapping(l.indent)
			if !ok {
				return nil, false
			}
			out = append(out, v)
			continue
		}
		v, ok := inlineValue(rest)
		if !ok {
			return nil, false
		}
		p.i++
		if p.i < len(p.lines) && p.lines[p.i].indent > indent {
			return nil, false // a continuation line
		}
		out = append(out, v)
	}
	return out, true
}

func (p *fastParser) mapping(indent int) (any, bool) {
	out := map[string]any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent || l.indent == indent && isSeqItem(l.text) {
			break
		}
		if l.indent > indent {
			return nil, false
		}
		key, rest, isKey := splitKey(l.text)
		if !isKey {
			return nil, false
		}
		// A duplicate key (yaml.v3 reports it) shows as a map that did not grow when the
		// value is stored, below: one hash of the key instead of two.
		n := len(out)
		p.i++
		if rest == "" || rest[0] == '#' {
			var v any
			if p.i < len(p.lines) {
				next := p.lines[p.i]
				switch {
				case next.indent > indent:
					var ok bool
					if v, ok = p.node(next.indent); !ok {
						return nil, false
					}
				case next.indent == indent && isSeqItem(next.text):
					var ok bool
					if v, ok = p.seq(indent); !ok {
						return nil, false
					}
				}
			}
			if out[key] = v; len(out) == n {
				return nil, false
			}
			continue
		}
		v, ok := inlineValue(rest)
		if !ok {
			return nil, false
		}
		if p.i < len(p.lines) && p.lines[p.i].indent > indent {
			return nil, false // a continuation line
		}
		if out[key] = v; len(out) == n {
			return nil, false
		}
	}
	return out, true
}

// splitKey splits "key: rest" (or "key:") into the key, resolved to a string, and what
// follows, trimmed. isKey is false for anything else, or a key that does not resolve to a
// string.
func splitKey(text string) (key, rest string, isKey bool) {
	if text[0] == '"' || text[0] == '\'' {
		k, after, ok := quoted(text)
		if !ok || len(text)-len(after) > 1000 || after == "" || after[0] != ':' || len(after) > 1 && after[1] != ' ' {
			return "", "", false
		}
		return k, strings.TrimLeft(after[1:], " "), true
	}
	i := strings.Index(text, ": ")
	if i < 0 {
		if !strings.HasSuffix(text, ":") {
			return "", "", false
		}
		i = len(text) - 1
	}
	k := text[:i]
	if len(k) > 1000 { // YAML limits implicit keys to 1024 characters
		return "", "", false
	}
	if strings.HasSuffix(k, " ") {
		return "", "", false
	}
	// resolvePlain refuses quotes and " #" in k.
	if kind, _ := resolvePlain(k, false); kind != stringScalar {
		return "", "", false
	}
	return k, strings.TrimLeft(text[i+1:], " "), true
}

// inlineValue decodes a scalar or one-line flow sequence that fills the rest of a line
// (perhaps followed by a comment).
func inlineValue(s string) (any, bool) {
	switch s[0] {
	case '"', '\'':
		v, rest, ok := quoted(s)
		if !ok || !onlyComment(rest) {
			return nil, false
		}
		return v, true
	case '[':
		v, rest, ok := flowSeq(s)
		if !ok || !onlyComment(rest) {
			return nil, false
		}
		return v, true
	case '{':
		if rest, ok := strings.CutPrefix(s, "{}"); ok && onlyComment(rest) {
			return map[string]any{}, true
		}
		return nil, false
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimRight(s[:i], " ")
	}
	if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") {
		return nil, false
	}
	return plain(s, false)
}

// onlyComment reports whether rest, what follows a value, is nothing or a comment (which
// needs a space before its '#').
func onlyComment(rest string) bool {
	if rest == "" {
		return true
	}
	rest, cut := strings.CutPrefix(rest, " ")
	rest = strings.TrimLeft(rest, " ")
	return cut && (rest == "" || rest[0] == '#')
}

// flowSeq decodes "[a, "b", c]" holding only scalars; rest is what follows "]".
func flowSeq(s string) (v []any, rest string, ok bool) {
	out := []any{}
	s = strings.TrimLeft(s[1:], " ")
	if r, closed := strings.CutPrefix(s, "]"); closed {
		return out, r, true
	}
	for {
		var item any
		switch {
		case s == "":
			return nil, "", false
		case s[0] == '"' || s[0] == '\'':
			item, s, ok = quoted(s)
			if !ok {
				return nil, "", false
			}
		default:
			end := strings.IndexAny(s, ",]")
			if end < 0 {
				return nil, "", false
			}
			text := strings.TrimRight(s[:end], " ")
			if text == "" || strings.ContainsAny(text, "[]{}#:") {
				return nil, "", false
			}
			if item, ok = plain(text, true); !ok {
				return nil, "", false
			}
			s = s[end:]
		}
		out = append(out, item)
		s = strings.TrimLeft(s, " ")
		switch {
		case strings.HasPrefix(s, "]"):
			return out, s[1:], true
		case strings.HasPrefix(s, ","):
			s = strings.TrimLeft(s[1:], " ")
			if s == "" || s[0] == ']' || s[0] == ',' {
				return nil, "", false
			}
		default:
			return nil, "", false
		}
	}
}

// quoted decodes a double- or single-quoted scalar at the start of s that ends on this line;
// rest is what follows the closing quote. Escapes other than \" \\ \/ \n \t \r \b \f \0 and
// \uXXXX are left to yaml.v3.
func quoted(s string) (v string, rest string, ok bool) {
	q := s[0]
	// Most quoted scalars hold no escape ('' in single quotes, \ in double quotes): the
	// scalar is then the substring up to the first quote, without a copy.
	if end := strings.IndexByte(s[1:], q) + 1; end > 0 {
		escaped := q == '\'' && end+1 < len(s) && s[end+1] == '\'' ||
			q == '"' && strings.IndexByte(s[1:end], '\\') >= 0
		if !escaped {
			return s[1:end], s[end+1:], true
		}
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && q == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		case c == q:
			return b.String(), s[i+1:], true
		case c == '\\' && q == '"':
			if i+1 >= len(s) {
				return "", "", false
			}
			i++
			switch s[i] {
			case '"', '\\', '/':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '0':
				b.WriteByte(0)
			case 'u':
				if i+4 >= len(s) {
					return "", "", false
				}
				n, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
				if err != nil || n >= 0xD800 && n < 0xE000 {
					return "", "", false
				}
				b.WriteRune(rune(n))
				i += 4
			default:
				return "", "", false
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false // not closed on this line
}

// plain resolves a plain scalar as yaml.v3 does, for the cases it is sure of (see
// resolvePlain). flow says the scalar is inside a flow collection.
func plain(s string, flow bool) (any, bool) {
	switch kind, n := resolvePlain(s, flow); kind {
	case nullScalar:
		return nil, true
	case trueScalar:
		return true, true
	case falseScalar:
		return false, true
	case intScalar:
		return n, true
	case stringScalar:
		return s, true
	}
	return nil, false
}

// scalarKind is what resolvePlain resolves a plain scalar to.
type scalarKind int

const (
	notSure scalarKind = iota // leave it to yaml.v3
	nullScalar
	trueScalar
	falseScalar
	intScalar
	stringScalar
)

// resolvePlain resolves a plain scalar as yaml.v3 does, for the cases it is sure of: YAML's
// null and boolean words, decimal integers (n), and strings that cannot be anything else.
// flow says the scalar is inside a flow collection. It boxes nothing: a mapping key is
// checked with it without allocating.
func resolvePlain(s string, flow bool) (kind scalarKind, n int64) {
	switch s {
	case "~", "null", "Null", "NULL":
		return nullScalar, 0
	case "true", "True", "TRUE":
		return trueScalar, 0
	case "false", "False", "FALSE":
		return falseScalar, 0
	case "":
		return notSure, 0
	}
	c := s[0]
	switch {
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_' || c == '$':
		// yaml.v3 resolves a plain scalar starting with these to a string, but for the
		// words above.
	case c >= '0' && c <= '9' || c == '-' && len(s) > 1 && s[1] >= '0' && s[1] <= '9':
		if n, isInt := decimal(s); isInt {
			return intScalar, n
		}
		// A letter no number, float or timestamp can hold makes it a string ("128Mi").
		if c == '-' || !hasNonNumericLetter(s) {
			return notSure, 0
		}
	default:
		return notSure, 0
	}
	// One pass for what would make it something else, or is not sure: indicators and
	// quotes, a comment (" #"), a mapping value (": "), and in a flow collection its
	// punctuation.
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '`', '\\', '|', '>', '&', '*', '!', '%', '@':
			return notSure, 0
		case ' ':
			if i+1 < len(s) && s[i+1] == '#' {
				return notSure, 0
			}
		case ':':
			if i+1 < len(s) && s[i+1] == ' ' {
				return notSure, 0
			}
		case ',', '[', ']', '{', '}':
			if flow {
				return notSure, 0
			}
		}
	}
	return stringScalar, 0
}

// hasNonNumericLetter reports whether s holds an ASCII letter that no number, float or
// timestamp can hold: not a hex digit, base prefix, exponent, the T and Z of timestamps,
// or a letter of inf and nan.
func hasNonNumericLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && strings.IndexByte("abcdefABCDEFxXoOtTzZinINeE", c) < 0 {
			return true
		}
	}
	return false
}

// decimal parses -?(0|[1-9][0-9]*) that fits an int64.
func decimal(s string) (int64, bool) {
	d := strings.TrimPrefix(s, "-")
	if d == "" || len(d) > 18 || d[0] == '0' && len(d) > 1 {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
