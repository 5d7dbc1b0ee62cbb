package render

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/score-spec/score-go/loader"
	"github.com/score-spec/score-go/schema"
	"github.com/score-spec/score-go/types"
	yaml "go.yaml.in/yaml/v3"

	"github.com/scorebot/scorebot/internal/render/fastyaml"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// ErrInvalidScore is returned (wrapped) for a Score file that cannot be loaded.
var ErrInvalidScore = errors.New("invalid Score file")

// scoreSchema is the Score v1b1 JSON schema of score-go, compiled once (schema.Validate
// compiles it on every call, which dominates loading a thousand files). Read only.
var scoreSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return jsonschema.CompileString("score-v1b1.json", schema.ScoreSchemaV1b1)
})

// maxSchemaErrors bounds how many schema violations one error message lists.
const maxSchemaErrors = 8

// LoadScore parses, upgrades, validates and normalises one Score file with score-go: the old
// list forms of files and volumes are upgraded, the file is validated against the Score
// schema, files.source is embedded as content (read with readFile, relative to the score
// file's folder), and placeholders and `before` are checked. Errors name the file, the
// field and the fix.
func LoadScore(path string, data []byte, readFile func(rel string) ([]byte, error)) (*types.Workload, error) {
	raw, err := parseScoreYAML(data)
	if err != nil {
		return nil, invalidf(ErrInvalidScore, "%s: not valid YAML: %v: fix the YAML syntax", path, err)
	}
	if raw == nil {
		return nil, invalidf(ErrInvalidScore, "%s: empty file: a Score file needs apiVersion: score.dev/v1b1, metadata.name and containers", path)
	}
	if _, err := schema.ApplyCommonUpgradeTransforms(raw); err != nil {
		return nil, invalidf(ErrInvalidScore, "%s: %v: give every list entry a target, or use the map form keyed by target path", path, err)
	}
	s, err := scoreSchema()
	if err != nil {
		return nil, fmt.Errorf("compile the Score schema: %w", err)
	}
	if err := s.Validate(raw); err != nil {
		return nil, schemaError(path, data, err)
	}
	var w types.Workload
	if err := loader.MapSpec(&w, raw); err != nil {
		return nil, invalidf(ErrInvalidScore, "%s: %v: fix the field's type", path, err)
	}
	if err := embedFileSources(path, &w, readFile); err != nil {
		return nil, err
	}
	if err := loader.Validate(&w); err != nil {
		var ve *loader.ValidationError
		if errors.As(err, &ve) {
			msgs := slices.Clone(ve.Messages)
			slices.Sort(msgs) // score-go collects them walking maps
			return nil, invalidf(ErrInvalidScore, "%s: %s: fix the placeholders or container names named", path, strings.Join(msgs, "; "))
		}
		return nil, invalidf(ErrInvalidScore, "%s: %v", path, err)
	}
	return &w, nil
}

