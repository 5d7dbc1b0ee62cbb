package envrepo

import (
	"context"
	"fmt"
	"testing"
)

// appFiles is one rendered app as envtree lays it out: a folder of manifests and a Flux
// Kustomization beside the environment's other apps.
func appFiles(i int, version string) Change {
	dir := fmt.Sprintf("apps/dev/app-%05d", i)
	ks := fmt.Sprintf("clusters/dev/app-%05d.yaml", i)
	return Change{
		Owned: []string{dir, ks},
		Files: map[string][]byte{
			dir + "/deployment.yaml":    []byte(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%05d\n  namespace: dev\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: main\n          image: registry.example/app-%05d:%s\n", i, i, version)),
			dir + "/service.yaml":       []byte(fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: app-%05d\n  namespace: dev\nspec:\n  ports:\n    - port: 80\n", i)),
			dir + "/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n"),
			ks:                          []byte(fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app-%05d\n  namespace: flux-system\nspec:\n  path: ./apps/dev/app-%05d\n", i, i)),
		},
	}
}

// seedApps fills an empty env repo with n apps in one commit, built with this package's
// plumbing (one pack, one push), not n commits.
func seedApps(b *testing.B, n int) *env {
	e := newEnv(b, nil)
	all := Change{Files: map[string][]byte{}}
	for i := range n {
		for p, c := range appFiles(i, "v0").Files {
			all.Files[p] = c
		}
	}
	if _, err := openRepo(b, e.url).Apply(context.Background(), Message{Subject: fmt.Sprintf("seed %d apps", n)}, all); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkOneAppCommit measures committing one app's change into env repos holding 10 and
// 10,000 apps: "build" is the plumbing alone (read the head tree, write the changed trees and
// blobs, encode the commit); "build+push" is Apply against the local git http-backend (list refs,
// build, pack, receive-pack), each iteration a real new commit.
func BenchmarkOneAppCommit(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 10000} {
		e := seedApps(b, n)
		r := openRepo(b, e.url)
		heads, err := r.sync(ctx, "main")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("build/apps=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				bld, tree, err := r.build(heads["main"], []Change{appFiles(1, fmt.Sprint("v", i))})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := r.commit(bld, tree, Message{Subject: "deploy app-00001"}, heads["main"]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("build+push/apps=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				res, err := r.Apply(ctx, Message{Subject: "deploy app-00001"}, appFiles(1, fmt.Sprint("p", i)))
				if err != nil || !res.Changed {
					b.Fatal(res, err)
				}
			}
		})
	}
}
