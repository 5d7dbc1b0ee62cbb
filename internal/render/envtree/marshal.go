package envtree

import (
	"bytes"
	"fmt"
	"math"

	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// marshal gives the same bytes as manifest.Marshal, about three times faster: that one goes
// through sigs.k8s.io/yaml (JSON encode, parse the JSON as YAML, encode), this one hands the
// JSON-compatible document straight to the same YAML encoder (go.yaml.in/yaml/v2, which sorts
// map keys the same way). Documents holding anything but JSON-compatible values take the
// slow path. TestMarshalMatchesManifest and the render tests hold the two to the same output.
func marshal(o manifest.Object) ([]byte, error) {
	if !jsonCompatible(o.Doc, 0) {
		return manifest.Marshal(o)
	}
	b, err := yamlv2.Marshal(o.Doc)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %s %s: %w", o.Source, o.Kind(), o.Name(), err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b, nil
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
		return !math.IsNaN(v) && !math.IsInf(v, 0)
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
