package e2e_test

import (
	"bytes"
	"context"
	"flag"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scorebot/scorebot/e2e/cluster"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/manifest"
)

// applyTimeout bounds one commit → Ready wait: the Kustomizations' own timeout is 3m and a
// dependency is re-checked every --requeue-dependency.
const applyTimeout = 4 * time.Minute

// requeueDependency is how often the controllers re-check a dependency that is not Ready at
// the new revision yet (Flux's default is 30s; see docs/flux-contract.md).
var requeueDependency = flag.Duration("e2e.requeue-dependency", 5*time.Second, "controllers' --requeue-dependency")

// controllerArgs are the flags the tier passes to both controllers beyond the addresses.
func controllerArgs() []string {
	return []string{"--requeue-dependency=" + requeueDependency.String()}
}

func shopApp(t testing.TB) *app {
	return loadApp(t, "shop", filepath.Join("..", "examples", "apps", "shop"), "score.yaml", "worker.score.yaml")
}

// TestDevelopmentLifecycle is the contract for one environment: a cluster bootstrapped on
// clusters/development deploys the shop (postgres, shared redis, dns, route, files, volume),
// then follows a changed variable and prunes a removed workload.
func TestDevelopmentLifecycle(t *testing.T) {
	const env = "development"
	rs := loadRules(t)
	git := startGitHost(t)
	repo := git.newEnvRepo(t, "env")
	c := startCluster(t, "dev", controllerArgs()...)

	// Bootstrap first, as a platform team does; the cluster has no app yet.
	boot := bootstrapEnv(t, c, repo, env)
	waitApplied(t, c, boot, applyTimeout, "flux-system")

	shop := shopApp(t)
	out := shop.render(t, rs, env)
	commit := repo.commit(t, "deploy shop to development", change(out))
	requestReconcile(t, c)
	waitApplied(t, c, commit, applyTimeout, "flux-system", "shared", "shop")

	t.Run("every object applied", func(t *testing.T) {
		requireObjects(t, c, out.Objects)
	})
	t.Run("namespaces", func(t *testing.T) {
		for _, ns := range []string{"shop-development", "shared-development"} {
			if err := c.Client.Get(context.Background(), client.ObjectKey{Name: ns}, &corev1.Namespace{}); err != nil {
				t.Errorf("namespace %s: %v", ns, err)
			}
		}
	})
	t.Run("deployments carry the rendered env", func(t *testing.T) {
		for _, name := range []string{"web", "worker"} {
			requireEnv(t, c, out.Objects, "shop-development", name)
		}
	})
	t.Run("secrets by reference", func(t *testing.T) {
		web := deployment(t, c, "shop-development", "web")
		ref := envVar(web, "DATABASE_PASSWORD")
		if ref == nil || ref.ValueFrom == nil || ref.ValueFrom.SecretKeyRef == nil {
			t.Fatalf("web DATABASE_PASSWORD is %+v, want a secretKeyRef", ref)
		}
		// The Secret it names is the one an ExternalSecret in the namespace produces.
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion("external-secrets.io/v1")
		list.SetKind("ExternalSecretList")
		if err := c.Client.List(context.Background(), list, client.InNamespace("shop-development")); err != nil {
			t.Fatal(err)
		}
		var targets []string
		for _, es := range list.Items {
			target, _, _ := unstructured.NestedString(es.Object, "spec", "target", "name")
			if target == "" {
				target = es.GetName()
			}
			targets = append(targets, target)
		}
		if !slices.Contains(targets, ref.ValueFrom.SecretKeyRef.Name) {
			t.Errorf("secretKeyRef names Secret %q; the ExternalSecrets in shop-development produce %v", ref.ValueFrom.SecretKeyRef.Name, targets)
		}
	})
	t.Run("config file", func(t *testing.T) {
		cms := &corev1.ConfigMapList{}
		if err := c.Client.List(context.Background(), cms, client.InNamespace("shop-development")); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, cm := range cms.Items {
			if strings.Contains(cm.Data["content"], "currency: EUR") {
				found = true
			}
		}
		if !found {
			t.Errorf("no ConfigMap in shop-development holds the rendered config.yaml")
		}
	})
	if t.Failed() {
		return
	}

	t.Run("changed variable is applied", func(t *testing.T) {
		shop.files["score.yaml"] = bytes.Replace(shop.files["score.yaml"], []byte(`PORT: "8080"`), []byte(`PORT: "9090"`), 1)
		out2 := shop.render(t, rs, env)
		start := time.Now()
		commit := repo.commit(t, "shop: PORT 9090", change(out2))
		requestReconcile(t, c)
		waitApplied(t, c, commit, applyTimeout, "shop")
		t.Logf("push → applied in cluster: %s", time.Since(start).Round(time.Millisecond))
		if v := envVar(deployment(t, c, "shop-development", "web"), "PORT"); v == nil || v.Value != "9090" {
			t.Errorf("web PORT = %+v, want 9090", v)
		}
		out = out2
	})
	t.Run("removed workload is pruned", func(t *testing.T) {
		delete(shop.files, "worker.score.yaml")
		out3 := shop.render(t, rs, env)
		commit := repo.commit(t, "shop: remove worker", change(out3))
		requestReconcile(t, c)
		waitApplied(t, c, commit, applyTimeout, "shop")
		_, found, err := get(context.Background(), c, "apps/v1", "Deployment", "shop-development", "worker")
		if err != nil {
			t.Fatal(err)
		}
		if found {
			t.Errorf("Deployment shop-development/worker is still in the cluster after its workload was removed")
		}
		requireObjects(t, c, out3.Objects)
	})
	t.Run("a broken app fails alone", func(t *testing.T) {
		// A second app, from the real dns example of Score's repo.
		blog := loadApp(t, "blog", filepath.Join("..", "..", "shared", "fixtures", "score"), "examples__resources__dns__score.yaml")
		bout := blog.render(t, rs, env)
		commit := repo.commit(t, "deploy blog to development", change(bout))
		requestReconcile(t, c)
		waitApplied(t, c, commit, applyTimeout, "flux-system", "blog", "shop")
		requireObjects(t, c, bout.Objects)

		// Break blog the way a bad definition would (a field of the wrong type), and change
		// the shop in a later commit: the shop follows, blog fails with the API server's word.
		broken := change(bout)
		broken.Files = maps.Clone(broken.Files)
		dep := envtree.AppDir("", "development", "blog") + "/deployment-my-workload.yaml"
		if _, ok := broken.Files[dep]; !ok {
			t.Fatalf("render of blog has no %s", dep)
		}
		broken.Files[dep] = bytes.Replace(broken.Files[dep], []byte("\nspec:\n"), []byte("\nspec:\n  replicas: many\n"), 1)
		repo.commit(t, "break blog", broken)
		shop.files["score.yaml"] = bytes.Replace(shop.files["score.yaml"], []byte(`PORT: "9090"`), []byte(`PORT: "7070"`), 1)
		commit = repo.commit(t, "shop: PORT 7070", change(shop.render(t, rs, env)))
		requestReconcile(t, c)
		waitApplied(t, c, commit, applyTimeout, "flux-system", "shared", "shop")
		msg := waitFailed(t, c, commit, "blog")
		t.Logf("blog: %s", msg)
		if !strings.Contains(msg, "replicas") {
			t.Errorf("blog failed with %q, which does not name the bad field", msg)
		}
		if v := envVar(deployment(t, c, "shop-development", "web"), "PORT"); v == nil || v.Value != "7070" {
			t.Errorf("web PORT = %+v, want 7070: a broken app held the shop back", v)
		}
	})
}

