package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// FromTyped turns a typed Kubernetes object (a k8s.io/api or Flux struct, or anything that
// marshals to JSON) into an Object, dropping the noise the typed structs marshal by default:
// `creationTimestamp: null`, an empty `status`, and empty `resources`, `strategy` and
// `updateStrategy` maps. The object's apiVersion and kind must be set.
//
// The JSON encoding/json writes is read back by decodeMarshaled, which gives the document
// sigs.k8s.io/json's UnmarshalCaseSensitivePreserveInts gives with a fraction of its work
// and allocations, and drops the noise of each map as it finishes it instead of walking the
// document again; anything it does not read goes to sigs.k8s.io/json and dropNoise.
func FromTyped(v any, source string) (Object, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return Object{}, fmt.Errorf("%s: encode %T: %w", source, v, err)
	}
	doc, ok := decodeMarshaled(raw, dropMapNoise)
	if !ok {
		if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &doc); err != nil {
			return Object{}, fmt.Errorf("%s: decode %T: %w", source, v, err)
		}
		if doc == nil {
			return Object{}, fmt.Errorf("%s: %T encodes to null, want an object", source, v)
		}
		dropNoise(doc, true)
	}
	o := Object{Doc: doc, Source: source}
	if err := checkIdentity(o); err != nil {
		return Object{}, err
	}
	return o, nil
}

// dropNoise applies dropMapNoise to every map in v, innermost first.
func dropNoise(v any, top bool) {
	switch v := v.(type) {
	case map[string]any:
		for _, child := range v {
			dropNoise(child, false)
		}
		dropMapNoise(v, top)
	case []any:
		for _, child := range v {
			dropNoise(child, false)
		}
	}
}

// dropMapNoise drops the noise from one map whose own maps are done: a null
// metadata.creationTimestamp, then a metadata left empty (a pod template's; not the top
// object's), a `status` of nothing but zero values at the top, and `resources`,
// `strategy`, `updateStrategy` and `status` maps holding only empty maps (hollow). emptyDir:
// {} and similar are meaningful and stay, so these keys are an explicit list.
func dropMapNoise(m map[string]any, top bool) {
	if md, ok := m["metadata"].(map[string]any); ok {
		if ts, present := md["creationTimestamp"]; present && ts == nil {
			delete(md, "creationTimestamp")
		}
		if len(md) == 0 && !top {
			delete(m, "metadata")
		}
	}
	for _, k := range [...]string{"resources", "strategy", "updateStrategy", "status"} {
		if child, ok := m[k]; ok && (hollow(child) || k == "status" && top && zero(child)) {
			delete(m, k)
		}
	}
}

// hollow reports whether v is nil or a map whose values are all hollow.
func hollow(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, c := range v {
			if !hollow(c) {
				return false
			}
		}
		return true
	}
	return false
}

// zero reports whether v holds nothing but zero values (a typed status never filled in,
// such as a StatefulSet's `replicas: 0`).
func zero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, c := range v {
			if !zero(c) {
				return false
			}
		}
		return true
	case []any:
		return len(v) == 0
	case string:
		return v == ""
	case bool:
		return !v
	case int64:
		return v == 0
	case float64:
		return v == 0
	}
	return false
}

// Parse reads a YAML (or JSON) stream of Kubernetes objects. Empty documents are skipped; a
// `kind: List` (or any *List with items) is expanded into its items. Every object must have
// apiVersion, kind and metadata.name.
func Parse(doc []byte, source string) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(doc)))
	var out []Object
	for i := 0; ; i++ {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		raw, err := yaml.YAMLToJSON(chunk)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: not valid YAML: %w", source, i+1, err)
		}
		var v any
		if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, i+1, err)
		}
		if v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: document %d: want a Kubernetes object (a mapping), got %T", source, i+1, v)
		}
		items, isList := m["items"].([]any)
		if kind, _ := m["kind"].(string); isList && strings.HasSuffix(kind, "List") {
			for j, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: document %d: items[%d]: want a Kubernetes object (a mapping), got %T", source, i+1, j, it)
				}
				o := Object{Doc: im, Source: source}
				if err := checkIdentity(o); err != nil {
					return nil, fmt.Errorf("document %d: items[%d]: %w", i+1, j, err)
				}
				out = append(out, o)
			}
			continue
		}
		o := Object{Doc: m, Source: source}
		if err := checkIdentity(o); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out = append(out, o)
	}
}

// ErrIncomplete is returned for an object without apiVersion, kind or metadata.name.
var ErrIncomplete = errors.New("object needs apiVersion, kind and metadata.name")

func checkIdentity(o Object) error {
	var missing []string
	if o.APIVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if o.Kind() == "" {
		missing = append(missing, "kind")
	}
	if o.Name() == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %s %q: missing %v: %w", o.Source, o.Kind(), o.Name(), missing, ErrIncomplete)
	}
	return nil
}
