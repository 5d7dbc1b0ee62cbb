package provision

import (
	"testing"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// TestTemplateData renders every field a template sees, as score-k8s names them plus ours.
func TestTemplateData(t *testing.T) {
	const defs = `
- id: echo-data
  type: data
  requires:
    dep: {type: dep}
  init: |
    fromInit: {{ .Params.size }}
  state: |
    fromState: {{ .Init.fromInit }}
    previous: {{ len .State }}
  shared: |
    first: {{ .Id }}
    nested: {keep: {{ .Type }}}
  outputs: |
    Guid: {{ .Guid | quote }}
    Uid: {{ .Uid | quote }}
    Type: {{ .Type }}
    Class: {{ .Class }}
    Id: {{ .Id }}
    Params: {{ toJson .Params }}
    Metadata: {{ toJson .Metadata }}
    Init: {{ toJson .Init }}
    State: {{ toJson .State }}
    Shared: {{ toJson .Shared }}
    SourceWorkload: {{ .SourceWorkload }}
    WorkloadMetadata: {{ toJson .WorkloadMetadata }}
    WorkloadServices: {{ toJson .WorkloadServices }}
    Namespace: {{ .Namespace }}
    App: {{ .App }}
    Env: {{ toJson .Env }}
    Resources: {{ toJson .Resources }}
    Yes: yes
    Float: 1.5
    Whole: 2.0
- id: dep
  type: dep
  shared: |
    nested: {dep: here}
    gone: ~
  outputs: |
    value: from-dep
`
	in := Input{
		Rules:     loadRules(t, map[string]string{"definitions/d.yaml": defs}),
		Env:       env("production"),
		AppID:     "shop",
		Namespace: "shop-prod",
		Workloads: []Workload{parseWorkload(t, "api/score.yaml", `
apiVersion: score.dev/v1b1
metadata:
  name: api
  annotations: {team: core}
service:
  ports:
    web: {port: 80, targetPort: 8080}
    dns: {port: 53, protocol: UDP}
containers: {main: {image: api}}
resources:
  thing:
    type: data
    metadata: {annotations: {x: y}}
    params: {size: 3, name: "${metadata.name}-x", literal: "$${keep}"}
`)},
	}
	res, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := manifest.MarshalValue(res.Outputs("api")["thing"])
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "data.golden.yaml", b)
	if _, ok := res.Shared["gone"]; ok {
		t.Error("a null in a shared template should delete the key")
	}
}
