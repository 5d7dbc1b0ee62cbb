package bootstrap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/render/manifest"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

// components stands in for `flux install --export`: one object is enough to show it is
// listed and built.
const components = `apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
`

var cases = []struct {
	name string
	opts bootstrap.Options
}{
	{"defaults", bootstrap.Options{RepoURL: "https://github.com/acme/env", Env: "staging"}},
	{"base-path-branch-secret", bootstrap.Options{
		RepoURL: "ssh://git@github.com/acme/fleet", Env: "production", Branch: "release",
		Path: "./fleet/", Interval: 5 * time.Minute, SecretRef: "flux-system",
	}},
	{"with-components", bootstrap.Options{
		RepoURL: "http://127.0.0.1:8080/env.git", Env: "dev", Components: []byte(components),
	}},
}

// render joins the files in path order, each under a header line, for one golden file.
func render(files map[string][]byte) []byte {
	var names []string
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	var b bytes.Buffer
	for _, p := range names {
		b.WriteString("### " + p + "\n")
		b.Write(files[p])
	}
	return b.Bytes()
}

func TestFilesGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := bootstrap.Files(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := render(files)
			again, err := bootstrap.Files(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, render(again)) {
				t.Fatal("two calls with the same options gave different bytes")
			}
			goldenfile.Check(t, filepath.Join("testdata", tc.name+".golden"), got)
		})
	}
}

// strict decodes one YAML object into v, refusing unknown fields.
func strict(t *testing.T, doc []byte, v any) {
	t.Helper()
	raw, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("strict decode into %T: %v\n%s", v, err, doc)
	}
}

func TestFilesDecodeIntoFluxTypes(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := bootstrap.Files(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := bootstrap.Dir(tc.opts)
			sync := files[dir+"/"+bootstrap.SyncFile]
			docs := strings.Split(string(sync), "\n---\n")
			if len(docs) != 3 { // header, GitRepository, Kustomization
				t.Fatalf("want a header and two objects, got %d parts:\n%s", len(docs), sync)
			}
			var repo sourcev1.GitRepository
			strict(t, []byte(docs[1]), &repo)
			var ks kustomizev1.Kustomization
			strict(t, []byte(docs[2]), &ks)

			wantBranch := tc.opts.Branch
			if wantBranch == "" {
				wantBranch = bootstrap.DefaultBranch
			}
			wantInterval := tc.opts.Interval
			if wantInterval == 0 {
				wantInterval = bootstrap.DefaultInterval
			}
			if repo.Kind != sourcev1.GitRepositoryKind || repo.Name != "flux-system" || repo.Namespace != "flux-system" ||
				repo.Spec.URL != tc.opts.RepoURL || repo.Spec.Reference == nil || repo.Spec.Reference.Branch != wantBranch ||
				repo.Spec.Interval.Duration != wantInterval {
				t.Errorf("GitRepository = %+v", repo)
			}
			if (repo.Spec.SecretRef != nil) != (tc.opts.SecretRef != "") {
				t.Errorf("secretRef = %v, want %q", repo.Spec.SecretRef, tc.opts.SecretRef)
			}
			if ks.Kind != kustomizev1.KustomizationKind || ks.Name != "flux-system" || ks.Namespace != "flux-system" ||
				!ks.Spec.Prune || ks.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind || ks.Spec.SourceRef.Name != "flux-system" ||
				ks.Spec.Path != bootstrap.SyncPath(tc.opts) {
				t.Errorf("Kustomization = %+v", ks)
			}
			if !strings.HasPrefix(ks.Spec.Path, "./") || !strings.HasSuffix(ks.Spec.Path, "clusters/"+tc.opts.Env) {
				t.Errorf("path %q, want ./[base/]clusters/%s", ks.Spec.Path, tc.opts.Env)
			}

			// Also through the project's own strict checker (k8s scheme, duplicate fields).
			objs, err := manifest.Parse(sync, dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if err := manifest.DecodeStrict(o); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestFilesBuildWithKustomize builds the flux-system folder as kustomize-controller would.
func TestFilesBuildWithKustomize(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := bootstrap.Files(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			fs := filesys.MakeFsInMemory()
			for p, b := range files {
				if err := fs.WriteFile("/"+p, b); err != nil {
					t.Fatal(err)
				}
			}
			rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/"+bootstrap.Dir(tc.opts))
			if err != nil {
				t.Fatalf("kustomize build: %v", err)
			}
			want := 2
			if len(tc.opts.Components) > 0 {
				want = 3
			}
			if n := len(rm.Resources()); n != want {
				t.Errorf("built %d objects, want %d", n, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := bootstrap.Options{RepoURL: "https://github.com/acme/env", Env: "staging"}
	tests := []struct {
		name   string
		change func(*bootstrap.Options)
		want   string // part of the error; "" for none
	}{
		{"ok", func(*bootstrap.Options) {}, ""},
		{"ssh user ok", func(o *bootstrap.Options) { o.RepoURL = "ssh://git@github.com/acme/env" }, ""},
		{"no url", func(o *bootstrap.Options) { o.RepoURL = "" }, "env repo URL is empty"},
		{"scp-style url", func(o *bootstrap.Options) { o.RepoURL = "git@github.com:acme/env.git" }, "http, https or ssh"},
		{"file url", func(o *bootstrap.Options) { o.RepoURL = "file:///srv/env.git" }, "accepts only http://"},
		{"password in url", func(o *bootstrap.Options) { o.RepoURL = "https://bot:s3cret@github.com/acme/env" }, "carries a password"},
		{"no env", func(o *bootstrap.Options) { o.Env = "" }, "DNS label"},
		{"env with slash", func(o *bootstrap.Options) { o.Env = "a/b" }, "DNS label"},
		{"env upper", func(o *bootstrap.Options) { o.Env = "Prod" }, "DNS label"},
		{"bad branch", func(o *bootstrap.Options) { o.Branch = "a..b" }, "branch"},
		{"path escapes", func(o *bootstrap.Options) { o.Path = "../x" }, "stays inside"},
		{"absolute path", func(o *bootstrap.Options) { o.Path = "/fleet" }, "stays inside"},
		{"negative interval", func(o *bootstrap.Options) { o.Interval = -time.Second }, "negative"},
		{"bad secret ref", func(o *bootstrap.Options) { o.SecretRef = "Not_OK" }, "secret ref"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			_, err := bootstrap.Files(o)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !errors.Is(err, bootstrap.ErrInvalidOption) {
				t.Errorf("error %v is not ErrInvalidOption", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}
