package provision

import (
	"fmt"
	"sort"
	"strings"

	"github.com/score-spec/score-go/framework"
)

// substitute resolves ${...} placeholders in every string of v (a normalised document), with
// `$$` unescaping to `$`, using lookup for each placeholder. Maps are walked in key order so
// that the first error reported is always the same one.
func substitute(v any, lookup func(ref string) (string, error)) (any, error) {
	switch v := v.(type) {
	case string:
		return substituteString(v, lookup)
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			c, err := substitute(v[k], lookup)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, c := range v {
			n, err := substitute(c, lookup)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

// substituteString resolves the placeholders of one string, left to right: `$$` is a literal
// `$`, `${ref}` is lookup(ref) (up to the first `}`), and any other `$` stays as it is.
//
// This differs from score-go's framework.SubstituteString in one corner: score-go copies an
// escaped placeholder `$${...}` verbatim, so a `$$` inside it stays doubled, and doubling
// every `$` of a string does not always give that string back ("${$x}" → "$${$$x}" →
// "${$$x}"). Here it always does: escaping is just doubling each `$`. Inputs without `$`
// inside an escaped placeholder (all real Score files) come out the same with either.
func substituteString(s string, lookup func(ref string) (string, error)) (string, error) {
	i := strings.IndexByte(s, '$')
	if i < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "$$"):
			b.WriteByte('$')
			s = s[2:]
		case strings.HasPrefix(s, "${"):
			end := strings.IndexByte(s, '}')
			if end < 0 {
				// No closing brace: not a placeholder, keep the rest as it is.
				b.WriteString(s)
				return b.String(), nil
			}
			v, err := lookup(s[2:end])
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			s = s[end+1:]
		default:
			b.WriteByte('$')
			s = s[1:]
		}
		i = strings.IndexByte(s, '$')
	}
	b.WriteString(s)
	return b.String(), nil
}

// referencedResources returns the resource names that ${resources.<name>...} placeholders in
// v refer to, sorted and without duplicates. Other placeholders are left for substitution to
// check.
func referencedResources(v any) ([]string, error) {
	seen := map[string]bool{}
	_, err := substitute(v, func(ref string) (string, error) {
		parts := framework.SplitRefParts(ref)
		if parts[0] == "resources" {
			if len(parts) < 2 || parts[1] == "" {
				return "", fmt.Errorf("invalid ref %q: name a resource, as in ${resources.<name>.<output>}", ref)
			}
			seen[parts[1]] = true
		}
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// lookupFunc resolves placeholders against a workload's metadata and the outputs of its
// resources (name → outputs), as score-go does: a string output is inserted as is, anything
// else as JSON.
func lookupFunc(metadata map[string]any, outputs map[string]map[string]any) func(string) (string, error) {
	lookups := make(map[string]framework.OutputLookupFunc, len(outputs))
	for name, out := range outputs {
		lookups[name] = outputLookup(name, out)
	}
	inner := framework.BuildSubstitutionFunction(metadata, lookups)
	return func(ref string) (string, error) {
		if strings.TrimSpace(ref) == "" {
			return "", fmt.Errorf("empty placeholder ${}: write $${} for a literal")
		}
		return inner(ref)
	}
}

func outputLookup(name string, outputs map[string]any) framework.OutputLookupFunc {
	return func(keys ...string) (any, error) {
		if len(keys) == 0 {
			return nil, fmt.Errorf("name an output of resource %q, as in ${resources.%s.<output>}", name, name)
		}
		var cur any = outputs
		for i, k := range keys {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("output %q of resource %q is not a map", strings.Join(keys[:i], "."), name)
			}
			if cur, ok = m[k]; !ok {
				return nil, fmt.Errorf("resource %q has no output %q (it has: %s)", name, strings.Join(keys[:i+1], "."), strings.Join(sortedKeys(m), ", "))
			}
		}
		return cur, nil
	}
}
