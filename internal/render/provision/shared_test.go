package provision

import (
	"errors"
	"fmt"
	"testing"
)

func TestSharedDeclarations(t *testing.T) {
	const defs = `[{id: thing, type: thing, outputs: "size: {{ .Params.size | default \"none\" }}"}]`
	score := func(name, res, extra string) string {
		return fmt.Sprintf(`
apiVersion: score.dev/v1b1
metadata: {name: %s}
containers: {main: {image: x}}
resources:
  %s: {type: thing, id: common%s}
`, name, res, extra)
	}
	tests := []struct {
		name       string
		a, b       string // extra fields of the declarations in workloads a and b
		wantSource string
		wantName   string
		wantSize   any
		wantErr    error
	}{
		{name: "no params", wantSource: "a", wantName: "ra", wantSize: "none"},
		{name: "same params", a: ", params: {size: 1}", b: ", params: {size: 1}", wantSource: "a", wantName: "ra", wantSize: int64(1)},
		{name: "params in the second only", b: ", params: {size: 2}", wantSource: "b", wantName: "rb", wantSize: int64(2)},
		{name: "params differ", a: ", params: {size: 1}", b: ", params: {size: 2}", wantErr: ErrConflict},
		{name: "metadata differs", a: ", metadata: {x: 1}", b: ", metadata: {x: 2}", wantErr: ErrConflict},
		{name: "class differs: two resources", a: ", class: big", wantSource: "b", wantName: "rb", wantSize: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Rules: loadRules(t, map[string]string{"definitions/d.yaml": defs + "\n"}), Env: env("development"), AppID: "app",
				Workloads: []Workload{
					parseWorkload(t, "b/score.yaml", score("b", "rb", tt.b)),
					parseWorkload(t, "a/score.yaml", score("a", "ra", tt.a)),
				}}
			if tt.name == "class differs: two resources" {
				in.Rules = loadRules(t, map[string]string{"definitions/d.yaml": defs + "\n", "definitions/big.yaml": `[{id: big, type: thing, class: big, values: {size: big}}]`})
			}
			res, err := Provision(in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var common *Resource
			for _, r := range res.Resources {
				if r.Uid == "thing.default#common" {
					common = r
				}
			}
			if common == nil {
				t.Fatalf("no thing.default#common in %d resources", len(res.Resources))
			}
			if common.SourceWorkload != tt.wantSource || common.Name != tt.wantName || !common.Shared {
				t.Errorf("source %s/%s shared %v, want %s/%s", common.SourceWorkload, common.Name, common.Shared, tt.wantSource, tt.wantName)
			}
			if got := res.Outputs("b")["rb"]["size"]; got != tt.wantSize {
				t.Errorf("b sees size %v (%T), want %v", got, got, tt.wantSize)
			}
		})
	}
}

// TestTemplateNamespace: a shared resource's templates see the environment's shared
// namespace as .Namespace (its objects go there), a private one the app's.
func TestTemplateNamespace(t *testing.T) {
	const defs = `[{id: thing, type: thing, outputs: "ns: {{ .Namespace }}"}]`
	w := parseWorkload(t, "a/score.yaml", `
apiVersion: score.dev/v1b1
metadata: {name: a}
containers: {main: {image: x}}
resources:
  own: {type: thing}
  common: {type: thing, id: common}
`)
	in := Input{Rules: loadRules(t, map[string]string{"definitions/d.yaml": defs + "\n"}), Env: env("development"), AppID: "app",
		Namespace: "app-development", SharedNamespace: "shared-development", Workloads: []Workload{w}}
	res, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	out := res.Outputs("a")
	if got := out["own"]["ns"]; got != "app-development" {
		t.Errorf("private resource sees .Namespace %v, want app-development", got)
	}
	if got := out["common"]["ns"]; got != "shared-development" {
		t.Errorf("shared resource sees .Namespace %v, want shared-development", got)
	}
}
