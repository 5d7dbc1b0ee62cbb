package provision

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/score-spec/score-go/loader"
	"github.com/score-spec/score-go/schema"
	"github.com/score-spec/score-go/types"

	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

// fixtures is the shared fixtures folder, beside the module root.
const fixtures = "../../../../shared/fixtures"

const testPlatform = `
environments:
  - name: development
  - name: production
envRepo:
  url: http://127.0.0.1:1/env.git
`

// loadRules loads a rules repo made of the given files (platform.yaml is added when absent).
func loadRules(t testing.TB, files map[string]string) *rules.Rules {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	if _, ok := fsys["platform.yaml"]; !ok {
		fsys["platform.yaml"] = &fstest.MapFile{Data: []byte(testPlatform)}
	}
	r, err := rules.Load(fsys)
	if err != nil {
		t.Fatalf("load rules: %v", err)
	}
	return r
}

// loadRulesOnly loads a rules repo made of exactly the given files.
func loadRulesOnly(t testing.TB, files map[string]string) *rules.Rules {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	r, err := rules.Load(fsys)
	if err != nil {
		t.Fatalf("load rules: %v", err)
	}
	return r
}

// parseWorkload loads a Score workload the way score-go does (yaml.v3, then MapSpec).
func parseWorkload(t testing.TB, file, src string) Workload {
	t.Helper()
	var raw map[string]any
	//nolint:staticcheck // score-go's parser, as the render package uses it
	if err := loader.ParseYAML(&raw, strings.NewReader(src)); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if _, err := schema.ApplyCommonUpgradeTransforms(raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var w types.Workload
	if err := loader.MapSpec(&w, raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	name, _ := w.Metadata["name"].(string)
	return Workload{Name: name, File: file, Spec: &w}
}

func loadFixtureWorkload(t testing.TB, name string) Workload {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "score", name))
	if err != nil {
		t.Fatal(err)
	}
	return parseWorkload(t, name, string(b))
}

func env(name string) rules.Environment {
	typ := name
	return rules.Environment{Name: name, Type: typ}
}

// snapshot renders a result as YAML, the definition of each resource included. Init and
// State are left out and Secret manifests redacted: templates such as score-k8s's keep
// generated passwords there, and golden files are committed.
func snapshot(t testing.TB, r *Result) []byte {
	t.Helper()
	var out struct {
		Resources []map[string]any `json:"resources"`
		Shared    map[string]any   `json:"shared"`
	}
	for _, res := range r.Resources {
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "init")
		delete(m, "state")
		if len(res.Manifests) > 0 {
			var redacted []manifest.Object
			for _, o := range res.Manifests {
				redacted = append(redacted, manifest.Redact(o))
			}
			m["manifests"] = redacted
		}
		m["definition"] = res.Match.Definition.ID
		out.Resources = append(out.Resources, m)
	}
	out.Shared = r.Shared
	b, err := manifest.MarshalValue(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}
