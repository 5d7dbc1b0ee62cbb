package convert

import (
	"strings"
	"testing"

	"github.com/score-spec/score-go/types"

	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/secretref"
)

// FuzzSubstitute converts a workload whose variable, argument and file content are the fuzzed
// value, with outputs that carry secret references. It must never panic, and no produced
// object may carry a secret reference marker (which would put the reference, and with a
// careless driver the secret, into a plaintext field).
func FuzzSubstitute(f *testing.F) {
	f.Fuzz(func(t *testing.T, value string) {
		content := value
		spec := &types.Workload{
			ApiVersion: "score.dev/v1b1",
			Metadata:   types.WorkloadMetadata{"name": "web"},
			Containers: types.WorkloadContainers{"app": {
				Image:     "nginx",
				Variables: types.ContainerVariables{"V": value},
				Args:      []string{value},
				Files:     types.ContainerFiles{"/etc/app.conf": {Content: &content}},
			}},
			Resources: types.WorkloadResources{"db": {Type: "postgres"}},
		}
		in := Input{Name: "web", File: "score.yaml", Spec: spec, AppID: "a", Env: "e", Namespace: "a-e",
			Outputs: map[string]map[string]any{"db": {
				"host":     "pg",
				"password": secretref.Encode("pg", "password"),
				"dsn":      "postgres://u:" + secretref.Encode("pg", "password") + "@pg/db",
				"nested":   map[string]any{"x": secretref.Encode("n", "x")},
			}}}
		objs, err := Workload(in)
		if err != nil {
			return
		}
		for _, o := range objs {
			b, err := manifest.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "🔐💬") {
				t.Fatalf("%s %s carries a secret reference marker:\n%s", o.Kind(), o.Name(), b)
			}
			if err := manifest.CheckNoPlaintextSecret(o); err != nil {
				t.Fatal(err)
			}
		}
	})
}
