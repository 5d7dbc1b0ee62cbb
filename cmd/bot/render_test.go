package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/envtree/envtreetest"
	"github.com/scorebot/scorebot/internal/render/manifest"
)

// renderRules is a rules repo made of one score-k8s provisioner file: it has the three
// default environments.
const renderRules = `- uri: template://test/volume
  type: volume
  outputs: |
    source:
      emptyDir: {}
- uri: template://test/cache
  type: redis
  outputs: |
    host: cache-{{ .Id }}
    port: 6379
  manifests: |
    - apiVersion: v1
      kind: Service
      metadata:
        name: cache-{{ .Id }}
      spec:
        ports: [{port: 6379}]
        selector: {app: cache}
- uri: template://test/leaky
  type: leaky
  outputs: |
    x: y
  manifests: |
    - apiVersion: v1
      kind: Secret
      metadata: {name: leaky}
      stringData: {password: hunter2}
`

const renderScore = `apiVersion: score.dev/v1b1
metadata:
  name: web
containers:
  web:
    image: nginx
    variables:
      CACHE: ${resources.cache.host}:${resources.cache.port}
    files:
      /etc/motd:
        source: motd.txt
    volumes:
      /data:
        source: ${resources.data}
resources:
  cache:
    type: redis
    id: sessions
  data:
    type: volume
`

func setupRender(t *testing.T) (rulesDir, scoreFile string) {
	t.Helper()
	dir := t.TempDir()
	rulesDir = filepath.Join(dir, "rules")
	appDir := filepath.Join(dir, "myapp")
	for _, d := range []string{rulesDir, appDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(rulesDir, "test.provisioners.yaml"), renderRules)
	scoreFile = filepath.Join(appDir, "score.yaml")
	write(scoreFile, renderScore)
	write(filepath.Join(appDir, "motd.txt"), "hello\n")
	return rulesDir, scoreFile
}

