package preview

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), []byte(got))
}

func deployment(app, env, image string, replicas int) []byte {
	return fmt.Appendf(nil, `apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/name: web
  name: web
  namespace: %s-%s
spec:
  replicas: %d
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      containers:
      - image: %s
        name: main
        ports:
        - containerPort: 8080
`, app, env, replicas, image)
}

const service = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
    targetPort: 8080
`

const secretPlain = `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2-very-secret
`

const secretPlain2 = `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: correct-horse-battery
  user: admin-user-secret
`

func appDir(env string) string { return "apps/" + env + "/shop/" }

func explain(env string) []render.ResourceExplain {
	return []render.ResourceExplain{{
		UID: "postgres.default#web.db", Workload: "web", Definition: "pg-" + env, File: "definitions/postgres.yaml",
		Text: "postgres (class default, id web.db) of app shop in environment " + env + " (type " + env + ")\n" +
			"  ✓ pg-" + env + "  definitions/postgres.yaml:1  matched by criterion 0 {env_id: " + env + "}\n",
	}}
}

func sampleRequest() Request {
	dev := appDir("development")
	stg := appDir("staging")
	return Request{
		Repo: "acme/shop", PR: 7, App: "shop",
		HeadCommit:  "0123456789abcdef0123456789abcdef01234567",
		RulesCommit: "fedcba9876543210fedcba9876543210fedcba98",
		Envs: []Env{
			{
				Name: "development",
				Current: map[string][]byte{
					dev + "deployment-web.yaml":        deployment("shop", "development", "ghcr.io/acme/shop:1.0", 1),
					dev + "service-web.yaml":           []byte(service),
					dev + "secret-db.yaml":             []byte(secretPlain),
					dev + ".scorebot/provenance.yaml":  []byte("source_commit: aaaa\n"),
					dev + "configmap-old.yaml":         []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  a: b\n"),
					"apps/development/_shared/ns.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shared-development\n"),
				},
				Rendered: map[string][]byte{
					dev + "deployment-web.yaml":        deployment("shop", "development", "ghcr.io/acme/shop:1.1", 2),
					dev + "service-web.yaml":           []byte(service),
					dev + "secret-db.yaml":             []byte(secretPlain2),
					dev + ".scorebot/provenance.yaml":  []byte("source_commit: bbbb\n"),
					dev + "configmap-new.yaml":         []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\ndata:\n  fence: |\n    ```\n    not a fence end\n    ```\n"),
					"apps/development/_shared/ns.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shared-development\n"),
				},
				Explain: explain("development"),
			},
			{
				Name: "staging",
				Problem: ProblemOf(fmt.Errorf("render shop for staging: %w", &rules.FieldError{
					File: "definitions/postgres.yaml", Line: 12, Field: "[1].manifests",
					Msg: "template: unknown function \"nope\"", Fix: "use a sprig function or remove the call",
				})),
			},
			{
				Name:     "production",
				Current:  map[string][]byte{stg + "x.yaml": []byte("unchanged\n")},
				Rendered: map[string][]byte{stg + "x.yaml": []byte("unchanged\n")},
			},
		},
	}
}

func TestGoldenComments(t *testing.T) {
	p := Build(sampleRequest())
	title, summary, conclusion := p.CheckRun()
	rp := BuildRules(sampleRules(3))
	rtitle, rsummary, rconclusion := rp.CheckRun()
	cases := []struct {
		name, got string
		limit     int
	}{
		{"app.md", p.Comment(), MaxCommentLen},
		{"app-merged.md", Outdated(p.Comment(), "merged"), MaxCommentLen},
		{"app-check.md", title + "\n" + conclusion + "\n\n" + summary, MaxCheckLen},
		{"rules.md", rp.Comment(), MaxCommentLen},
		{"rules-check.md", rtitle + "\n" + rconclusion + "\n\n" + rsummary, MaxCheckLen},
		{"empty.md", Build(Request{App: "none"}).Comment(), MaxCommentLen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := checkMarkdown(c.got, c.limit); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, c.got)
		})
	}
}

func TestCommentNeverShowsSecrets(t *testing.T) {
	p := Build(sampleRequest())
	for _, out := range []string{p.Comment(), Outdated(p.Comment(), "closed")} {
		for _, secret := range []string{"hunter2", "correct-horse", "admin-user-secret"} {
			if strings.Contains(out, secret) {
				t.Errorf("comment shows secret value %q", secret)
			}
		}
	}
	if !strings.Contains(p.Comment(), "<redacted>") {
		t.Error("the Secret's change is not shown redacted")
	}
}

func TestDiffRedactsSecretsOfEveryShape(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		wantNote bool
	}{
		{"v1 data", "", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  k: c2VjcmV0LXZhbHVl\n", false},
		{"odd apiVersion", "", "apiVersion: v9\nkind: Secret\nmetadata: {name: s}\nstringData:\n  k: secret-value\n", false},
		{"json", "", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"k":"secret-value"}}`, false},
		{"in a stream", "", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: secret-value}\n", false},
		{"unparseable", "", "kind: Secret\nstringData: {k: secret-value}\n", true},
		{"only values differ", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: other}\n", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: secret-value}\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := map[string][]byte{}
			if c.old != "" {
				cur["a.yaml"] = []byte(c.old)
			}
			d := Diff(cur, map[string][]byte{"a.yaml": []byte(c.new)})
			if len(d) != 1 {
				t.Fatalf("got %d diffs", len(d))
			}
			all := strings.Join(d[0].Lines, "\n") + d[0].Note
			for _, s := range []string{"secret-value", "c2VjcmV0LXZhbHVl"} {
				if strings.Contains(all, s) {
					t.Errorf("diff shows %q:\n%s", s, all)
				}
			}
			if (d[0].Note != "") != c.wantNote {
				t.Errorf("note %q, want note: %v", d[0].Note, c.wantNote)
			}
		})
	}
}

