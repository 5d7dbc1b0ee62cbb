package provision

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/render/rules"
)

// graphDefs provide postgres databases on one shared instance, an echo redis, dns and route.
const graphDefs = `
- id: pg-db
  type: postgres
  requires:
    instance: {type: postgres-instance, id: shared-pg}
  state: |
    database: db-{{ .Id | replace "." "-" }}
  outputs: |
    host: {{ .Resources.instance.host }}
    port: {{ .Resources.instance.port }}
    database: {{ .State.database }}
    username: {{ .State.database }}
    password: {{ encodeSecretRef (printf "%s-%s" .State.database (substr 0 8 .Guid)) "password" }}
  secretOutputs: [password]
  expectedOutputs: [host, port, database, username, password]
- id: pg-instance
  type: postgres-instance
  init: |
    name: pg-{{ substr 0 8 .Guid }}
  shared: |
    pgInstances:
      {{ .Id }}: {{ .Init.name }}
  outputs: |
    host: {{ .Init.name }}.{{ .Namespace }}.svc
    port: 5432
  manifests: |
    - apiVersion: v1
      kind: Service
      metadata:
        name: {{ .Init.name }}
        namespace: {{ .Namespace }}
      spec:
        ports: [{port: 5432}]
- id: redis-echo
  type: redis
  values:
    host: redis.example.com
    port: 6379
    password: {secretKeyRef: {name: redis, key: password}}
- id: dns
  type: dns
  outputs: |
    host: {{ .SourceWorkload }}-{{ .Env.Name }}.{{ .App }}.example.com
- id: route
  type: route
  supportedParams: [host, path, port]
  manifests: |
    - apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: {{ .SourceWorkload }}-{{ substr 0 8 .Guid }}
      spec:
        hostnames: [{{ .Params.host | quote }}]
        rules:
        - backendRefs:
          - name: {{ (index .WorkloadServices .SourceWorkload).ServiceName }}
            port: {{ (index (index .WorkloadServices .SourceWorkload).Ports (print .Params.port)).Port }}
- id: chain-a
  type: chain-a
  requires:
    b: {type: chain-b}
  outputs: |
    value: a({{ .Resources.b.value }})
- id: chain-b
  type: chain-b
  requires:
    c: {type: chain-c, id: the-c}
  outputs: |
    value: b({{ .Resources.c.value }}) of {{ .Id }}
- id: chain-c
  type: chain-c
  outputs: |
    value: c
`

const apiScore = `
apiVersion: score.dev/v1b1
metadata:
  name: api
service:
  ports:
    web: {port: 80, targetPort: 8080}
containers:
  main: {image: api}
resources:
  db: {type: postgres}
  cache: {type: redis, id: shared-cache}
  dns: {type: dns}
  route:
    type: route
    params:
      host: ${resources.dns.host}
      path: /
      port: web
`

const workerScore = `
apiVersion: score.dev/v1b1
metadata:
  name: worker
containers:
  main: {image: worker}
resources:
  db: {type: postgres}
  cache: {type: redis, id: shared-cache}
  chain: {type: chain-a}
`

func graphInput(t testing.TB) Input {
	return Input{
		Rules:     loadRules(t, map[string]string{"definitions/graph.yaml": graphDefs}),
		Env:       env("development"),
		AppID:     "shop",
		Namespace: "shop-development",
		Workloads: []Workload{
			parseWorkload(t, "api/score.yaml", apiScore),
			parseWorkload(t, "worker/score.yaml", workerScore),
		},
	}
}

