package rules

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/scorebot/scorebot/internal/render/secretref"
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// TestLoadScoreK8sProvisioners loads score-k8s's default provisioners file unchanged.
func TestLoadScoreK8sProvisioners(t *testing.T) {
	dir := filepath.Join(fixtures(t), "score-k8s")
	data, err := os.ReadFile(filepath.Join(dir, "default.provisioners.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(mapFS(map[string]string{"default.provisioners.yaml": string(data)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Definitions) != 15 {
		t.Fatalf("loaded %d provisioners, want 15", len(r.Definitions))
	}
	var envs []string
	for _, e := range r.Platform.Environments {
		envs = append(envs, e.Name+"/"+e.Type+"/"+e.Reach)
	}
	if got := strings.Join(envs, ","); got != "development/development/auto,staging/staging/promotion,production/production/promotion" {
		t.Errorf("default environments = %s", got)
	}
	for _, d := range r.Definitions {
		if !d.Provisioner {
			t.Errorf("%s not marked as provisioner", d.ID)
		}
		if d.Driver == DriverTemplate && d.Init == nil && d.Outputs == nil && d.Manifests == nil {
			t.Errorf("%s has no parsed templates", d.ID)
		}
	}
	pg, err := r.Match(Context{Type: "postgres", ResID: "web.db", AppID: "shop", EnvID: "production", EnvType: "production"})
	if err != nil || pg.Definition.ID != "template://default-provisioners/postgres" {
		t.Fatalf("postgres matched %v, %v", pg, err)
	}
	if pg.Definition.Outputs == nil || pg.Definition.TemplateLines["init"] != 190 {
		t.Errorf("postgres templates: outputs %v, init line %d", pg.Definition.Outputs, pg.Definition.TemplateLines["init"])
	}
	// The example resource type: the template provisioner (class null) comes first in the
	// file, so it wins even for the cmd provisioner's class and id.
	ex, err := r.Match(Context{Type: "example-provisioner-resource", ResID: "specific", EnvID: "staging", EnvType: "staging"})
	if err != nil || ex.Definition.Driver != DriverTemplate {
		t.Fatalf("example matched %v, %v", ex, err)
	}
}

func TestLoadEchoSecretRefs(t *testing.T) {
	r, err := Load(mapFS(map[string]string{
		"definitions/db.yaml": `
id: db-prod
type: postgres
criteria: [{env_type: production}]
values:
  host: db.internal
  port: 5432
  password: {secretKeyRef: {name: orders-db, key: password}}
  nested:
    token: {secretKeyRef: {name: api, key: token}}
  list: [1, 2.5, true, null]
secretOutputs: [password]
requires:
  net: {type: network, id: shared-net}
`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	d := r.Definitions[0]
	if d.Driver != DriverEcho {
		t.Errorf("driver = %s", d.Driver)
	}
	if got := d.Values["password"]; got != secretref.Encode("orders-db", "password") {
		t.Errorf("password = %v", got)
	}
	if got := d.Values["port"]; got != int64(5432) {
		t.Errorf("port = %#v", got)
	}
	if !slices.Equal(d.SecretOutputs, []string{"nested.token", "password"}) {
		t.Errorf("secret outputs = %v", d.SecretOutputs)
	}
	if d.Requires["net"] != (Requirement{Type: "network", ID: "shared-net"}) {
		t.Errorf("requires = %v", d.Requires)
	}
}

// TestLoadOrder: definitions by file path then file order, provisioners after.
func TestLoadOrder(t *testing.T) {
	r := loadDir(t, "testdata/match")
	var ids []string
	for _, d := range r.Definitions {
		ids = append(ids, d.ID)
	}
	want := "redis-a,redis-b,redis-dev,s3-big,pg-any,pg-dev,pg-prod-type,pg-prod-eu,pg-shop,pg-shop-prod,pg-resid,pg-large,pg-multi," +
		"template://test/postgres-any,template://test/mysql-special,template://test/mysql-any,template://test/mysql-small,cmd://bash#kafka"
	if got := strings.Join(ids, ","); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
}

func TestLoadTemplateLines(t *testing.T) {
	_, err := Load(mapFS(map[string]string{
		"definitions/x.yaml": "id: x\ntype: x\noutputs: |\n  a: b\n  c: {{ .Foo \n",
	}))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 5 || fe.Field != "outputs" {
		t.Fatalf("error %v, want line 5 field outputs", err)
	}
}

// platformOK is a valid platform file the error cases below build on.
const platformOK = "environments: [{name: development}, {name: production}]\n"

// TestLoadErrors: every load error message, in testdata/errors.golden.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"empty repo", map[string]string{"README.md": "hi"}},
		{"yaml syntax", map[string]string{"platform.yaml": "environments: [\n"}},
		{"platform unknown field", map[string]string{"platform.yaml": platformOK + "enviroment: x\n"}},
		{"platform no environments", map[string]string{"platform.yaml": "envRepo: {url: https://example.com/env.git}\n"}},
		{"environment fields", map[string]string{"platform.yaml": `
environments:
  - name: Dev
    type: "a b"
    namespace: "{team}-{env}"
    reach: promotion
  - name: prod
    reach: sometimes
    autoMerge: "yes"
  - name: prod
    nmae: x
`}},
		{"auto merge on auto", map[string]string{"platform.yaml": "environments: [{name: dev, autoMerge: true}]\n"}},
		{"env repo", map[string]string{"platform.yaml": platformOK + "envRepo: {url: 'ftp://x', branch: 'a b', path: ../up}\n"}},
		{"apps", map[string]string{"platform.yaml": platformOK + `
apps:
  - {repo: acme, appId: Shop}
  - {repo: acme/shop, scoreFiles: []}
  - {repo: ACME/shop, scoreFiles: ["[x"]}
`}},
		{"definition basics", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": `
- type: postgres
  values: {}
- id: Bad_Id
  type: "post gres"
  values: {}
- id: no-driver
  type: postgres
- id: both
  type: postgres
  values: {}
  outputs: "a: b"
- id: wrong-driver
  type: postgres
  driver: terraform
- id: typo
  type: postgres
  critera: []
  values: {}
`}},
		{"duplicate ids", map[string]string{"platform.yaml": platformOK,
			"definitions/a.yaml": "id: pg\ntype: postgres\nvalues: {}\n",
			"definitions/b.yaml": "id: pg\ntype: postgres\nvalues: {}\n"}},
		{"criteria", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": `
id: pg
type: postgres
class: large
criteria:
  - env_id: prod
  - env_type: prod
  - app_id: Shop
  - class: small
  - envid: production
values: {}
`}},
		{"template errors", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": `
id: pg
type: postgres
init: |
  a: {{ .Foo
outputs: |

  host: {{ nosuchfunc .Id }}
manifests: [not, a, string]
values: {a: b}
driver: template
`}},
		{"echo errors", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": `
id: pg
type: postgres
driver: echo
outputs: "x: y"
values:
  password: hunter2
  api_token: abc
  ref: {secretKeyRef: {name: Bad_Name, key: k}}
  extra: {secretKeyRef: {name: ok, key: k}, other: 1}
  broken: "🔐💬noKey💬🔐"
  host: h
secretOutputs: [host]
`}},
		{"echo values not a map", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": "id: pg\ntype: postgres\nvalues: [a]\n"}},
		{"requires", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": `
id: pg
type: postgres
values: {}
requires:
  db-instance: {type: postgres-instance}
  inst: {class: x}
  other: {type: postgres-instance, name: x}
`}},
		{"workload errors", map[string]string{"platform.yaml": platformOK, "definitions/w.yaml": `
- id: w1
  type: workload
  criteria: [{class: large}]
  labels: {"bad key!": x, ok: "bad value!"}
  annotations: {"a/b/c": x}
  serviceAccountName: Bad_SA
  replicas: -1
  securityContext: {runAsNonRot: true}
  podSecurityContext: [x]
- id: w2
  type: workload
`}},
		{"provisioner errors", map[string]string{"p.provisioners.yaml": `
- uri: http://x
  type: a
- uri: template://a/b
  args: [x]
- type: b
- uri: cmd://bash#c
  type: c
  outputs: "a: b"
- uri: template://a/d
  type: d
  init: "{{ end }}"
  unknown: 1
`}},
		{"provisioner file not a list", map[string]string{"p.provisioners.yaml": "uri: template://x\ntype: y\n"}},
		{"duplicate provisioner uri", map[string]string{"a.provisioners.yaml": "- {uri: 'template://x/y', type: y}\n", "b/b.provisioners.yaml": "- {uri: 'template://x/y', type: y}\n"}},
		{"duplicate keys", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": "id: a\nid: b\ntype: x\nvalues: {}\n"}},
		{"definition not a mapping", map[string]string{"platform.yaml": platformOK, "definitions/a.yaml": "- just a string\n"}},
	}
	var b strings.Builder
	for _, tc := range cases {
		_, err := Load(mapFS(tc.files))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v is not a FieldError wrapping ErrInvalid", tc.name, err)
		}
		b.WriteString("== " + tc.name + "\n" + err.Error() + "\n\n")
	}
	golden(t, "errors.golden", b.String())
}
