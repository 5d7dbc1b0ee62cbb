package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/score-spec/score-go/loader"

	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/envtree/envtreetest"
	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

// Paths relative to this package: the module root is two folders up, shared/ is its sibling.
const (
	fixturesDir  = "../../../shared/fixtures/score"
	exampleRules = "../../examples/rules"
	exampleApps  = "../../examples/apps"
)

var environments = []string{"development", "staging", "production"}

func loadRules(t testing.TB, dir string) *rules.Rules {
	t.Helper()
	r, err := rules.Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("load rules %s: %v", dir, err)
	}
	return r
}

// diskFile reads a score file from disk the way the CLI does; path is kept as given.
func diskFile(t testing.TB, p string) ScoreFile {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	return ScoreFile{Path: strings.TrimPrefix(p, "../../"), Data: data, ReadFile: func(rel string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, rel))
	}}
}

// fixtureFile reads a flattened Score fixture. Its files.source paths were flattened with
// the same scheme (<prefix>__<name>), so rel resolves to the sibling with the same prefix;
// a few that do not exist upstream come from testdata/fixture-files.
func fixtureFile(t testing.TB, name string) ScoreFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	prefix := name[:strings.LastIndex(name, "__")+2]
	return ScoreFile{Path: "fixtures/score/" + name, Data: data, ReadFile: func(rel string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(fixturesDir, prefix+rel))
		if errors.Is(err, fs.ErrNotExist) {
			return os.ReadFile(filepath.Join("testdata", "fixture-files", prefix+rel))
		}
		return b, err
	}}
}

func fixtureNames(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		t.Fatalf("fixtures: %v (the shared/ folder must sit beside the repo)", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, e.Name())
		}
	}
	if len(names) != 29 {
		t.Fatalf("found %d Score fixtures, want 29", len(names))
	}
	return names
}

func dump(files map[string][]byte) []byte {
	var b bytes.Buffer
	for _, p := range sortedKeys(files) {
		fmt.Fprintf(&b, "=== %s\n%s", p, files[p])
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func checkTree(t *testing.T, out *Output, base string) {
	t.Helper()
	if _, err := envtreetest.Check(out.Files, base); err != nil {
		t.Fatalf("env tree does not build: %v", err)
	}
	for _, o := range out.Objects {
		if err := manifest.DecodeStrict(o); err != nil {
			t.Error(err)
		}
	}
	// Every object file is what manifest.Marshal writes (envtree has a faster encoder).
	for _, p := range sortedKeys(out.Files) {
		if path.Base(p) == "kustomization.yaml" || strings.Contains(p, "/.scorebot/") {
			continue
		}
		objs, err := manifest.Parse(out.Files[p], p)
		if err != nil || len(objs) != 1 {
			t.Fatalf("%s: %v (%d objects)", p, err, len(objs))
		}
		want, err := manifest.Marshal(objs[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, out.Files[p]) {
			t.Errorf("%s is not encoded as manifest.Marshal encodes it:\n%s", p, goldenfile.FirstDiff(want, out.Files[p]))
		}
	}
}

// appID names a fixture's app after its last meaningful path segment
// ("examples__samples__traderx__trade-service__score.yaml" → "trade-service").
func appID(name string) string {
	segs := strings.Split(strings.ToLower(strings.TrimSuffix(name, ".yaml")), "__")
	id := segs[len(segs)-1]
	if strings.HasPrefix(id, "score") && len(segs) > 1 {
		id = strings.TrimSuffix(segs[len(segs)-2]+"-"+strings.TrimPrefix(id, "score"), "-")
	}
	id = strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(id, "-"), "-")
	return id
}

func TestLoadScoreFixtures(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			f := fixtureFile(t, name)
			// The fast parse, when taken, gives what score-go's parser gives.
			var want map[string]any
			if err := loader.ParseYAML(&want, bytes.NewReader(f.Data)); err != nil {
				t.Fatal(err)
			}
			if got, err := parseScoreYAML(f.Data); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("parseScoreYAML = %#v, %v; score-go gives %#v", got, err, want)
			}
			w, err := LoadScore(f.Path, f.Data, f.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			for cname, c := range w.Containers {
				for target, file := range c.Files {
					if file.Source != nil {
						t.Errorf("container %s file %s: source %q not embedded", cname, target, *file.Source)
					}
				}
			}
		})
	}
}

