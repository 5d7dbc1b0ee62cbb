// Package envtreetest checks an env-repo tree the way Flux will read it: it runs
// `kustomize build` (krusty, in memory) on every folder that has a kustomization.yaml, and on
// every folder Flux builds without one it first generates the kustomization.yaml that
// kustomize-controller would (every YAML file, and every sub-folder holding a
// kustomization.yaml, not descending into it). It also checks that every Flux Kustomization
// points at a folder that builds and depends only on Kustomizations that exist. Only tests
// import it.
package envtreetest

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// BootstrapKustomization is what `flux bootstrap` writes to clusters/<env>/flux-system/ in
// essence (gotk-components.yaml is left out: it is big and not ours); Check adds it to every
// clusters/<env>/ folder so the generated kustomization is built as Flux builds it.
const bootstrapSync = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: http://127.0.0.1/env.git
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/ENV
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

// Result is what Check built.
type Result struct {
	// Built maps each folder built to the YAML kustomize produced.
	Built map[string][]byte
	// Objects are every object of every built folder, strictly checked.
	Objects []manifest.Object
}

// Check builds every folder of the tree; files are env-repo paths relative to the root.
// base is the platform's EnvRepo.Path.
func Check(files map[string][]byte, base string) (*Result, error) {
	fs := filesys.MakeFsInMemory()
	dirs := map[string]bool{}
	for p, b := range files {
		if err := fs.WriteFile("/"+p, b); err != nil {
			return nil, err
		}
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	// Folders Flux builds without a kustomization.yaml of their own.
	var generated []string
	for d := range dirs {
		rel := strings.TrimPrefix(strings.TrimPrefix(d, base), "/")
		parts := strings.Split(rel, "/")
		if len(parts) == 2 && parts[0] == "clusters" {
			env := parts[1]
			sync := strings.ReplaceAll(bootstrapSync, "./clusters/ENV", "./"+path.Join(base, "clusters", env))
			if err := fs.WriteFile("/"+d+"/flux-system/gotk-sync.yaml", []byte(sync)); err != nil {
				return nil, err
			}
			if err := fs.WriteFile("/"+d+"/flux-system/kustomization.yaml", []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-sync.yaml\n")); err != nil {
				return nil, err
			}
			generated = append(generated, d)
		}
		if len(parts) == 3 && parts[0] == "apps" && parts[2] == "_shared" {
			generated = append(generated, d)
		}
	}
	slices.Sort(generated)
	for _, d := range generated {
		if fs.Exists("/" + d + "/kustomization.yaml") {
			return nil, fmt.Errorf("%s has a kustomization.yaml: it must not, Flux generates it", d)
		}
		if err := generate(fs, "/"+d); err != nil {
			return nil, fmt.Errorf("generate kustomization for %s: %w", d, err)
		}
	}

	res := &Result{Built: map[string][]byte{}}
	var toBuild []string
	for d := range dirs {
		if fs.Exists("/" + d + "/kustomization.yaml") {
			toBuild = append(toBuild, d)
		}
	}
	slices.Sort(toBuild)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for _, d := range toBuild {
		rm, err := k.Run(fs, "/"+d)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", d, err)
		}
		out, err := rm.AsYaml()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", d, err)
		}
		res.Built[d] = out
		objs, err := manifest.Parse(out, "kustomize build "+d)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if err := manifest.DecodeStrict(o); err != nil {
				return nil, err
			}
			if err := manifest.CheckNoPlaintextSecret(o); err != nil {
				return nil, err
			}
		}
		res.Objects = append(res.Objects, objs...)
	}
	if err := checkFlux(res, base); err != nil {
		return nil, err
	}
	return res, nil
}

// generate writes the kustomization.yaml kustomize-controller generates for a folder
// without one.
func generate(fs filesys.FileSystem, dir string) error {
	var resources []string
	var walk func(d string) error
	walk = func(d string) error {
		entries, err := fs.ReadDir(d)
		if err != nil {
			return err
		}
		slices.Sort(entries)
		for _, e := range entries {
			p := path.Join(d, e)
			if fs.IsDir(p) {
				if fs.Exists(p + "/kustomization.yaml") {
					resources = append(resources, "."+strings.TrimPrefix(p, dir))
					continue
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			if ext := path.Ext(p); ext == ".yaml" || ext == ".yml" {
				resources = append(resources, "."+strings.TrimPrefix(p, dir))
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return err
	}
	b, err := manifest.MarshalValue(kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: resources,
	})
	if err != nil {
		return err
	}
	return fs.WriteFile(dir+"/kustomization.yaml", b)
}

// checkFlux checks the Flux Kustomizations of each clusters/<env> folder.
func checkFlux(res *Result, base string) error {
	for dir, out := range res.Built {
		rel := strings.TrimPrefix(strings.TrimPrefix(dir, base), "/")
		parts := strings.Split(rel, "/")
		if len(parts) != 2 || parts[0] != "clusters" {
			continue
		}
		objs, err := manifest.Parse(out, dir)
		if err != nil {
			return err
		}
		names := map[string]bool{}
		for _, o := range objs {
			if o.Kind() == "Kustomization" {
				names[o.Name()] = true
			}
		}
		for _, o := range objs {
			if o.Kind() != "Kustomization" || o.Name() == "flux-system" {
				continue
			}
			spec, _ := o.Doc["spec"].(map[string]any)
			p, _ := spec["path"].(string)
			target := strings.TrimPrefix(p, "./")
			if _, ok := res.Built[target]; !ok {
				return fmt.Errorf("%s: Kustomization %s: path %s is not a folder that builds", dir, o.Name(), p)
			}
			deps, _ := spec["dependsOn"].([]any)
			for _, d := range deps {
				name, _ := d.(map[string]any)["name"].(string)
				if !names[name] {
					return fmt.Errorf("%s: Kustomization %s depends on %q, which is not in the folder", dir, o.Name(), name)
				}
			}
		}
	}
	return nil
}