func TestProvisionGraph(t *testing.T) {
	in := graphInput(t)
	res, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "graph.golden.yaml", snapshot(t, res))

	var uids []string
	for _, r := range res.Resources {
		uids = append(uids, string(r.Uid))
	}
	// Dependencies first, ties by uid.
	want := []string{
		"chain-c.default#the-c",
		"chain-b.default#worker.chain.b",
		"chain-a.default#worker.chain",
		"dns.default#api.dns",
		"postgres-instance.default#shared-pg",
		"postgres.default#api.db",
		"postgres.default#worker.db",
		"redis.default#shared-cache",
		"route.default#api.route",
	}
	if strings.Join(uids, "\n") != strings.Join(want, "\n") {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(uids, "\n"), strings.Join(want, "\n"))
	}

	api, worker := res.Outputs("api"), res.Outputs("worker")
	if api["cache"]["host"] != "redis.example.com" || worker["cache"]["host"] != "redis.example.com" {
		t.Errorf("shared redis outputs: %v / %v", api["cache"], worker["cache"])
	}
	if api["db"]["database"] == worker["db"]["database"] {
		t.Errorf("private databases share a name: %v", api["db"]["database"])
	}
	if api["db"]["host"] != worker["db"]["host"] {
		t.Errorf("databases on one shared instance have different hosts: %v / %v", api["db"]["host"], worker["db"]["host"])
	}
	if got := worker["chain"]["value"]; got != "a(b(c) of worker.chain.b)" {
		t.Errorf("requires chain value = %v", got)
	}
	if _, ok := api["chain"]; ok {
		t.Error("api sees worker's resource")
	}
	if res.Outputs("nobody") != nil {
		t.Error("Outputs of an unknown workload should be nil")
	}
	var route *Resource
	for _, r := range res.Resources {
		if r.Uid == "route.default#api.route" {
			route = r
		}
	}
	if route.Params["host"] != "api-development.shop.example.com" {
		t.Errorf("route params not substituted: %v", route.Params)
	}
}