// TestRenderFixtures renders every Score fixture alone with the example rules for
// development: each either renders (golden tree) or fails with the message listed in
// testdata/fixtures-errors.golden. The service-port pair is also rendered together.
func TestRenderFixtures(t *testing.T) {
	rs := loadRules(t, exampleRules)
	var errs bytes.Buffer
	cases := map[string][]string{}
	for _, name := range fixtureNames(t) {
		cases[name] = []string{name}
	}
	cases["score-compose__examples__08-service-port-resource__pair"] = []string{
		"score-compose__examples__08-service-port-resource__scoreA.yaml",
		"score-compose__examples__08-service-port-resource__scoreB.yaml",
	}
	for _, name := range sortedKeys(cases) {
		var files []ScoreFile
		for _, f := range cases[name] {
			files = append(files, fixtureFile(t, f))
		}
		out, err := Render(Input{Rules: rs, Env: "development", AppID: appID(name), Files: files,
			Provenance: Provenance{SourceRepo: "score-spec/fixtures", SourceCommit: "fixture", RulesCommit: "examples"}})
		if err != nil {
			fmt.Fprintf(&errs, "%s:\n  %s\n", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
			continue
		}
		t.Run(name, func(t *testing.T) {
			checkTree(t, out, rs.Platform.EnvRepo.Path)
			golden(t, filepath.Join("fixtures", strings.TrimSuffix(name, ".yaml")+".golden"), dump(out.Files))
		})
	}
	golden(t, "fixtures-errors.golden", errs.Bytes())
}

func exampleInput(t testing.TB, rs *rules.Rules, app, env string) Input {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(exampleApps, app, "*score.yaml"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("example app %s: no score files (%v)", app, err)
	}
	in := Input{Rules: rs, Env: env, AppID: app,
		Provenance: Provenance{SourceRepo: "acme/" + app, SourceCommit: "0000000000000000000000000000000000000001", RulesCommit: "0000000000000000000000000000000000000002"}}
	for _, m := range matches {
		in.Files = append(in.Files, diskFile(t, m))
	}
	return in
}

func exampleAppNames(t testing.TB) []string {
	entries, err := os.ReadDir(exampleApps)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestRenderExamples(t *testing.T) {
	rs := loadRules(t, exampleRules)
	for _, app := range exampleAppNames(t) {
		for _, env := range environments {
			t.Run(app+"/"+env, func(t *testing.T) {
				in := exampleInput(t, rs, app, env)
				out, err := Render(in)
				if err != nil {
					t.Fatal(err)
				}
				checkTree(t, out, rs.Platform.EnvRepo.Path)
				golden(t, filepath.Join("examples", app+"-"+env+".golden"), dump(out.Files))

				// Byte-identical on a second run and with the files in reverse order.
				slices.Reverse(in.Files)
				again, err := Render(in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(dump(out.Files), dump(again.Files)) {
					t.Error("a second render with the files reversed differs")
				}
				if len(out.Explain) == 0 {
					t.Error("no explanation")
				}
			})
		}
	}
}

func TestSharedAcrossWorkloadsAndApps(t *testing.T) {
	rs := loadRules(t, exampleRules)
	shop := exampleInput(t, rs, "shop", "development")
	blog := exampleInput(t, rs, "blog", "development")
	out, err := RenderApps([]Input{shop, blog})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, out, rs.Platform.EnvRepo.Path)
	var sharedDirs []string
	for _, p := range out.Shared {
		if strings.HasSuffix(p, "/") {
			sharedDirs = append(sharedDirs, p)
		}
	}
	if len(sharedDirs) != 1 || !strings.Contains(sharedDirs[0], "redis-default-sessions-") {
		t.Fatalf("shared folders = %v, want one for redis sessions", sharedDirs)
	}
	// Two workloads of shop use the shared cache: one resource, one explanation.
	shopOut, err := Render(shop)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range shopOut.Explain {
		if e.Shared && strings.HasPrefix(e.UID, "redis.") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("shop has %d shared redis resources, want 1", n)
	}
	// The order of the apps does not matter.
	rev, err := RenderApps([]Input{blog, shop})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dump(out.Files), dump(rev.Files)) {
		t.Error("rendering the apps in the other order changed the tree")
	}
}

// TestSharedNamespaceInTemplates: a shared resource's templates see the shared namespace as
// .Namespace, so the redis host its outputs name is the namespace its objects go to, for any
// namespace pattern.
func TestSharedNamespaceInTemplates(t *testing.T) {
	rs := loadRules(t, exampleRules)
	for i := range rs.Platform.Environments {
		rs.Platform.Environments[i].Namespace = "team-{app}-{env}"
	}
	out, err := Render(Input{Rules: rs, Env: "development", AppID: "bench", Files: generatedFiles(2)})
	if err != nil {
		t.Fatal(err)
	}
	var redisNS, addr string
	for _, o := range out.Objects {
		if o.Kind() == "StatefulSet" && strings.HasPrefix(o.Name(), "redis-") {
			redisNS = o.Namespace()
		}
		if o.Kind() == "Deployment" && o.Name() == "svc-0000" {
			b, err := manifest.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, ".svc.cluster.local:6379") {
					addr = strings.TrimSpace(line)
				}
			}
		}
	}
	if redisNS != "team-shared-development" {
		t.Fatalf("redis StatefulSet in namespace %q, want team-shared-development", redisNS)
	}
	if !strings.Contains(addr, "."+redisNS+".svc.cluster.local:6379") {
		t.Errorf("REDIS_ADDR is %q, want a host in namespace %s", addr, redisNS)
	}
}

