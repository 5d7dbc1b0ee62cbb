package envrepo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/render/envtree"
)

// appFiles is one rendered app as envtree lays it out: a folder of manifests in its shard
// folder and a Flux Kustomization, among the environment's other apps.
func appFiles(i int, version string) Change {
	app := fmt.Sprintf("app-%05d", i)
	dir := envtree.AppDir("", "dev", app)
	ks := envtree.KustomizationFile("", "dev", app)
	return Change{
		Owned: envtree.OwnedPaths("", "dev", app),
		Files: map[string][]byte{
			dir + "/deployment.yaml":    []byte(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%05d\n  namespace: dev\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: main\n          image: registry.example/app-%05d:%s\n", i, i, version)),
			dir + "/service.yaml":       []byte(fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: app-%05d\n  namespace: dev\nspec:\n  ports:\n    - port: 80\n", i)),
			dir + "/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n"),
			ks:                          []byte(fmt.Sprintf("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app-%05d\n  namespace: flux-system\nspec:\n  path: ./%s\n", i, dir)),
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
// build, pack, receive-pack), each iteration a real new commit. build+push also reports the
// CPU time of this process (the bot's side: build, pack, HTTP; the in-process HTTP front of
// the git host is counted here too, and is the same for both sizes) and of the git server's
// processes (http-backend, receive-pack and what it runs), which the test waits for.
// "receive-check" is the part of the server's work that grows with the repo, alone: the
// connectivity check git receive-pack runs on every push, run by hand on the server's repo.
// "git-cli-push" is the yardstick: the git CLI pushing the same kind of one-file commit to the
// same server (the commit is made outside the timer), to tell the server's share from ours.
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
			bot, server := cpuTime(b, syscall.RUSAGE_SELF), cpuTime(b, syscall.RUSAGE_CHILDREN)
			for i := 0; b.Loop(); i++ {
				res, err := r.Apply(ctx, Message{Subject: "deploy app-00001"}, appFiles(1, fmt.Sprint("p", i)))
				if err != nil || !res.Changed {
					b.Fatal(res, err)
				}
			}
			perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
			b.ReportMetric(perOp(cpuTime(b, syscall.RUSAGE_SELF)-bot), "bot-cpu-us/op")
			b.ReportMetric(perOp(cpuTime(b, syscall.RUSAGE_CHILDREN)-server), "server-cpu-us/op")
		})
		b.Run(fmt.Sprintf("git-cli-push/apps=%d", n), func(b *testing.B) {
			benchGitPush(b, e.url)
		})
		b.Run(fmt.Sprintf("receive-check/apps=%d", n), func(b *testing.B) {
			benchReceiveCheck(b, e.host.Dir(e.name))
		})
	}
}

// cpuTime is the user+system CPU time of this process (RUSAGE_SELF) or of its finished
// children and their descendants (RUSAGE_CHILDREN).
func cpuTime(b *testing.B, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBehind measures checking an open bot branch against a moved env branch (the
// check every push to the env branch makes for each open bot PR) in env repos of 10 and
// 10,000 apps: the branch changes one app, the env branch has since changed another, so the
// whole three-way comparison runs and finds nothing to rebuild.
func BenchmarkBehind(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 10000} {
		e := seedApps(b, n)
		r := openRepo(b, e.url)
		const branch = "scorebot/promote/app-00001/dev"
		if _, err := r.PushBranch(ctx, branch, "main", Message{Subject: "promote app-00001"}, appFiles(1, "v1")); err != nil {
			b.Fatal(err)
		}
		if _, err := openRepo(b, e.url).Apply(ctx, Message{Subject: "deploy app-00002"}, appFiles(2, "v1")); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				behind, err := r.Behind(ctx, "main", branch)
				if err != nil || len(behind) != 0 {
					b.Fatal(behind, err)
				}
			}
		})
	}
}

// benchGitPush times `git push` of one-file commits to url's main, made with git plumbing in a
// clone outside the timer.
func benchGitPush(b *testing.B, url string) {
	dir := b.TempDir()
	git := gitCLI(b, dir)
	git("", "clone", "-q", "--no-checkout", url, ".")
	git("", "read-tree", "HEAD")
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		git("", "update-ref", "HEAD", oneFileCommit(git, fmt.Sprint("cli ", i), "HEAD"))
		b.StartTimer()
		git("", "push", "-q", "origin", "HEAD:main")
	}
}

// benchReceiveCheck times the connectivity check `git receive-pack` runs before it accepts a
// push (connected.c in git: rev-list --objects --stdin --not --all --quiet, fed the new
// commit), on the server's bare repo gitDir, for one-file commits written into its object
// store outside the timer and never referenced.
func benchReceiveCheck(b *testing.B, gitDir string) {
	git := gitCLI(b, "", "GIT_DIR="+gitDir, "GIT_INDEX_FILE="+b.TempDir()+"/index")
	git("", "read-tree", "main")
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		commit := oneFileCommit(git, fmt.Sprint("check ", i), "main")
		b.StartTimer()
		git(commit+"\n", "rev-list", "--objects", "--stdin", "--not", "--all", "--quiet")
	}
}

// gitCLI returns a runner of the git CLI in dir with env added, a fixed identity and no user
// or system config; it fails the benchmark on an error and returns the trimmed output.
func gitCLI(b *testing.B, dir string, env ...string) func(stdin string, args ...string) string {
	return func(stdin string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.test", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.test"), env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
}

// oneFileCommit writes a commit on parent, through the index git reads, whose only change is
// app-00001's deployment.yaml holding content, and returns its sha.
func oneFileCommit(git func(stdin string, args ...string) string, content, parent string) string {
	blob := git(content+"\n", "hash-object", "-w", "--stdin")
	git("", "update-index", "--cacheinfo", "100644,"+blob+","+envtree.AppDir("", "dev", "app-00001")+"/deployment.yaml")
	return git(content, "commit-tree", git("", "write-tree"), "-p", parent)
}