func TestUnified(t *testing.T) {
	lines := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	same := func(i int) string { return fmt.Sprint("line ", i) }
	cases := []struct {
		name        string
		old, new    string
		want        []string
		plus, minus int
	}{
		{"added file", "", "a\nb\n", []string{"@@ -0,0 +1,2 @@", "+a", "+b"}, 2, 0},
		{"removed file", "a\n", "", []string{"@@ -1 +0,0 @@", "-a"}, 0, 1},
		{"one change in the middle", lines(10, same), lines(10, func(i int) string {
			if i == 5 {
				return "five"
			}
			return same(i)
		}), []string{"@@ -2,7 +2,7 @@", " line 2", " line 3", " line 4", "-line 5", "+five", " line 6", " line 7", " line 8"}, 1, 1},
		{"two far changes make two hunks", lines(20, same), lines(20, func(i int) string {
			if i == 1 || i == 20 {
				return "x"
			}
			return same(i)
		}), []string{"@@ -1,4 +1,4 @@", "-line 1", "+x", " line 2", " line 3", " line 4",
			"@@ -17,4 +17,4 @@", " line 17", " line 18", " line 19", "-line 20", "+x"}, 2, 2},
		{"no final newline", "a\nb", "a\nc", []string{"@@ -1,2 +1,2 @@", " a", "-b", "+c"}, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, plus, minus := unified(c.old, c.new)
			if !slices.Equal(got, c.want) || plus != c.plus || minus != c.minus {
				t.Errorf("got %q +%d -%d\nwant %q +%d -%d", got, plus, minus, c.want, c.plus, c.minus)
			}
		})
	}
}

// TestFiveHundredWorkloads: a change to 500 workloads still makes one comment under the
// limit, valid Markdown, the summary whole, and says what was left out.
func TestFiveHundredWorkloads(t *testing.T) {
	cur, ren := map[string][]byte{}, map[string][]byte{}
	for i := range 500 {
		dir := fmt.Sprintf("apps/development/shop/w%03d/", i)
		cur[dir+"deployment.yaml"] = deployment(fmt.Sprintf("w%03d", i), "development", "img:1", 1)
		ren[dir+"deployment.yaml"] = deployment(fmt.Sprintf("w%03d", i), "development", "img:2", 3)
		ren[dir+"service.yaml"] = []byte(service)
	}
	r := Request{Repo: "acme/shop", PR: 1, App: "shop", HeadCommit: "abc", RulesCommit: "def", Envs: []Env{
		{Name: "development", Current: cur, Rendered: ren},
		{Name: "staging", Current: cur, Rendered: ren},
		{Name: "production", Current: cur, Rendered: cur},
	}}
	p := Build(r)
	out := p.Comment()
	if err := checkMarkdown(out, MaxCommentLen); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| development | 500 | 500 | 0 | +5000 | −1000 | ✅ ok |",
		"| staging | 500 | 500 | 0 | +5000 | −1000 | ✅ ok |",
		"| production | 0 | 0 | 0 | +0 | −0 | ✅ no changes |",
		"Cut to fit GitHub's 65,536-character comment limit",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("comment lacks %q", want)
		}
	}
	if out != Build(r).Comment() {
		t.Error("same input, different comment")
	}
	_, summary, _ := p.CheckRun()
	if err := checkMarkdown(summary, MaxCheckLen); err != nil {
		t.Fatal(err)
	}
	if err := checkMarkdown(Outdated(out, "merged"), MaxCommentLen); err != nil {
		t.Fatal(err)
	}
}

