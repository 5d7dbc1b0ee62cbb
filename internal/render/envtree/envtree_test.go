package envtree

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/render/envtree/envtreetest"
	"github.com/scorebot/scorebot/internal/render/manifest"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

func obj(t *testing.T, src, yml string) manifest.Object {
	t.Helper()
	objs, err := manifest.Parse([]byte(yml), src)
	if err != nil || len(objs) != 1 {
		t.Fatalf("parse %s: %v (%d objects)", src, err, len(objs))
	}
	return objs[0]
}

func shopApp(t *testing.T, base string) App {
	deploy := obj(t, "workload web (score.yaml)", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-development}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: nginx}]
`)
	svc := obj(t, "workload web (score.yaml)", `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop-development}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
`)
	redis := obj(t, "definition redis (rules/redis.yaml)", `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis-cache, namespace: shared-development}
spec:
  serviceName: redis-cache
  selector: {matchLabels: {app: redis-cache}}
  template:
    metadata: {labels: {app: redis-cache}}
    spec:
      containers: [{name: redis, image: redis:7}]
`)
	return App{
		Base: base, Env: "development", AppID: "shop", Namespace: "shop-development",
		SharedNamespace: "shared-development",
		Objects:         []manifest.Object{svc, deploy},
		Shared:          []SharedResource{{UID: "redis.default#cache", Objects: []manifest.Object{redis}}},
		Provenance: Provenance{SourceRepo: "acme/shop", SourceCommit: "0123abcd", RulesCommit: "89ef",
			Scores: []ScoreDigest{{Path: "score.yaml", SHA256: "aa"}}},
	}
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

func TestBuildGoldenAndKustomize(t *testing.T) {
	for _, base := range []string{"", "envs/acme"} {
		t.Run("base="+base, func(t *testing.T) {
			tree, err := Build(shopApp(t, base))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "shop-"+strings.ReplaceAll(cmpOr(base, "root"), "/", "-")+".golden", dump(tree.Files))
			res, err := envtreetest.Check(tree.Files, base)
			if err != nil {
				t.Fatal(err)
			}
			wantBuilt := []string{"apps/development/_shared", "apps/development/_shared/redis-default-cache-", "apps/development/8d/shop", "clusters/development"}
			var built []string
			for d := range res.Built {
				built = append(built, d)
			}
			slices.Sort(built)
			for _, w := range wantBuilt {
				w = strings.TrimPrefix(base+"/"+w, "/")
				if !slices.ContainsFunc(built, func(b string) bool { return strings.HasPrefix(b, w) }) {
					t.Errorf("folder %s was not built; built %v", w, built)
				}
			}
			if got := tree.Owned; !slices.Equal(got, []string{
				strings.TrimPrefix(base+"/apps/development/8d/shop/", "/"),
				strings.TrimPrefix(base+"/apps/development/shop/", "/"), // the first layout's, moved away
				strings.TrimPrefix(base+"/clusters/development/8d/shop.yaml", "/"),
				strings.TrimPrefix(base+"/clusters/development/shop.yaml", "/"),
			}) {
				t.Errorf("Owned = %v", got)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestBuildIsStable(t *testing.T) {
	a := shopApp(t, "")
	b := shopApp(t, "")
	slices.Reverse(b.Objects)
	ta, err := Build(a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Build(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dump(ta.Files), dump(tb.Files)) {
		t.Error("object order changed the tree")
	}
}

func TestSharedIdenticalAcrossApps(t *testing.T) {
	a := shopApp(t, "")
	b := shopApp(t, "")
	b.AppID, b.Namespace = "blog", "blog-development"
	for i := range b.Objects {
		b.Objects[i].Doc["metadata"].(map[string]any)["namespace"] = "blog-development"
	}
	ta, err := Build(a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Build(b)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(ta, tb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtreetest.Check(merged.Files, ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range ta.Shared {
		if !strings.HasSuffix(p, "/") && !bytes.Equal(ta.Files[p], tb.Files[p]) {
			t.Errorf("%s differs between apps", p)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	var msgs bytes.Buffer
	cases := []struct {
		name   string
		mutate func(*App)
	}{
		{"bad app id", func(a *App) { a.AppID = "Shop_1" }},
		{"reserved app id", func(a *App) { a.AppID = "shared" }},
		{"flux-system app id", func(a *App) { a.AppID = "flux-system" }},
		{"bad env", func(a *App) { a.Env = "dev/x" }},
		{"no namespace", func(a *App) { a.Namespace = "" }},
		{"no shared namespace", func(a *App) { a.SharedNamespace = "" }},
		{"duplicate object", func(a *App) { a.Objects = append(a.Objects, a.Objects[0]) }},
		{"shared twice", func(a *App) { a.Shared = append(a.Shared, a.Shared[0]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := shopApp(t, "")
			c.mutate(&app)
			_, err := Build(app)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			fmt.Fprintf(&msgs, "%s: %v\n", c.name, err)
		})
	}
	golden(t, "errors.golden", msgs.Bytes())
}

func TestSharedName(t *testing.T) {
	seen := map[string]string{}
	for _, uid := range []string{"redis.default#cache", "redis.default#Cache", "redis.default#cache.x", "postgres.large#db", strings.Repeat("x", 200)} {
		n := SharedName(uid)
		if err := CheckName("shared", n); err != nil && !errors.Is(err, ErrInvalid) {
			t.Error(err)
		}
		if len(n) > 63 || !dnsLabel.MatchString(n) {
			t.Errorf("SharedName(%q) = %q, not a DNS label", uid, n)
		}
		if prev, ok := seen[n]; ok {
			t.Errorf("%q and %q share %q", prev, uid, n)
		}
		seen[n] = uid
	}
}

func TestShardAndRecordApp(t *testing.T) {
	// The documented shell recipe: printf %s shop | sha256sum | cut -c1-2
	if got := Shard("shop"); got != "8d" {
		t.Errorf("Shard(shop) = %q, want 8d", got)
	}
	if got := KustomizationFile("envs/acme", "dev", "shop"); got != "envs/acme/clusters/dev/8d/shop.yaml" {
		t.Errorf("KustomizationFile = %q", got)
	}
	for _, c := range []struct {
		file, app string
		ok        bool
	}{
		{"apps/dev/8d/shop/.scorebot/provenance.yaml", "shop", true},
		{"apps/dev/shop/.scorebot/provenance.yaml", "shop", true}, // the first layout
		{"apps/dev/00/shop/.scorebot/provenance.yaml", "", false}, // not shop's shard
		{"apps/dev/8d/shop/x/.scorebot/provenance.yaml", "", false},
		{"apps/dev/_shared/.scorebot/provenance.yaml", "", false},
		{"apps/staging/8d/shop/.scorebot/provenance.yaml", "", false},
		{"apps/dev/8d/shop/namespace.yaml", "", false},
	} {
		app, ok := RecordApp("", "dev", c.file)
		if app != c.app || ok != c.ok {
			t.Errorf("RecordApp(%s) = %q, %v; want %q, %v", c.file, app, ok, c.app, c.ok)
		}
	}
	// An app named like a shard keeps its first-layout folder: it now holds other apps.
	if got := LegacyPaths("", "dev", "ab"); !slices.Equal(got, []string{"clusters/dev/ab.yaml"}) {
		t.Errorf("LegacyPaths(ab) = %v", got)
	}
}
