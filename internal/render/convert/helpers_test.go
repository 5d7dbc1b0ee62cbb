package convert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/score-spec/score-go/framework"
	"github.com/score-spec/score-go/loader"
	"github.com/score-spec/score-go/schema"
	"github.com/score-spec/score-go/types"

	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/secretref"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

// fixturesDir is /work/shared/fixtures, beside the module root.
const fixturesDir = "../../../../shared/fixtures"

// loadFixture loads a flattened Score fixture. The fixtures keep a workload's sibling files
// as "<prefix>__<name>" beside "<prefix>__score.yaml"; they are copied under their own names
// into a temporary directory, which serves as the base for files.source.
func loadFixture(t testing.TB, path string) (*types.Workload, error) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(path)
	prefix := base[:strings.LastIndex(base, "__")+2]
	siblings, err := filepath.Glob(filepath.Join(filepath.Dir(path), prefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, s := range siblings {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strings.TrimPrefix(filepath.Base(s), prefix)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := parseScore(raw, dir)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), dir, "<fixture dir>"))
	}
	return w, nil
}

// parseScore loads Score the way package render does: parse, upgrade old forms, validate
// against the schema, map, inline file sources, validate placeholders.
func parseScore(raw []byte, baseDir string) (*types.Workload, error) {
	var m map[string]any
	if err := loader.ParseYAML(&m, bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	if _, err := schema.ApplyCommonUpgradeTransforms(m); err != nil {
		return nil, err
	}
	if err := schema.Validate(m); err != nil {
		return nil, err
	}
	var w types.Workload
	if err := loader.MapSpec(&w, m); err != nil {
		return nil, err
	}
	if err := loader.Normalize(&w, baseDir); err != nil {
		return nil, err
	}
	if err := loader.Validate(&w); err != nil {
		return nil, err
	}
	return &w, nil
}

// mustParse parses an inline Score document with no file sources.
func mustParse(t testing.TB, doc string) *types.Workload {
	t.Helper()
	w, err := parseScore([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var secretish = regexp.MustCompile(`(?i)password|secret|token|connection|uri|url$`)

// fakeOutputs invents outputs for every ${resources.<name>.<path>} a workload reads: text
// "<name>-<key>" for ordinary keys and a secret reference for secret-looking keys
// (password, token, connection strings, ...), and an emptyDir source for volumes.
func fakeOutputs(w *types.Workload) map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range w.Resources {
		out[name] = map[string]any{}
		if r.Type == "volume" {
			out[name]["source"] = map[string]any{"emptyDir": map[string]any{}}
		}
	}
	record := func(s string) {
		_, _ = framework.SubstituteString(s, func(ref string) (string, error) {
			parts := framework.SplitRefParts(ref)
			if len(parts) < 3 || parts[0] != "resources" || out[parts[1]] == nil {
				return "", nil
			}
			m := out[parts[1]]
			for _, p := range parts[2 : len(parts)-1] {
				next, ok := m[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					m[p] = next
				}
				m = next
			}
			key := parts[len(parts)-1]
			if secretish.MatchString(key) {
				m[key] = secretref.Encode(parts[1]+"-creds", strings.ToLower(key))
			} else {
				m[key] = parts[1] + "-" + key
			}
			return "", nil
		})
	}
	for _, c := range w.Containers {
		for _, v := range c.Variables {
			record(v)
		}
		for _, f := range c.Files {
			if f.Content != nil && (f.NoExpand == nil || !*f.NoExpand) {
				record(*f.Content)
			}
		}
		for _, a := range append(append([]string{}, c.Command...), c.Args...) {
			record(a)
		}
	}
	return out
}

// render converts and encodes a workload as one YAML stream.
func render(t testing.TB, in Input) ([]byte, []manifest.Object, error) {
	t.Helper()
	objs, err := Workload(in)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := manifest.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), objs, nil
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	goldenfile.Check(t, path, got)
}

// checkObjects runs the checks every produced object must pass.
func checkObjects(t *testing.T, objs []manifest.Object, ns string) {
	t.Helper()
	for _, o := range objs {
		if err := manifest.DecodeStrict(o); err != nil {
			t.Errorf("strict decoding: %v", err)
		}
		if err := manifest.CheckNoPlaintextSecret(o); err != nil {
			t.Errorf("%v", err)
		}
		if o.Namespace() != ns {
			t.Errorf("%s %s: namespace %q, want %q", o.Kind(), o.Name(), o.Namespace(), ns)
		}
		b, _ := manifest.Marshal(o)
		for _, bad := range []string{"creationTimestamp", "🔐", "💬", "status:"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s %s contains %q:\n%s", o.Kind(), o.Name(), bad, b)
			}
		}
	}
}