// parseScoreYAML decodes a Score file as score-go's loader.ParseYAML does (yaml.v3, first
// document, integers as int), through fastyaml when it is sure of the document: parsing was
// the largest part of loading a thousand score files.
func parseScoreYAML(data []byte) (map[string]any, error) {
	if v, ok := fastyaml.Decode(data); ok {
		if m, isMap := v.(map[string]any); isMap {
			return asYAMLv3Ints(m).(map[string]any), nil
		}
	}
	var raw map[string]any
	//nolint:staticcheck // score-go's parser (yaml.v3), as score-k8s uses it
	if err := loader.ParseYAML(&raw, bytes.NewReader(data)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return raw, nil
}

// asYAMLv3Ints turns fastyaml's int64s into the ints yaml.v3 gives, in place.
func asYAMLv3Ints(v any) any {
	switch v := v.(type) {
	case int64:
		return int(v)
	case map[string]any:
		for k, c := range v {
			v[k] = asYAMLv3Ints(c)
		}
	case []any:
		for i, c := range v {
			v[i] = asYAMLv3Ints(c)
		}
	}
	return v
}

// scoreSpecURL is the Score specification reference, for problems without a specific fix.
const scoreSpecURL = "https://docs.score.dev/docs/score-specification/score-spec-reference/"

// schemaError words a schema validation error: one line per problem, each with the file and
// line, the field, and the fix; an unknown field gets the closest allowed one and the list.
func schemaError(path string, data []byte, err error) error {
	problems := schemaProblems(path, data, err)
	if len(problems) == 1 {
		return invalidf(ErrInvalidScore, "%s", problems[0])
	}
	return invalidf(ErrInvalidScore, "%s does not match the Score schema (score.dev/v1b1):\n  %s",
		path, strings.Join(problems, "\n  "))
}

// schemaProblem is one leaf of a schema error.
type schemaProblem struct {
	line  int // 0 when unknown
	field string
	text  string
}

// schemaProblems flattens a schema error into "file:line: field: problem; fix" lines, sorted by
// line.
func schemaProblems(path string, data []byte, err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{path + ": " + err.Error() + "; see " + scoreSpecURL}
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		doc = yaml.Node{} // lines unknown; the fields still say where
	}
	var probs []schemaProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		segs := pointerSegments(e.InstanceLocation)
		at, line := lookupNode(&doc, segs)
		if unknown, ok := unknownFields(e.Message); ok {
			allowed := schemaProperties(strings.TrimSuffix(e.AbsoluteKeywordLocation, "/additionalProperties"))
			if keys := extraKeys(at, allowed); len(keys) > 0 {
				unknown = keys // from the file itself: the message's quoting is ambiguous
			}
			for _, key := range unknown {
				p := schemaProblem{line: line, field: joinField(segs, key), text: "unknown field"}
				if k := mappingKey(at, key); k != nil {
					p.line = k.Line
				}
				if s := rules.Suggest(key, allowed); s != "" {
					p.text += fmt.Sprintf("; did you mean %q?", s)
				}
				if len(allowed) > 0 {
					p.text += " (allowed: " + strings.Join(allowed, ", ") + ")"
				} else {
					p.text += "; remove it"
				}
				probs = append(probs, p)
			}
			return
		}
		text := e.Message
		switch {
		case strings.HasPrefix(text, "missing properties"):
			text += "; add it"
		case len(segs) == 1 && segs[0] == "apiVersion":
			text += "; write apiVersion: score.dev/v1b1"
		default:
			text += "; see " + scoreSpecURL
		}
		probs = append(probs, schemaProblem{line: line, field: joinField(segs, ""), text: text})
	}
	walk(ve)
	slices.SortFunc(probs, func(a, b schemaProblem) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.field, b.field), cmp.Compare(a.text, b.text))
	})
	probs = slices.Compact(probs)
	var out []string
	for _, p := range probs {
		where := path
		if p.line > 0 {
			where += ":" + strconv.Itoa(p.line)
		}
		out = append(out, where+": "+p.field+": "+p.text)
	}
	if len(out) > maxSchemaErrors {
		out = append(out[:maxSchemaErrors], fmt.Sprintf("… and %d more", len(out)-maxSchemaErrors))
	}
	return out
}

// unknownFields reads the field names of jsonschema's "additionalProperties 'a', 'b' not
// allowed".
func unknownFields(msg string) ([]string, bool) {
	rest, ok := strings.CutPrefix(msg, "additionalProperties ")
	if !ok {
		return nil, false
	}
	rest, ok = strings.CutSuffix(rest, " not allowed")
	if !ok {
		return nil, false
	}
	var out []string
	for _, q := range strings.Split(rest, ", ") {
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(q, "'"), "'"))
	}
	return out, true
}