func TestOutdated(t *testing.T) {
	body := Build(sampleRequest()).Comment()
	merged := Outdated(Outdated(body, "closed"), "merged")
	if strings.Count(merged, "Preview outdated") != 1 || !strings.Contains(merged, "Preview outdated (merged)") {
		t.Errorf("banner not replaced:\n%s", merged[:400])
	}
	if !strings.HasPrefix(merged, Marker+"\n") {
		t.Error("marker not first")
	}
	if Current(merged) != body {
		t.Error("Current does not restore the body")
	}
}

func TestProblemOf(t *testing.T) {
	if ProblemOf(nil) != nil {
		t.Error("nil error gives a problem")
	}
	p := ProblemOf(fmt.Errorf("x: %w", &rules.FieldError{File: "f.yaml", Line: 3, Field: "a.b", Msg: "bad", Fix: "fix it"}))
	if p.File != "f.yaml" || p.Line != 3 || p.Field != "a.b" || p.Fix != "fix it" {
		t.Errorf("got %+v", p)
	}
	p = ProblemOf(errors.New("score.yaml: containers: missing: add one"))
	if p.File != "" || p.Message != "score.yaml: containers: missing: add one" {
		t.Errorf("got %+v", p)
	}
}

// sampleRules is a rules preview of n apps where postgres changes in staging only, and one
// app breaks in staging.
func sampleRules(n int) RulesRequest {
	r := RulesRequest{Repo: "acme/rules", PR: 3, HeadCommit: "1111111111111111111111111111111111111111", BaseCommit: "2222222222222222222222222222222222222222"}
	for i := range n {
		app := fmt.Sprintf("app%03d", i)
		a := AppEnvs{App: app}
		for _, env := range []string{"development", "staging", "production"} {
			dir := "apps/" + env + "/" + app + "/"
			base := map[string][]byte{dir + "postgres.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pg\ndata:\n  version: \"15\"\n")}
			head := base
			if env == "staging" {
				head = map[string][]byte{dir + "postgres.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pg\ndata:\n  version: \"16\"\n")}
			}
			e := Env{Name: env, Current: base, Rendered: head, Explain: explain(env)}
			if env == "staging" && i == n-1 {
				e.Problem = &Problem{File: "definitions/postgres.yaml", Line: 4, Message: "no matching resource definition for postgres in staging", Fix: "add a definition"}
			}
			a.Envs = append(a.Envs, e)
		}
		r.Apps = append(r.Apps, a)
	}
	slices.Reverse(r.Apps) // BuildRules sorts
	return r
}

func TestRulesAffected(t *testing.T) {
	p := BuildRules(sampleRules(200))
	aff := p.Affected()
	if len(aff) != 200 {
		t.Fatalf("%d affected, want 200", len(aff))
	}
	for i, a := range aff {
		if a.Env != "staging" || a.App != fmt.Sprintf("app%03d", i) || a.Broken != (i == 199) {
			t.Errorf("affected[%d] = %+v", i, a)
		}
	}
	out := p.Comment()
	if err := checkMarkdown(out, MaxCommentLen); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "| development |") || strings.Contains(out, "| production |") {
		t.Error("the table lists environments that do not change")
	}
	if !strings.Contains(out, "| app199 | staging | – | – | – | – | – | ❌ error") {
		t.Error("broken app not in the table")
	}
}

// A problem every environment shares (the Score file does not load) is shown once; the
// table still has a row per environment.
func TestSameProblemOnce(t *testing.T) {
	same := func() *Problem {
		return ProblemOf(errors.New("score.yaml: containers.web.image: missing: set the image"))
	}
	req := Request{Repo: "acme/shop", PR: 1, App: "shop", HeadCommit: strings.Repeat("a", 40), RulesCommit: strings.Repeat("b", 40),
		Envs: []Env{{Name: "development", Problem: same()}, {Name: "staging", Problem: same()}, {Name: "production", Problem: same()}}}
	body := Build(req).Comment()
	if n := strings.Count(body, "cannot render</summary>"); n != 1 || !strings.Contains(body, "<b>every environment</b>") {
		t.Errorf("shared problem shown %d times, want once for every environment:\n%s", n, body)
	}
	if n := strings.Count(body, "❌ error"); n != 3 {
		t.Errorf("%d table rows with the error, want 3:\n%s", n, body)
	}
	req.Envs[2].Problem = ProblemOf(errors.New("definitions/postgres.yaml: no definition for production"))
	if n := strings.Count(Build(req).Comment(), "cannot render</summary>"); n != 3 {
		t.Errorf("different problems shown %d times, want one per environment", n)
	}
}