func TestDeterministic(t *testing.T) {
	in := graphInput(t)
	first, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	a := snapshot(t, first)
	second, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	if b := snapshot(t, second); !bytes.Equal(a, b) {
		t.Errorf("second run differs:\n%s\n---\n%s", a, b)
	}
	in.Workloads = []Workload{in.Workloads[1], in.Workloads[0]}
	third, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	if c := snapshot(t, third); !bytes.Equal(a, c) {
		t.Errorf("reordered workloads differ:\n%s\n---\n%s", a, c)
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGuid(t *testing.T) {
	guids := func(app, envName string) map[string]string {
		in := graphInput(t)
		in.AppID, in.Env = app, env(envName)
		res, err := Provision(in)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range res.Resources {
			if !uuidRe.MatchString(r.Guid) {
				t.Errorf("%s: Guid %q is not a UUID", r.Uid, r.Guid)
			}
			m[string(r.Uid)] = r.Guid
		}
		return m
	}
	shop, shop2, blog, prod := guids("shop", "development"), guids("shop", "development"), guids("blog", "development"), guids("shop", "production")
	for uid, g := range shop {
		if shop2[uid] != g {
			t.Errorf("%s: Guid changed between runs", uid)
		}
		if prod[uid] == g {
			t.Errorf("%s: same Guid in two environments", uid)
		}
	}
	tests := []struct {
		uid        string
		sameAcross bool // the same in every app of the environment
	}{
		{"redis.default#shared-cache", true},
		{"postgres-instance.default#shared-pg", true},
		{"chain-c.default#the-c", true},
		{"postgres.default#api.db", false},
		{"chain-b.default#worker.chain.b", false},
	}
	for _, tt := range tests {
		if got := shop[tt.uid] == blog[tt.uid]; got != tt.sameAcross {
			t.Errorf("%s: same Guid across apps = %v, want %v", tt.uid, got, tt.sameAcross)
		}
	}
}

func TestEchoOutputsAreCopies(t *testing.T) {
	in := graphInput(t)
	res, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	res.Outputs("api")["cache"]["host"] = "changed"
	again, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Outputs("api")["cache"]["host"]; got != "redis.example.com" {
		t.Errorf("echo values were modified through outputs: %v", got)
	}
}

// TestErrors checks every error message against a golden file.
func TestErrors(t *testing.T) {
	const scoreOne = `
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  res: {type: thing}
`
	tests := []struct {
		name  string
		defs  string
		files map[string]string // extra rules files
		score []string          // default: scoreOne
		is    error
		want  []string // in the message: the file and line, the field, the fix
	}{
		{name: "no match", defs: `[{id: other, type: other, values: {a: b}}]`, is: rules.ErrNoMatch},
		{name: "ambiguous", defs: `
- {id: thing-a, type: thing, values: {a: b}}
- {id: thing-b, type: thing, values: {a: c}}`, is: rules.ErrAmbiguous},
		{name: "cmd provisioner", defs: `[]`, files: map[string]string{"k8s.provisioners.yaml": `
- uri: cmd://bash#thing
  type: thing
  args: ["-c", "true"]`}, is: rules.ErrUnsupported},
		{name: "fail in init", defs: `
- id: thing
  type: thing
  init: |
    a: b
    {{ if not .Params.size }}{{ fail "params.size is required" }}{{ end }}`},
		{name: "index error", defs: `
- id: thing
  type: thing
  outputs: |
    host: {{ index .Params.servers 3 }}`},
		{name: "outputs not yaml", defs: `
- id: thing
  type: thing
  outputs: |
    host: [unclosed`},
		{name: "missing init key", defs: `
- id: thing
  type: thing
  init: |
    name: db
  outputs: |
    host: {{ .Init.nmae | upper }}`,
			want: []string{"definitions/defs.yaml:7: ", "outputs template", ".Init.nmae is not set (Init has: name)", "fix the name"}},
		{name: "missing key printed", defs: `
- id: thing
  type: thing
  init: |
    name: db
  outputs: |
    port: 5432
    host: {{ .Init.nmae }}`,
			want: []string{"definitions/defs.yaml:8: ", "outputs template", "printed <no value>", ".Init.nmae is not set (Init has: name)", "default"}},
		{name: "missing key printed after a guarded one", defs: `
- id: thing
  type: thing
  init: |
    name: db
  outputs: |
    size: {{ .Params.size | default "1Gi" }}
    {{ if .Params.tier }}tier: x{{ end }}
    host: {{ .Init.nmae }}`,
			want: []string{"definitions/defs.yaml:9: ", "printed <no value>", ".Init.nmae is not set (Init has: name)"}},
		{name: "null value printed", defs: `
- id: thing
  type: thing
  init: |
    name: null
  outputs: |
    host: {{ .Init.name }}`,
			want: []string{"definitions/defs.yaml:7: ", "printed <no value>", ".Init.name is null", "default"}},
		{name: "score value holding <no value>", defs: `
- id: thing
  type: thing
  outputs: |
    note: {{ .Params.note | quote }}`,
			score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  res: {type: thing, params: {note: "shows <no value> when unset"}}
`},
			want: []string{"definitions/defs.yaml", "the output holds the text <no value>", "Score value"}},
		{name: "missing key in a range", defs: `
- id: thing
  type: thing
  outputs: |
    {{ range $k, $v := .Params }}{{ $k }}: x{{ end }}
    host: {{ $.Resources.db.host | upper }}`,
			want: []string{"definitions/defs.yaml:6: ", "$.Resources.db.host is not set (Resources is empty)"}},
		{name: "outputs value with a colon", defs: `
- id: thing
  type: thing
  outputs: |
    host: db
    url: postgres://db: 5432`,
			want: []string{"definitions/defs.yaml:5 ", "outputs template", `output line 2 "url: postgres://db: 5432"`, `quote values that contain ": "`}},
		{name: "manifests value with a colon, secret key", defs: `
- id: thing
  type: thing
  manifests: |
    - apiVersion: v1
      kind: Secret
      metadata: {name: x}
      stringData:
        password: hunter2: not-shown`,
			want: []string{"manifests template", "definitions/defs.yaml:5 ", `output line 5 "    password: <value hidden>"`, "quote values"}},
		{name: "outputs a list", defs: `
- id: thing
  type: thing
  outputs: |
    - a
    - b`},
		{name: "manifests not a list", defs: `
- id: thing
  type: thing
  manifests: |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: x}`},
		{name: "manifest without kind", defs: `
- id: thing
  type: thing
  manifests: |
    - apiVersion: v1
      metadata: {name: x}`},
		{name: "secret output plaintext", defs: `
- id: thing
  type: thing
  outputs: |
    password: hunter2-very-secret
  secretOutputs: [password]`, is: ErrSecretOutput},
		{name: "secret output mixed", defs: `
- id: thing
  type: thing
  outputs: |
    url: postgres://u:{{ encodeSecretRef "pg" "password" }}@host
  secretOutputs: [url]`, is: ErrSecretOutput},
		{name: "secret output missing", defs: `
- id: thing
  type: thing
  outputs: |
    user: u
  secretOutputs: [password]`, is: ErrSecretOutput},
		{name: "expected output missing", defs: `
- id: thing
  type: thing
  outputs: |
    host: h
  expectedOutputs: [host, port]`},
		{name: "unsupported param", defs: `
- id: thing
  type: thing
  values: {a: b}
  supportedParams: [size]`, score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  res: {type: thing, params: {size: 1, colour: red}}
`}},
		{name: "unknown resource in params", defs: `[{id: thing, type: thing, values: {a: b}}]`, score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  res: {type: thing, params: {host: "${resources.nope.host}"}}
`}},
		{name: "unknown output in params", defs: `
- {id: thing, type: thing, values: {a: b}}
- {id: other, type: other, values: {host: h}}`, score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  dep: {type: other}
  res: {type: thing, params: {host: "${resources.dep.hostname}"}}
`}},
		{name: "params cycle", defs: `[{id: thing, type: thing, values: {a: b}}]`, is: ErrCycle, score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  a: {type: thing, params: {x: "${resources.b.a}"}}
  b: {type: thing, params: {x: "${resources.c.a}"}}
  c: {type: thing, params: {x: "${resources.a.a}"}}
`}},
		{name: "requires cycle", defs: `
- id: pg
  type: postgres
  requires: {instance: {type: postgres-instance, id: shared-pg}}
  values: {a: b}
- id: pg-instance
  type: postgres-instance
  requires: {db: {type: postgres, id: one.db}}
  values: {a: b}`, is: ErrCycle, score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  db: {type: postgres}
`}},
		{name: "endless private requires", defs: `
- id: thing
  type: thing
  requires: {next: {type: thing}}
  values: {a: b}`},
		{name: "shared params conflict", defs: `[{id: thing, type: thing, values: {a: b}}]`, is: ErrConflict, score: []string{`
apiVersion: score.dev/v1b1
metadata: {name: one}
containers: {main: {image: x}}
resources:
  res: {type: thing, id: common, params: {size: 1}}
`, `
apiVersion: score.dev/v1b1
metadata: {name: two}
containers: {main: {image: x}}
resources:
  other: {type: thing, id: common, params: {size: 2}}
`}},
	}
	var out bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"definitions/defs.yaml": tt.defs}
			for k, v := range tt.files {
				files[k] = v
			}
			scores := tt.score
			if scores == nil {
				scores = []string{scoreOne}
			}
			in := Input{Rules: loadRules(t, files), Env: env("development"), AppID: "app", Namespace: "app-development"}
			for i, s := range scores {
				in.Workloads = append(in.Workloads, parseWorkload(t, []string{"one/score.yaml", "two/score.yaml"}[i], s))
			}
			_, err := Provision(in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error does not wrap %v: %v", tt.is, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a secret value: %v", err)
			}
			out.WriteString("## " + tt.name + "\n" + err.Error() + "\n\n")
		})
	}
	golden(t, "errors.golden", out.Bytes())
}
