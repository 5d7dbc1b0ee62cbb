package e2e_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scorebot/scorebot/e2e/cluster"
	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"
)

var (
	binDir  = flag.String("e2e.bin", "bin", "folder holding the servers built by tools/build.sh")
	keepLog = flag.Bool("e2e.logs", false, "print every server's log tail even when tests pass")
)

// suite is what every test of the binary shares: the servers' binaries, one etcd (each
// cluster under its own key prefix) and the CRD files.
type suite struct {
	tools cluster.Tools
	etcd  *cluster.Etcd
	crds  []string
}

var shared *suite // set once by TestMain before any test runs; read-only afterwards

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	tools, err := cluster.FindTools(*binDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	crds, err := cluster.CRDFiles(ctx, cluster.CRDSources)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "scorebot-e2e-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	etcd, err := cluster.StartEtcd(ctx, tools, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer etcd.Stop()
	shared = &suite{tools: tools, etcd: etcd, crds: crds}
	return m.Run()
}

// startCluster starts a cluster for t, stopped (by PID) when t ends; a failing test gets the
// servers' log tails.
func startCluster(t testing.TB, name string, controllerArgs ...string) *cluster.Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{
		Tools:          shared.tools,
		Etcd:           shared.etcd,
		Name:           name,
		Dir:            t.TempDir(),
		CRDFiles:       shared.crds,
		ControllerArgs: controllerArgs,
	})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() || *keepLog {
			t.Logf("server logs of cluster %s:%s", name, c.Logs(6000))
		}
		c.Stop()
	})
	return c
}

// gitServer is the env repo host: internal/githost's git http-backend on 127.0.0.1.
type gitServer struct {
	host *githost.Host
	base string
}