// extraKeys lists, in file order, the keys of mapping n that allowed does not hold; none when
// n is not a mapping or allowed is empty (nothing to compare with).
func extraKeys(n *yaml.Node, allowed []string) []string {
	if n == nil || n.Kind != yaml.MappingNode || len(allowed) == 0 {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && !slices.Contains(allowed, k.Value) {
			out = append(out, k.Value)
		}
	}
	return out
}

// pointerSegments splits a JSON pointer ("/containers/main/files/~1etc~1x") into its
// unescaped segments.
func pointerSegments(ptr string) []string {
	if ptr == "" || ptr == "/" {
		return nil
	}
	segs := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs
}

// joinField writes a field path the way the other errors do: containers.web.variables.
func joinField(segs []string, last string) string {
	if last != "" {
		segs = append(slices.Clone(segs), last)
	}
	if len(segs) == 0 {
		return "(top level)"
	}
	return strings.Join(segs, ".")
}

// lookupNode walks a parsed YAML document along segs and returns the deepest node reached
// and its line (the line of the last node found when the path leaves the document, as it
// can after score-go's upgrade of the old list forms).
func lookupNode(doc *yaml.Node, segs []string) (*yaml.Node, int) {
	n := deref(doc)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = deref(n.Content[0])
	}
	if n == nil || n.Kind == 0 {
		return nil, 0
	}
	line := n.Line
	for _, s := range segs {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			if k := mappingKey(n, s); k != nil {
				line = k.Line
				next = deref(valueOf(n, k))
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(n.Content) {
				next = deref(n.Content[i])
			}
		}
		if next == nil {
			return nil, line
		}
		n = next
		if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
			line = n.Line
		}
	}
	return n, line
}

// mappingKey is the key node of key in mapping n, or nil.
func mappingKey(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Value == key {
			return k
		}
	}
	return nil
}

func valueOf(n, key *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if deref(n.Content[i]) == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 32; depth++ {
		n = n.Alias
	}
	return n
}

// scoreSchemaDoc is the Score schema as a YAML node tree, which keeps the order of its
// properties for error messages. Read only.
var scoreSchemaDoc = sync.OnceValue(func() *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(schema.ScoreSchemaV1b1), &doc); err != nil {
		return nil
	}
	return &doc
})

// schemaProperties lists, in schema order, the properties of the schema object at an
// absolute keyword location ("https://score.dev/schemas/score#/$defs/container").
func schemaProperties(loc string) []string {
	_, frag, _ := strings.Cut(loc, "#")
	doc := scoreSchemaDoc()
	if doc == nil {
		return nil
	}
	n, _ := lookupNode(doc, pointerSegments(frag))
	props, _ := lookupNode(n, []string{"properties"})
	if props == nil || props.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for i := 0; i < len(props.Content); i += 2 {
		out = append(out, props.Content[i].Value)
	}
	return out
}

// embedFileSources does what score-go's loader.Normalize does, reading through readFile so
// that it works on a Git tree as well as on disk: files.source becomes content (or
// binaryContent when the file is not UTF-8).
func embedFileSources(path string, w *types.Workload, readFile func(rel string) ([]byte, error)) error {
	for _, cname := range sortedKeys(w.Containers) {
		c := w.Containers[cname]
		for _, target := range sortedKeys(c.Files) {
			f := c.Files[target]
			if f.Source == nil {
				continue
			}
			field := fmt.Sprintf("containers.%s.files.%s.source", cname, target)
			if readFile == nil {
				return invalidf(ErrInvalidScore, "%s: %s: %q cannot be read here: inline the file with content instead", path, field, *f.Source)
			}
			b, err := readFile(*f.Source)
			if err != nil {
				return invalidf(ErrInvalidScore, "%s: %s: cannot read %q (relative to the score file): %v: add the file or fix the path", path, field, *f.Source, err)
			}
			f.Source = nil
			if utf8.Valid(b) {
				s := string(b)
				f.Content = &s
			} else {
				s := base64.StdEncoding.EncodeToString(b)
				f.BinaryContent = &s
			}
			c.Files[target] = f
		}
	}
	return nil
}