// TestSecondEnvironment: one env repo holds development and staging; a cluster bootstrapped
// on clusters/staging deploys staging's apps and nothing of development's.
func TestSecondEnvironment(t *testing.T) {
	rs := loadRules(t)
	git := startGitHost(t)
	repo := git.newEnvRepo(t, "env")
	shop := shopApp(t)
	dev := shop.render(t, rs, "development")
	repo.commit(t, "deploy shop to development", change(dev))
	staging := shop.render(t, rs, "staging")
	repo.commit(t, "promote shop to staging", change(staging))

	c := startCluster(t, "staging", controllerArgs()...)
	boot := bootstrapEnv(t, c, repo, "staging")
	requestReconcile(t, c)
	waitApplied(t, c, boot, applyTimeout, "flux-system", "shared", "shop")
	requireObjects(t, c, staging.Objects)
	for _, name := range []string{"web", "worker"} {
		requireEnv(t, c, staging.Objects, "shop-staging", name)
	}
	_, found, err := get(context.Background(), c, "v1", "Namespace", "", "shop-development")
	if err != nil {
		t.Fatal(err)
	}
	if found {
		t.Errorf("the staging cluster applied development's namespace shop-development")
	}
}

func deployment(t testing.TB, c *cluster.Cluster, ns, name string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatalf("Deployment %s/%s: %v", ns, name, err)
	}
	return d
}

