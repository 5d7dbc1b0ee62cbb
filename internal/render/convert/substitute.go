package convert

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/score-spec/score-go/framework"
)

// substitute resolves ${metadata.*} and ${resources.<name>.<output>} placeholders in s and
// unescapes $$. The result may carry secret references (from secret outputs); the caller
// decides how they reach Kubernetes.
func (c *converter) substitute(field, s string) (string, error) {
	out, err := framework.SubstituteString(s, c.lookup)
	if err != nil {
		return "", invalid(fmt.Errorf("%s: %s: %w; fix the placeholder, or write $$ for a literal $", c.in.File, field, err))
	}
	return out, nil
}

// lookup resolves the inside of one ${...} placeholder.
func (c *converter) lookup(ref string) (string, error) {
	parts := framework.SplitRefParts(ref)
	var v any
	switch parts[0] {
	case "metadata":
		if len(parts) < 2 {
			return "", fmt.Errorf("${%s} needs a key, such as ${metadata.name}", ref)
		}
		var ok bool
		v, ok = walk(map[string]any(c.in.Spec.Metadata), parts[1:])
		if !ok {
			return "", fmt.Errorf("${%s}: the workload metadata has no %q", ref, strings.Join(parts[1:], "."))
		}
	case "resources":
		if len(parts) < 2 {
			return "", fmt.Errorf("${%s} needs a resource name and output, such as ${resources.db.host}", ref)
		}
		name := parts[1]
		if _, declared := c.in.Spec.Resources[name]; !declared {
			return "", fmt.Errorf("${%s}: no resource %q is declared under resources (declared: %s)", ref, name, list(sortedKeys(c.in.Spec.Resources)))
		}
		outputs := c.in.Outputs[name]
		if len(parts) == 2 {
			return "", fmt.Errorf("${%s} names the resource, not one of its outputs; use ${resources.%s.<output>} (outputs: %s)", ref, name, list(sortedKeys(outputs)))
		}
		var ok bool
		v, ok = walk(outputs, parts[2:])
		if !ok {
			return "", fmt.Errorf("${%s}: resource %q has no output %q (outputs: %s)", ref, name, strings.Join(parts[2:], "."), list(sortedKeys(outputs)))
		}
	default:
		return "", fmt.Errorf("${%s}: unknown placeholder; placeholders start with metadata. or resources.", ref)
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	// encoding/json sorts map keys, so structured values encode the same way every time.
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("${%s}: value cannot be written as text: %v", ref, err)
	}
	return string(b), nil
}

func walk(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func list(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// escapeK8s makes s survive Kubernetes' $(VAR) expansion of env values, commands and
// arguments unchanged. Expansion only touches "$$" and "$(", so other strings are left as
// they are, keeping the output readable.
func escapeK8s(s string) string {
	if strings.Contains(s, "$$") || strings.Contains(s, "$(") {
		return strings.ReplaceAll(s, "$", "$$")
	}
	return s
}