func startGitHost(t testing.TB) *gitServer {
	t.Helper()
	host, err := githost.New(t.TempDir(), githost.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: host, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return &gitServer{host: host, base: "http://" + l.Addr().String()}
}

// envRepo is one env repo on the git host, written through internal/envrepo (the deploy
// path's writer).
type envRepo struct {
	URL  string
	repo *envrepo.Repo
}

func (g *gitServer) newEnvRepo(t testing.TB, name string) *envRepo {
	t.Helper()
	if err := g.host.Create(name); err != nil {
		t.Fatal(err)
	}
	url := githost.URL(g.base, name)
	r, err := envrepo.Open(envrepo.Config{URL: url, Dir: t.TempDir(), Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	return &envRepo{URL: url, repo: r}
}

// commit writes one change and returns the new commit.
func (e *envRepo) commit(t testing.TB, subject string, ch envrepo.Change) string {
	t.Helper()
	res, err := e.repo.Apply(context.Background(), envrepo.Message{Subject: subject}, ch)
	if err != nil {
		t.Fatalf("commit %q: %v", subject, err)
	}
	if !res.Changed {
		t.Fatalf("commit %q changed nothing", subject)
	}
	return res.Commit
}

// bootstrap does for env what `flux bootstrap git --path clusters/<env>` does once the
// controllers run: commits clusters/<env>/flux-system/ and applies its gotk-sync.yaml.
func bootstrapEnv(t testing.TB, c *cluster.Cluster, e *envRepo, env string) string {
	t.Helper()
	opts := bootstrap.Options{RepoURL: e.URL, Env: env}
	files, err := bootstrap.Files(opts)
	if err != nil {
		t.Fatal(err)
	}
	commit := e.commit(t, "bootstrap "+env, envrepo.Change{Owned: []string{bootstrap.Dir(opts) + "/"}, Files: files})
	if err := c.Apply(context.Background(), files[bootstrap.Dir(opts)+"/"+bootstrap.SyncFile]); err != nil {
		t.Fatalf("apply gotk-sync.yaml: %v", err)
	}
	return commit
}

// app is a Score app read from a folder of the repo.
type app struct {
	id    string
	dir   string
	files map[string][]byte // score file name → content
}

func loadApp(t testing.TB, id, dir string, names ...string) *app {
	t.Helper()
	a := &app{id: id, dir: dir, files: map[string][]byte{}}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		a.files[n] = b
	}
	return a
}

func loadRules(t testing.TB) *rules.Rules {
	t.Helper()
	rs, err := rules.Load(os.DirFS(filepath.Join("..", "examples", "rules")))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// render renders the app for env the way `bot render` does.
func (a *app) render(t testing.TB, rs *rules.Rules, env string) *render.Output {
	t.Helper()
	names := make([]string, 0, len(a.files))
	for n := range a.files {
		names = append(names, n)
	}
	slices.Sort(names)
	var in []render.ScoreFile
	for _, n := range names {
		in = append(in, render.ScoreFile{
			Path: n,
			Data: a.files[n],
			ReadFile: func(rel string) ([]byte, error) {
				return os.ReadFile(filepath.Join(a.dir, filepath.FromSlash(rel)))
			},
		})
	}
	out, err := render.Render(render.Input{Rules: rs, Env: env, AppID: a.id, Files: in})
	if err != nil {
		t.Fatalf("render %s for %s: %v", a.id, env, err)
	}
	return out
}

// change is the env-repo write of a render, as the deploy path makes it: the app's owned
// paths and its shared resources replaced by the new files.
func change(out *render.Output) envrepo.Change {
	return envrepo.Change{Owned: append(slices.Clone(out.Owned), out.Shared...), Files: out.Files}
}

// requestReconcile asks source-controller to fetch the env repo now, as `flux reconcile
// source git flux-system` (or a Flux notification Receiver on a push webhook) does.
func requestReconcile(t testing.TB, c *cluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	repo := &sourcev1.GitRepository{}
	repo.Namespace, repo.Name = bootstrap.Namespace, bootstrap.Name
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, time.Now().Format(time.RFC3339Nano))
	if err := c.Client.Patch(ctx, repo, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("request reconcile: %v", err)
	}
}

// failedReasons are Ready=False reasons after which Flux will not succeed at that revision
// without a new commit: waiting longer only delays the report.
var failedReasons = []string{
	meta.BuildFailedReason,
	meta.ReconciliationFailedReason,
	meta.PruneFailedReason,
	meta.ArtifactFailedReason,
}

// waitApplied waits until every named Kustomization in flux-system is Ready with commit as its
// last applied revision. A Kustomization that failed at that commit ends the wait at once
// with Flux's message.
func waitApplied(t testing.TB, c *cluster.Cluster, commit string, timeout time.Duration, names ...string) {
	t.Helper()
	err := cluster.Poll(context.Background(), timeout, 100*time.Millisecond, "Kustomizations "+strings.Join(names, ", ")+" Ready at "+commit[:12],
		func(ctx context.Context) (bool, string, error) {
			for _, n := range names {
				k := &kustomizev1.Kustomization{}
				if err := c.Client.Get(ctx, client.ObjectKey{Namespace: bootstrap.Namespace, Name: n}, k); err != nil {
					return false, fmt.Sprintf("Kustomization %s: %v", n, err), nil
				}
				ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
				if ready == nil {
					return false, fmt.Sprintf("Kustomization %s: no Ready condition yet", n), nil
				}
				atCommit := strings.HasSuffix(k.Status.LastAppliedRevision, commit)
				if ready.Status == "True" && atCommit {
					continue
				}
				if ready.Status == "False" && strings.HasSuffix(k.Status.LastAttemptedRevision, commit) && slices.Contains(failedReasons, ready.Reason) {
					return false, "", fmt.Errorf("Flux rejected Kustomization %s at %s: %s: %s", n, k.Status.LastAttemptedRevision, ready.Reason, ready.Message)
				}
				return false, fmt.Sprintf("Kustomization %s: Ready=%s %s: %s (applied %q)", n, ready.Status, ready.Reason, ready.Message, k.Status.LastAppliedRevision), nil
			}
			return true, "", nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// get reads one object of any kind; found is false when the API server says NotFound.
func get(ctx context.Context, c *cluster.Cluster, apiVersion, kind, ns, name string) (*unstructured.Unstructured, bool, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// requireObjects checks that every rendered object is in the cluster.
func requireObjects(t testing.TB, c *cluster.Cluster, objs []manifest.Object) {
	t.Helper()
	ctx := context.Background()
	var missing []error
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o.Doc}
		_, found, err := get(ctx, c, u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName())
		switch {
		case err != nil:
			missing = append(missing, fmt.Errorf("%s %s/%s (%s): %w", u.GetKind(), u.GetNamespace(), u.GetName(), o.Source, err))
		case !found:
			missing = append(missing, fmt.Errorf("%s %s/%s (%s) is not in the cluster", u.GetKind(), u.GetNamespace(), u.GetName(), o.Source))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("rendered objects not applied:\n%v", errors.Join(missing...))
	}
}

// waitFailed waits until Kustomization name has failed at commit, and returns Flux's message.
func waitFailed(t testing.TB, c *cluster.Cluster, commit, name string) string {
	t.Helper()
	var msg string
	err := cluster.Poll(context.Background(), applyTimeout, 100*time.Millisecond, "Kustomization "+name+" failed at "+commit[:12],
		func(ctx context.Context) (bool, string, error) {
			k := &kustomizev1.Kustomization{}
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: bootstrap.Namespace, Name: name}, k); err != nil {
				return false, err.Error(), nil
			}
			ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
			if ready != nil && ready.Status == "False" && strings.HasSuffix(k.Status.LastAttemptedRevision, commit) && slices.Contains(failedReasons, ready.Reason) {
				msg = ready.Reason + ": " + ready.Message
				return true, "", nil
			}
			return false, fmt.Sprintf("Kustomization %s: %+v (attempted %q)", name, ready, k.Status.LastAttemptedRevision), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}
