package provision

import (
	"errors"
	"strings"
	"testing"
)

// FuzzSubstitute sends arbitrary strings through the placeholder path that params take:
// reference extraction and substitution never panic, and a string with every `$` escaped as
// `$$` comes back unchanged.
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"", "plain", "${resources.db.host}", "$${literal}", "$$", "${", "${}", "a${metadata.name}b"} {
		f.Add(s)
	}
	lookup := lookupFunc(
		map[string]any{"name": "api", "annotations": map[string]any{"a.b/c": "d"}},
		map[string]map[string]any{"db": {"host": "pg", "port": int64(5432), "nested": map[string]any{"k": []any{"v"}}}},
	)
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := referencedResources(map[string]any{"p": s, "l": []any{s}}); err != nil {
			_ = err.Error()
		}
		if out, err := substitute(s, lookup); err == nil {
			if _, ok := out.(string); !ok {
				t.Fatalf("substitute(%q) returned %T", s, out)
			}
		}
		escaped := strings.ReplaceAll(s, "$", "$$")
		refuse := func(ref string) (string, error) { return "", errors.New("no placeholder expected: " + ref) }
		out, err := substitute(escaped, refuse)
		if err != nil {
			t.Fatalf("escaped %q: %v", escaped, err)
		}
		if out != s {
			t.Fatalf("escaped %q came back as %q, want %q", escaped, out, s)
		}
	})
}