// TestWorkloadDefinitionResID: workload definitions match per workload, with res_id the
// workload name (examples: workload-shop-worker-production applies to shop's worker only).
func TestWorkloadDefinitionResID(t *testing.T) {
	rs := loadRules(t, exampleRules)
	out, err := Render(exampleInput(t, rs, "shop", "production"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		replicas int64
		role     any
	}{"web": {3, nil}, "worker": {1, "queue-consumer"}}
	seen := 0
	for _, o := range out.Objects {
		w, ok := want[o.Name()]
		if o.Kind() != "Deployment" || !ok {
			continue
		}
		seen++
		spec, _ := o.Doc["spec"].(map[string]any)
		labels, _ := o.Doc["metadata"].(map[string]any)["labels"].(map[string]any)
		if spec["replicas"] != w.replicas || labels["platform.example.com/role"] != w.role {
			t.Errorf("%s: replicas %v, role label %v; want %d, %v", o.Name(), spec["replicas"], labels["platform.example.com/role"], w.replicas, w.role)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the Deployments %v", seen, want)
	}
}

func TestPlaintextSecretRefused(t *testing.T) {
	rs := loadRules(t, "testdata/rules-plaintext")
	f := diskFile(t, "testdata/rules-plaintext/leaky-score.yaml")
	_, err := Render(Input{Rules: rs, Env: "development", AppID: "leaky", Files: []ScoreFile{f}})
	if !errors.Is(err, manifest.ErrPlaintextSecret) {
		t.Fatalf("err = %v, want ErrPlaintextSecret", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the error shows the secret value")
	}
	if !strings.Contains(err.Error(), "leaky-database") {
		t.Errorf("the error does not name the definition: %v", err)
	}
}

// TestErrors lists every render error a user can see; the messages are in
// testdata/errors.golden.
func TestErrors(t *testing.T) {
	rs := loadRules(t, exampleRules)
	score := func(path, body string) ScoreFile {
		return ScoreFile{Path: path, Data: []byte(body), ReadFile: func(rel string) ([]byte, error) {
			return nil, fmt.Errorf("open %s: %w", rel, fs.ErrNotExist)
		}}
	}
	ok := score("ok/score.yaml", "apiVersion: score.dev/v1b1\nmetadata: {name: ok}\ncontainers: {main: {image: busybox}}\n")
	cases := []struct {
		name string
		in   Input
	}{
		{"no rules", Input{Env: "development", AppID: "x", Files: []ScoreFile{ok}}},
		{"unknown environment", Input{Rules: rs, Env: "qa", AppID: "x", Files: []ScoreFile{ok}}},
		{"mistyped environment", Input{Rules: rs, Env: "stagin", AppID: "x", Files: []ScoreFile{ok}}},
		{"unknown Score field", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("typo/score.yaml",
			"apiVersion: score.dev/v1b1\nmetadata: {name: svc}\ncontainers:\n  main:\n    image: busybox\n    variabels: {A: b}\n")}}},
		{"bad app id", Input{Rules: rs, Env: "development", AppID: "My_App", Files: []ScoreFile{ok}}},
		{"reserved app id", Input{Rules: rs, Env: "development", AppID: "shared", Files: []ScoreFile{ok}}},
		{"no files", Input{Rules: rs, Env: "development", AppID: "x"}},
		{"same file twice", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{ok, ok}}},
		{"same workload twice", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{ok,
			score("other/score.yaml", "apiVersion: score.dev/v1b1\nmetadata: {name: ok}\ncontainers: {main: {image: busybox}}\n")}}},
		{"not yaml", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("bad/score.yaml", "apiVersion: [\n")}}},
		{"empty file", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("empty/score.yaml", "")}}},
		{"schema", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("schema/score.yaml",
			"apiVersion: score.dev/v1b1\nmetadata: {name: svc}\ncontainers: {main: {imag: busybox}}\n")}}},
		{"wrong apiVersion", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("api/score.yaml",
			"apiVersion: score.dev/v2\nmetadata: {name: svc}\ncontainers: {main: {image: busybox}}\n")}}},
		{"old list form without target", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("list/score.yaml",
			"apiVersion: score.dev/v1b1\nmetadata: {name: svc}\ncontainers: {main: {image: busybox, files: [{content: x}]}}\n")}}},
		{"missing files.source", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("src/score.yaml",
			"apiVersion: score.dev/v1b1\nmetadata: {name: svc}\ncontainers: {main: {image: busybox, files: {/etc/x: {source: x.txt}}}}\n")}}},
		{"unknown placeholder", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("ph/score.yaml",
			"apiVersion: score.dev/v1b1\nmetadata: {name: svc}\ncontainers: {main: {image: busybox, variables: {A: '${resources.nope.x}', B: '${foo.bar}'}}}\n")}}},
		{"no definition for a resource type", Input{Rules: rs, Env: "development", AppID: "x", Files: []ScoreFile{score("res/score.yaml",
			"apiVersion: score.dev/v1b1\nmetadata: {name: svc}\ncontainers: {main: {image: busybox}}\nresources: {thing: {type: no-such-type}}\n")}}},
	}
	var msgs bytes.Buffer
	for _, c := range cases {
		_, err := Render(c.in)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		fmt.Fprintf(&msgs, "%s:\n  %s\n", c.name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		for _, sentinel := range []error{ErrInput, ErrInvalidScore, envtree.ErrInvalid} {
			if strings.HasSuffix(err.Error(), ": "+sentinel.Error()) {
				t.Errorf("%s: the message ends with the sentinel's text: %v", c.name, err)
			}
		}
	}
	golden(t, "errors.golden", msgs.Bytes())
}