func runBot(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRenderStdout(t *testing.T) {
	rulesDir, score := setupRender(t)
	code, out, errOut := runBot("render", "--rules", rulesDir, "--env", "development", "--explain", score)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	objs, err := manifest.Parse([]byte(out), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		if err := manifest.DecodeStrict(o); err != nil {
			t.Error(err)
		}
		kinds = append(kinds, o.Kind()+"/"+o.Namespace()+"/"+o.Name())
	}
	got := strings.Join(kinds, " ")
	for _, want := range []string{"Namespace//myapp-development", "Namespace//shared-development", "Deployment/myapp-development/web", "Service/shared-development/cache-sessions"} {
		if !strings.Contains(got, want) {
			t.Errorf("stdout lacks %s; has %s", want, got)
		}
	}
	if !strings.Contains(errOut, "resource redis.default#sessions (shared)") || !strings.Contains(errOut, "template://test/cache") {
		t.Errorf("--explain went missing from stderr:\n%s", errOut)
	}
	if !strings.Contains(out, "hello") {
		t.Error("files.source was not read relative to the score file")
	}
	// Same bytes again.
	_, again, _ := runBot("render", "--rules", rulesDir, "--env", "development", score)
	if again != out {
		t.Error("a second run printed different YAML")
	}
}

func TestRenderOut(t *testing.T) {
	rulesDir, score := setupRender(t)
	out := filepath.Join(t.TempDir(), "env")
	for range 2 { // the second run replaces the first render
		code, stdout, errOut := runBot("render", "--rules", rulesDir, "--env", "staging", "--out", out, "--explain", score)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(stdout, "resource volume.default#web.data") {
			t.Errorf("--explain with --out goes to stdout; got %q", stdout)
		}
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(out, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{envtree.KustomizationFile("", "staging", "myapp"), "clusters/staging/shared.yaml", envtree.AppDir("", "staging", "myapp") + "/kustomization.yaml", envtree.ProvenancePath("", "staging", "myapp")} {
		if files[want] == nil {
			t.Errorf("%s not written", want)
		}
	}
	if _, err := envtreetest.Check(files, ""); err != nil {
		t.Fatal(err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".env.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary folders left behind: %v", leftovers)
	}
}

func TestRenderErrors(t *testing.T) {
	rulesDir, score := setupRender(t)
	leaky := filepath.Join(filepath.Dir(score), "leaky.yaml")
	if err := os.WriteFile(leaky, []byte("apiVersion: score.dev/v1b1\nmetadata: {name: leaky}\ncontainers: {main: {image: busybox}}\nresources: {db: {type: leaky}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	leakyOut := filepath.Join(t.TempDir(), "x")
	brokenRules := filepath.Join(t.TempDir(), "rules")
	if err := os.MkdirAll(filepath.Join(brokenRules, "definitions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(brokenRules, "definitions", "a.yaml"), []byte("- id: a\n  type: redis\n  critera: []\n- id: a\n  type: redis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unrelated := t.TempDir()
	if err := os.WriteFile(filepath.Join(unrelated, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no flags", []string{}, 2, "missing --rules, --env, SCORE_FILE"},
		{"bad flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"unknown env", []string{"--rules", rulesDir, "--env", "qa", score}, 1, `environment "qa"`},
		{"missing score", []string{"--rules", rulesDir, "--env", "development", score + ".missing"}, 1, "score.yaml.missing: no such file: check the path"},
		{"folder as score", []string{"--rules", rulesDir, "--env", "development", filepath.Dir(score)}, 1, "is a folder: name the score files in it, for example " + score},
		{"no rules", []string{"--rules", filepath.Join(rulesDir, "nope"), "--env", "development", score}, 1, "nope: not a folder: give the folder of a rules repo checkout"},
		{"broken rules", []string{"--rules", brokenRules, "--env", "development", score}, 1, "rules repo " + brokenRules + ":\ndefinitions/a.yaml:1: "},
		{"plaintext secret", []string{"--rules", rulesDir, "--env", "development", "--out", leakyOut, leaky}, 1, "plaintext"},
		{"unrelated out", []string{"--rules", rulesDir, "--env", "development", "--out", unrelated, score}, 1, "holds notes.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runBot(append([]string{"render"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.contains) {
				t.Errorf("stderr lacks %q:\n%s", c.contains, stderr)
			}
			if strings.Contains(stderr+stdout, "hunter2") {
				t.Error("a secret value was printed")
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Dir(leakyOut)); len(entries) != 0 {
		t.Errorf("a failed render wrote %v", entries)
	}
	if b, err := os.ReadFile(filepath.Join(unrelated, "notes.txt")); err != nil || string(b) != "mine" {
		t.Error("an unrelated --out folder was touched")
	}
	if entries, _ := os.ReadDir(unrelated); len(entries) != 1 {
		t.Errorf("files were written into an unrelated --out folder: %v", entries)
	}
}

func TestRenderDefaultAppID(t *testing.T) {
	rulesDir, score := setupRender(t)
	platform := `environments:
  - name: development
apps:
  - repo: acme/shop
    appId: shop-app
    scoreFiles: ["score.yaml", "*.score.yaml"]
`
	if err := os.WriteFile(filepath.Join(rulesDir, "platform.yaml"), []byte(platform), 0o644); err != nil {
		t.Fatal(err)
	}
	shopDir := filepath.Join(t.TempDir(), "Shop")
	if err := os.MkdirAll(shopDir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(score)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shopDir, "score.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shopDir, "motd.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, dir, want string
	}{
		// A score.yaml given by its bare name used to match acme/shop's "score.yaml" glob.
		{"unmapped folder", filepath.Dir(score), "myapp"},
		{"folder named like a mapped repo", shopDir, "shop-app"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(c.dir)
			code, _, errOut := runBot("render", "--rules", rulesDir, "--env", "development", "--out", filepath.Join(t.TempDir(), "env"), "score.yaml")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if want := "for app " + c.want + " in development"; !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		})
	}
}
