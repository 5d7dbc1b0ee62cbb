package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/scorebot/scorebot/e2e/cluster"
	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/devbox/devbot"
	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/manifest"
)

// botTimeout bounds one step of the bot (push → env commit, deploy → promotion PR): the
// pipeline clones, renders and pushes on a loaded 2-core machine.
const botTimeout = 2 * time.Minute

// TestPushThroughPromotion drives the real loop instead of calling render and envrepo: the
// `bot dev` sandbox (git host, GitHub stand-in, webhook intake, NATS, the pipeline with its
// standard jobs) seeded with the shop. A push to the app's default branch becomes the
// development env commit, which a cluster bootstrapped on clusters/development applies; the
// promotion PR the bot opens on the env repo, merged through the stand-in, is applied by a
// second cluster bootstrapped on clusters/staging, with staging's rules and nothing of
// development's.
func TestPushThroughPromotion(t *testing.T) {
	ctx := context.Background()
	sb := startSandbox(t)
	wt := gitClone(t, sb, devbox.RepoRules)

	// The sandbox's rules are examples/rules, where staging has autoMerge: the bot would merge
	// its own PR. Make staging a reviewed merge, as production is, so the merge is a person's
	// (this test's) through the stand-in; and give demo-app the shop's app id (the sandbox
	// mapped it to the shop's two Score files under the id demo-app when it seeded the rules).
	platform := readWorktree(t, wt, "platform.yaml")
	edited := strings.Replace(platform, "    autoMerge: true", "", 1)
	edited = strings.Replace(edited, "  - repo: local/demo-app\n    appId: demo-app\n", "  - repo: local/demo-app\n    appId: shop\n", 1)
	if edited == platform || !strings.Contains(edited, "local/demo-app\n    appId: shop\n") || strings.Contains(edited, "autoMerge") {
		t.Fatalf("examples/rules/platform.yaml changed shape; update this test's edit:\n%s", platform)
	}
	gitCommitFile(t, wt, "platform.yaml", edited, "staging: reviewed merges; demo-app is the shop")
	gitRun(t, wt, "push", "-q", "origin", "main")

	// Both clusters are bootstrapped before the app exists, as a platform team does.
	env := &envRepo{URL: sb.CloneURL(devbox.RepoEnv)}
	var err error
	env.repo, err = envrepo.Open(envrepo.Config{URL: env.URL, Dir: t.TempDir(), Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	dev := startCluster(t, "push-dev", controllerArgs()...)
	stg := startCluster(t, "push-staging", controllerArgs()...)
	bootstrapEnv(t, dev, env, "development")
	boot := bootstrapEnv(t, stg, env, "staging")
	requestReconcile(t, dev)
	waitApplied(t, dev, boot, applyTimeout, "flux-system")
	waitApplied(t, stg, boot, applyTimeout, "flux-system")

	// A developer pushes a change to the app's default branch with the real git client.
	app := gitClone(t, sb, devbox.RepoApp)
	score := readWorktree(t, app, "score.yaml")
	changed := strings.Replace(score, `PORT: "8080"`, `PORT: "9090"`, 1)
	if changed == score {
		t.Fatalf("examples/apps/shop/score.yaml changed shape; update this test's edit")
	}
	sha := gitCommitFile(t, app, "score.yaml", changed, "shop: PORT 9090")
	start := time.Now()
	gitRun(t, app, "push", "-q", "origin", "main")

	envGit := sb.Git().Dir(devbox.RepoEnv)
	devCommit := waitEnvCommit(t, envGit, "main", "development", sha)
	pushed := time.Since(start)
	requestReconcile(t, dev)
	waitApplied(t, dev, devCommit, applyTimeout, "flux-system", "shared", "shop")
	t.Logf("push → development applied through the pipeline: %s (push → env commit %s)", time.Since(start).Round(time.Millisecond), pushed.Round(time.Millisecond))

	devObjs := envObjects(t, envGit, devCommit, "development")
	requireObjects(t, dev, devObjs)
	if v := envVar(deployment(t, dev, "shop-development", "web"), "PORT"); v == nil || v.Value != "9090" {
		t.Errorf("development web PORT = %+v, want the pushed 9090", v)
	}

	// The bot proposes the same app commit for staging as a PR on the env repo.
	pr := waitPromotionPR(t, sb, "shop", "staging")
	cl, err := devbox.NewClient(sb.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	merge, err := cl.MergePR(ctx, devbox.RepoEnv, pr.Number)
	if err != nil {
		t.Fatalf("merge promotion PR #%d: %v", pr.Number, err)
	}
	mergedAt := time.Now()
	requestReconcile(t, stg)
	waitApplied(t, stg, merge, applyTimeout, "flux-system", "shared", "shop")
	t.Logf("merge → staging applied: %s", time.Since(mergedAt).Round(time.Millisecond))

	stgObjs := envObjects(t, envGit, merge, "staging")
	requireObjects(t, stg, stgObjs)
	for _, name := range []string{"web", "worker"} {
		requireEnv(t, stg, stgObjs, "shop-staging", name)
	}
	if v := envVar(deployment(t, stg, "shop-staging", "web"), "PORT"); v == nil || v.Value != "9090" {
		t.Errorf("staging web PORT = %+v, want the promoted 9090", v)
	}
	// Staging's own rules: its volume definition is a PersistentVolumeClaim, development's an
	// emptyDir.
	isPVC := func(o manifest.Object) bool { return kindOf(o) == "PersistentVolumeClaim" }
	if !slices.ContainsFunc(stgObjs, isPVC) {
		t.Errorf("staging's env commit has no PersistentVolumeClaim (examples/rules volume-pvc)")
	}
	if slices.ContainsFunc(devObjs, isPVC) {
		t.Errorf("development's env commit has a PersistentVolumeClaim; its volumes are emptyDirs")
	}
	t.Logf("objects applied: development %d, staging %d (promotion PR #%d, merge %s)", len(devObjs), len(stgObjs), pr.Number, merge[:12])
	// None of development's objects is in the staging cluster.
	for _, o := range devObjs {
		u := unstructured.Unstructured{Object: o.Doc}
		if _, found, err := get(ctx, stg, u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName()); err != nil {
			t.Fatal(err)
		} else if found {
			t.Errorf("the staging cluster applied development's %s %s/%s (%s)", u.GetKind(), u.GetNamespace(), u.GetName(), o.Source)
		}
	}

	// The bot recorded the merge as the staging deploy of the app commit.
	err = cluster.Poll(ctx, botTimeout, 100*time.Millisecond, "a successful staging Deployment of "+sha[:12],
		func(context.Context) (bool, string, error) {
			for _, d := range sb.GitHub().Deployments(devbox.Owner, devbox.RepoApp) {
				if d.Environment != "staging" || d.SHA != sha {
					continue
				}
				for _, st := range d.Statuses {
					if st.State == "success" {
						return true, "", nil
					}
				}
			}
			return false, fmt.Sprintf("deployments of %s: %d", devbox.RepoApp, len(sb.GitHub().Deployments(devbox.Owner, devbox.RepoApp))), nil
		})
	if err != nil {
		t.Error(err)
	}
}

// startSandbox runs `bot dev` in-process on 127.0.0.1:0 with the pipeline's standard workers,
// the demo app seeded from examples/apps/shop; stopped when t ends, its log printed when t
// fails.
func startSandbox(t *testing.T) *devbox.Sandbox {
	t.Helper()
	examples, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	sb, err := devbox.Start(context.Background(), devbox.Config{
		DataDir: t.TempDir(), Listen: "127.0.0.1:0", ExamplesDir: examples, App: "shop",
		Workers: devbot.Workers(nil),
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("start bot dev sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Stop(); err != nil {
			t.Errorf("stop sandbox: %v", err)
		}
		if t.Failed() || *keepLog {
			t.Logf("bot dev log (tail):\n%s", logs.tail(12000))
		}
	})
	return sb
}

// lockedBuffer is an io.Writer for a logger written from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

var _ io.Writer = (*lockedBuffer)(nil)

// gitRun runs the real git client in dir with a fixed identity and no user or system config.
func gitRun(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitOutput(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Dev Eloper", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev Eloper", "GIT_COMMITTER_EMAIL=dev@example.com")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// gitClone clones the sandbox's repo name over smart HTTP and returns the worktree.
func gitClone(t testing.TB, sb *devbox.Sandbox, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	gitRun(t, filepath.Dir(dir), "clone", "-q", sb.CloneURL(name), dir)
	return dir
}

func readWorktree(t testing.TB, wt, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(wt, filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gitCommitFile writes path in the worktree, commits it and returns the commit.
func gitCommitFile(t testing.TB, wt, path, content, msg string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(wt, filepath.FromSlash(path)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, wt, "add", path)
	gitRun(t, wt, "commit", "-q", "-m", msg)
	return gitRun(t, wt, "rev-parse", "HEAD")
}

// waitEnvCommit waits until branch of the bare env repo at gitDir records app commit sha as
// deployed to env (the provenance record of the shop there) and returns that env commit.
func waitEnvCommit(t testing.TB, gitDir, branch, env, sha string) string {
	t.Helper()
	var commit string
	prov := envtree.ProvenancePath("", env, "shop")
	err := cluster.Poll(context.Background(), botTimeout, 100*time.Millisecond, "an env commit deploying "+sha[:12]+" to "+env,
		func(context.Context) (bool, string, error) {
			head, err := gitOutput(gitDir, "rev-parse", "refs/heads/"+branch)
			if err != nil {
				return false, err.Error(), nil
			}
			p, err := gitOutput(gitDir, "show", head+":"+prov)
			if err != nil {
				return false, "no " + prov + " at " + head, nil
			}
			if !strings.Contains(p, sha) {
				return false, prov + " at " + head + " does not name " + sha, nil
			}
			commit = head
			return true, "", nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return commit
}

// waitPromotionPR waits for the open promotion PR of app into env on the sandbox's env repo.
func waitPromotionPR(t testing.TB, sb *devbox.Sandbox, app, env string) standin.PullRequest {
	t.Helper()
	head := "scorebot/promote/" + app + "/" + env
	var pr standin.PullRequest
	err := cluster.Poll(context.Background(), botTimeout, 100*time.Millisecond, "the promotion PR from "+head,
		func(context.Context) (bool, string, error) {
			var seen []string
			for _, p := range sb.GitHub().PullRequests(devbox.Owner, devbox.RepoEnv) {
				if p.Head == head && p.State == "open" {
					pr = p
					return true, "", nil
				}
				seen = append(seen, fmt.Sprintf("#%d %s %s", p.Number, p.Head, p.State))
			}
			return false, fmt.Sprintf("PRs on %s/%s: %v", devbox.Owner, devbox.RepoEnv, seen), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// envObjects reads the Kubernetes objects the env repo at commit holds for env's apps
// (apps/<env>/**, without Scorebot's records and kustomize's own files).
func envObjects(t testing.TB, gitDir, commit, env string) []manifest.Object {
	t.Helper()
	list := gitRun(t, gitDir, "ls-tree", "-r", "--name-only", commit, "apps/"+env+"/")
	var objs []manifest.Object
	for _, path := range strings.Split(list, "\n") {
		if path == "" || strings.Contains(path, "/.scorebot/") || !strings.HasSuffix(path, ".yaml") {
			continue
		}
		docs, err := cluster.DecodeYAML([]byte(gitRun(t, gitDir, "show", commit+":"+path)))
		if err != nil {
			t.Fatalf("%s at %s: %v", path, commit, err)
		}
		for _, u := range docs {
			if strings.HasPrefix(u.GetAPIVersion(), "kustomize.config.k8s.io/") {
				continue
			}
			objs = append(objs, manifest.Object{Doc: u.Object, Source: path})
		}
	}
	if len(objs) == 0 {
		t.Fatalf("the env repo at %s holds no objects under apps/%s/", commit, env)
	}
	return objs
}

func kindOf(o manifest.Object) string {
	k, _ := o.Doc["kind"].(string)
	return k
}
