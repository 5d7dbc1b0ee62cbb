package render

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/score-spec/score-go/loader"
	"github.com/score-spec/score-go/schema"
	"github.com/score-spec/score-go/types"

	"github.com/scorebot/scorebot/internal/render/fastyaml"
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
		return nil, fmt.Errorf("%s: not valid YAML: %v: fix the YAML syntax: %w", path, err, ErrInvalidScore)
	}
	if raw == nil {
		return nil, fmt.Errorf("%s: empty file: a Score file needs apiVersion: score.dev/v1b1, metadata.name and containers: %w", path, ErrInvalidScore)
	}
	if _, err := schema.ApplyCommonUpgradeTransforms(raw); err != nil {
		return nil, fmt.Errorf("%s: %v: give every list entry a target, or use the map form keyed by target path: %w", path, err, ErrInvalidScore)
	}
	s, err := scoreSchema()
	if err != nil {
		return nil, fmt.Errorf("compile the Score schema: %w", err)
	}
	if err := s.Validate(raw); err != nil {
		return nil, fmt.Errorf("%s: does not match the Score schema (score.dev/v1b1):\n  %s\nfix the fields named above (see https://docs.score.dev/docs/score-specification/score-spec-reference/): %w",
			path, strings.Join(schemaProblems(err), "\n  "), ErrInvalidScore)
	}
	var w types.Workload
	if err := loader.MapSpec(&w, raw); err != nil {
		return nil, fmt.Errorf("%s: %v: fix the field's type: %w", path, err, ErrInvalidScore)
	}
	if err := embedFileSources(path, &w, readFile); err != nil {
		return nil, err
	}
	if err := loader.Validate(&w); err != nil {
		var ve *loader.ValidationError
		if errors.As(err, &ve) {
			msgs := slices.Clone(ve.Messages)
			slices.Sort(msgs) // score-go collects them walking maps
			return nil, fmt.Errorf("%s: %s: fix the placeholders or container names named: %w", path, strings.Join(msgs, "; "), ErrInvalidScore)
		}
		return nil, fmt.Errorf("%s: %v: %w", path, err, ErrInvalidScore)
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

// schemaProblems flattens a schema error into sorted "field: problem" lines.
func schemaProblems(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			field := strings.ReplaceAll(strings.TrimPrefix(e.InstanceLocation, "/"), "/", ".")
			if field == "" {
				field = "(top level)"
			}
			out = append(out, field+": "+e.Message)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxSchemaErrors {
		out = append(out[:maxSchemaErrors], fmt.Sprintf("… and %d more", len(out)-maxSchemaErrors))
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
				return fmt.Errorf("%s: %s: %q cannot be read here: inline the file with content instead: %w", path, field, *f.Source, ErrInvalidScore)
			}
			b, err := readFile(*f.Source)
			if err != nil {
				return fmt.Errorf("%s: %s: cannot read %q (relative to the score file): %v: add the file or fix the path: %w", path, field, *f.Source, err, ErrInvalidScore)
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