func envVar(d *appsv1.Deployment, name string) *corev1.EnvVar {
	for _, ctr := range d.Spec.Template.Spec.Containers {
		for i := range ctr.Env {
			if ctr.Env[i].Name == name {
				return &ctr.Env[i]
			}
		}
	}
	return nil
}

// requireEnv checks that the Deployment in the cluster has, container by container, the env
// vars the render wrote: the same values, the same secretKeyRefs and configMapKeyRefs.
func requireEnv(t testing.TB, c *cluster.Cluster, objs []manifest.Object, ns, name string) {
	t.Helper()
	var want *appsv1.Deployment
	for _, o := range objs {
		u := unstructured.Unstructured{Object: o.Doc}
		if u.GetKind() == "Deployment" && u.GetNamespace() == ns && u.GetName() == name {
			want = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Doc, want); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want == nil {
		t.Fatalf("render has no Deployment %s/%s", ns, name)
	}
	got := deployment(t, c, ns, name)
	if len(got.Spec.Template.Spec.Containers) != len(want.Spec.Template.Spec.Containers) {
		t.Fatalf("Deployment %s/%s has %d containers, rendered %d", ns, name, len(got.Spec.Template.Spec.Containers), len(want.Spec.Template.Spec.Containers))
	}
	for i, wc := range want.Spec.Template.Spec.Containers {
		gc := got.Spec.Template.Spec.Containers[i]
		if len(wc.Env) == 0 {
			t.Errorf("rendered Deployment %s/%s container %s has no env: nothing to check", ns, name, wc.Name)
		}
		if len(gc.Env) != len(wc.Env) {
			t.Errorf("Deployment %s/%s container %s: %d env vars, rendered %d", ns, name, wc.Name, len(gc.Env), len(wc.Env))
			continue
		}
		for j, we := range wc.Env {
			ge := gc.Env[j]
			if envString(ge) != envString(we) {
				t.Errorf("Deployment %s/%s container %s env %d: cluster %s, rendered %s", ns, name, wc.Name, j, envString(ge), envString(we))
			}
		}
	}
}

func envString(e corev1.EnvVar) string {
	s := e.Name + "=" + e.Value
	if f := e.ValueFrom; f != nil {
		if r := f.SecretKeyRef; r != nil {
			s += " secretKeyRef " + r.Name + "/" + r.Key
		}
		if r := f.ConfigMapKeyRef; r != nil {
			s += " configMapKeyRef " + r.Name + "/" + r.Key
		}
		if r := f.FieldRef; r != nil {
			s += " fieldRef " + r.FieldPath
		}
	}
	return s
}
