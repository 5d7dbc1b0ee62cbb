package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	natsserver "github.com/nats-io/nats-server/v2/server"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/render/manifest"
)

// object is one object of a kustomize build, decoded strictly into its Go type when the
// test knows the kind (typed is nil otherwise).
type object struct {
	dir   string
	doc   map[string]any
	typed any
}

func (o object) kind() string { s, _ := o.doc["kind"].(string); return s }
func (o object) name() string {
	md, _ := o.doc["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}
func (o object) String() string { return fmt.Sprintf("%s: %s %s", o.dir, o.kind(), o.name()) }

// types maps apiVersion/kind to a constructor of the Go type it must decode into.
var types = map[string]func() any{
	"apps/v1/Deployment":            func() any { return new(appsv1.Deployment) },
	"apps/v1/StatefulSet":           func() any { return new(appsv1.StatefulSet) },
	"v1/Service":                    func() any { return new(corev1.Service) },
	"v1/ServiceAccount":             func() any { return new(corev1.ServiceAccount) },
	"v1/ConfigMap":                  func() any { return new(corev1.ConfigMap) },
	"v1/Namespace":                  func() any { return new(corev1.Namespace) },
	"v1/Secret":                     func() any { return new(corev1.Secret) },
	"policy/v1/PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
	"kustomize.toolkit.fluxcd.io/v1/Kustomization": func() any { return new(kustomizev1.Kustomization) },
	"source.toolkit.fluxcd.io/v1/GitRepository":    func() any { return new(sourcev1.GitRepository) },
}

// opaque are the API groups of CRDs the test has no Go type for: their objects are only
// checked for apiVersion, kind and metadata.name.
var opaque = []string{"external-secrets.io/v1"}

// builds runs `kustomize build` on every folder under deploy/ that has a kustomization.yaml
// and decodes every object it produces.
func builds(t *testing.T) map[string][]object {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dirs)
	if want := []string{"base", "flux", "nats", "production"}; !slices.Equal(dirs, want) {
		t.Fatalf("folders with a kustomization.yaml: %v, want %v (update the test when adding one)", dirs, want)
	}
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	out := map[string][]object{}
	for _, dir := range dirs {
		rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(abs, dir))
		if err != nil {
			t.Fatalf("kustomize build deploy/%s: %v", dir, err)
		}
		y, err := rm.AsYaml()
		if err != nil {
			t.Fatalf("kustomize build deploy/%s: %v", dir, err)
		}
		for i, doc := range bytes.Split(y, []byte("\n---\n")) {
			raw, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("deploy/%s: document %d: %v", dir, i, err)
			}
			o := object{dir: "deploy/" + dir}
			if err := json.Unmarshal(raw, &o.doc); err != nil {
				t.Fatalf("deploy/%s: document %d: %v", dir, i, err)
			}
			apiVersion, _ := o.doc["apiVersion"].(string)
			if apiVersion == "" || o.kind() == "" || o.name() == "" {
				t.Fatalf("deploy/%s: document %d lacks apiVersion, kind or metadata.name:\n%s", dir, i, doc)
			}
			if mk, ok := types[apiVersion+"/"+o.kind()]; ok {
				o.typed = mk()
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(o.typed); err != nil {
					t.Errorf("%s: does not decode strictly into %T: %v", o, o.typed, err)
				}
			} else if !slices.Contains(opaque, apiVersion) {
				t.Errorf("%s: %s is neither a type this test decodes nor a known CRD group; add it to types or opaque", o, apiVersion)
			}
			// The project's own checker too: duplicate fields, case-sensitive names.
			mo := manifest.Object{Doc: o.doc, Source: o.dir}
			if err := manifest.DecodeStrict(mo); err != nil {
				t.Error(err)
			}
			if err := manifest.CheckNoPlaintextSecret(mo); err != nil {
				t.Error(err)
			}
			out[dir] = append(out[dir], o)
		}
	}
	return out
}

func TestEveryFolderBuildsAndDecodesStrictly(t *testing.T) {
	got := builds(t)
	for dir, objs := range got {
		if len(objs) == 0 {
			t.Errorf("deploy/%s builds to nothing", dir)
		}
	}
}

// TestNoSecretValuesInGit reads every YAML file, built or not: no Secret carries data.
func TestNoSecretValuesInGit(t *testing.T) {
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if m["kind"] == "Secret" && (m["data"] != nil || m["stringData"] != nil) {
				t.Errorf("deploy/%s: a Secret with data or stringData: reference it through an ExternalSecret instead", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// podSpecs returns the pod templates of the workloads in objs.
func podSpecs(objs []object) map[string]*corev1.PodSpec {
	out := map[string]*corev1.PodSpec{}
	for _, o := range objs {
		switch w := o.typed.(type) {
		case *appsv1.Deployment:
			out[o.String()] = &w.Spec.Template.Spec
		case *appsv1.StatefulSet:
			out[o.String()] = &w.Spec.Template.Spec
		}
	}
	return out
}

func TestPodSecurityPolicy(t *testing.T) {
	for _, objs := range builds(t) {
		for name, pod := range podSpecs(objs) {
			if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: pod securityContext needs runAsNonRoot: true and seccompProfile RuntimeDefault", name)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("%s: automountServiceAccountToken must be false (nothing here calls the Kubernetes API)", name)
			}
			mounted := map[string]string{}
			for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
				sc := c.SecurityContext
				switch {
				case sc == nil:
					t.Errorf("%s: container %s has no securityContext", name, c.Name)
					continue
				case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
					t.Errorf("%s: container %s: runAsNonRoot must be true", name, c.Name)
				case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
					t.Errorf("%s: container %s: readOnlyRootFilesystem must be true", name, c.Name)
				case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
					t.Errorf("%s: container %s: allowPrivilegeEscalation must be false", name, c.Name)
				case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
					t.Errorf("%s: container %s: capabilities must drop ALL and add none", name, c.Name)
				}
				if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
					t.Errorf("%s: container %s runs as uid 0", name, c.Name)
				}
				if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
					t.Errorf("%s: container %s needs cpu and memory requests and a memory limit", name, c.Name)
				}
				if c.LivenessProbe == nil || c.ReadinessProbe == nil {
					t.Errorf("%s: container %s needs liveness and readiness probes", name, c.Name)
				}
				for _, m := range c.VolumeMounts {
					mounted[m.MountPath] = m.Name
				}
			}
			if _, ok := mounted["/tmp"]; !ok {
				t.Errorf("%s: no writable /tmp (the root filesystem is read-only)", name)
			}
			if pod.SecurityContext != nil && pod.SecurityContext.RunAsUser != nil && *pod.SecurityContext.RunAsUser == 0 {
				t.Errorf("%s: pod runs as uid 0", name)
			}
		}
	}
}

// bot returns the bot's container in the Deployment of a build.
func bot(t *testing.T, objs []object) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	for _, o := range objs {
		if d, ok := o.typed.(*appsv1.Deployment); ok && d.Name == "scorebot" {
			for i := range d.Spec.Template.Spec.Containers {
				if d.Spec.Template.Spec.Containers[i].Name == "bot" {
					return d, &d.Spec.Template.Spec.Containers[i]
				}
			}
		}
	}
	t.Fatal("no Deployment scorebot with a container bot")
	return nil, nil
}

func env(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func find[T any](objs []object, kind, name string) (T, bool) {
	var zero T
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			if v, ok := o.typed.(T); ok {
				return v, true
			}
		}
	}
	return zero, false
}

func TestBot(t *testing.T) {
	all := builds(t)
	for _, tc := range []struct {
		dir      string
		replicas int32
		spread   bool
	}{
		{"base", 1, false},
		{"production", 3, true},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			objs := all[tc.dir]
			d, c := bot(t, objs)
			if got := *d.Spec.Replicas; got != tc.replicas {
				t.Errorf("replicas %d, want %d", got, tc.replicas)
			}
			if got := len(d.Spec.Template.Spec.TopologySpreadConstraints) > 0; got != tc.spread {
				t.Errorf("topology spread constraints present = %v, want %v", got, tc.spread)
			}
			if !slices.Equal(c.Args, []string{"serve", "--role=all"}) {
				t.Errorf("args %q, want serve --role=all", c.Args)
			}
			probe := func(what string, p *corev1.Probe, path string) {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
					t.Errorf("%s probe must be GET %s on port http, got %+v", what, path, p)
				}
			}
			probe("liveness", c.LivenessProbe, "/healthz")
			probe("readiness", c.ReadinessProbe, "/readyz")
			if len(c.Ports) != 1 || c.Ports[0].Name != "http" || fmt.Sprintf(":%d", c.Ports[0].ContainerPort) != env(c, "SCOREBOT_LISTEN") {
				t.Errorf("port %+v does not match SCOREBOT_LISTEN %q", c.Ports, env(c, "SCOREBOT_LISTEN"))
			}

			// Files the bot reads are inside mounted volumes; secrets come from the Secret
			// the ExternalSecret produces.
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range c.VolumeMounts {
				mounts[m.Name] = m
			}
			volumes := map[string]corev1.Volume{}
			for _, v := range d.Spec.Template.Spec.Volumes {
				volumes[v.Name] = v
			}
			if !strings.HasPrefix(env(c, "SCOREBOT_DATA_DIR"), mounts["data"].MountPath) || volumes["data"].EmptyDir == nil {
				t.Errorf("SCOREBOT_DATA_DIR %q is not on the data volume", env(c, "SCOREBOT_DATA_DIR"))
			}
			sec := volumes["secrets"].Secret
			if sec == nil {
				t.Fatal("no secret volume named secrets")
			}
			es := externalSecret(t, objs)
			if sec.SecretName != es.target {
				t.Errorf("secret volume mounts %q, the ExternalSecret produces %q", sec.SecretName, es.target)
			}
			for _, v := range []string{"SCOREBOT_WEBHOOK_SECRET_FILE", "SCOREBOT_GITHUB_APP_PRIVATE_KEY_FILE"} {
				file := env(c, v)
				dir, key := filepath.Split(file)
				if filepath.Clean(dir) != mounts["secrets"].MountPath || !slices.Contains(es.keys, key) || !mounts["secrets"].ReadOnly {
					t.Errorf("%s=%q is not a key (%v) of the read-only secret mount %s", v, file, es.keys, mounts["secrets"].MountPath)
				}
			}
			if sa := d.Spec.Template.Spec.ServiceAccountName; sa == "" {
				t.Error("no serviceAccountName")
			} else if _, ok := find[*corev1.ServiceAccount](objs, "ServiceAccount", sa); !ok {
				t.Errorf("service account %s is not in the build", sa)
			}

			svc, ok := find[*corev1.Service](objs, "Service", "scorebot")
			if !ok || len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].TargetPort.String() != "http" {
				t.Error("Service scorebot must target port http")
			} else if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
			}
			pdb, ok := find[*policyv1.PodDisruptionBudget](objs, "PodDisruptionBudget", "scorebot")
			if !ok || pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
				t.Error("PodDisruptionBudget scorebot must select the bot's pods")
			}
		})
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

type esInfo struct {
	target string
	keys   []string
}

func externalSecret(t *testing.T, objs []object) esInfo {
	t.Helper()
	for _, o := range objs {
		if o.kind() != "ExternalSecret" {
			continue
		}
		var es struct {
			Spec struct {
				SecretStoreRef struct{ Kind, Name string } `json:"secretStoreRef"`
				Target         struct{ Name string }       `json:"target"`
				Data           []struct {
					SecretKey string `json:"secretKey"`
				} `json:"data"`
			} `json:"spec"`
		}
		raw, _ := json.Marshal(o.doc)
		if err := json.Unmarshal(raw, &es); err != nil {
			t.Fatal(err)
		}
		if es.Spec.SecretStoreRef.Kind != "ClusterSecretStore" || es.Spec.SecretStoreRef.Name == "" {
			t.Errorf("%s: secretStoreRef must name a ClusterSecretStore", o)
		}
		info := esInfo{target: es.Spec.Target.Name}
		for _, d := range es.Spec.Data {
			info.keys = append(info.keys, d.SecretKey)
		}
		return info
	}
	t.Fatal("no ExternalSecret in the build")
	return esInfo{}
}

// TestNATSCluster checks the StatefulSet against its config, and parses the config with
// nats-server itself, as each of the three pods would see it.
func TestNATSCluster(t *testing.T) {
	all := builds(t)
	objs := all["production"]
	sts, ok := find[*appsv1.StatefulSet](objs, "StatefulSet", "scorebot-nats")
	if !ok {
		t.Fatal("no StatefulSet scorebot-nats in deploy/production")
	}
	if *sts.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", *sts.Spec.Replicas)
	}
	headless, ok := find[*corev1.Service](objs, "Service", sts.Spec.ServiceName)
	if !ok || headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("serviceName %q must be a headless Service publishing not-ready addresses", sts.Spec.ServiceName)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Fatalf("want one volumeClaimTemplate named data")
	}
	c := sts.Spec.Template.Spec.Containers[0]
	var dataPath, confDir string
	for _, m := range c.VolumeMounts {
		switch m.Name {
		case "data":
			dataPath = m.MountPath
		case "config":
			confDir = m.MountPath
		}
	}
	var cmName string
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "config" && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	cm, ok := find[*corev1.ConfigMap](objs, "ConfigMap", cmName)
	if !ok {
		t.Fatalf("ConfigMap %q of the config volume is not in the build", cmName)
	}
	if len(c.Args) != 2 || c.Args[0] != "--config" || filepath.Dir(c.Args[1]) != confDir {
		t.Fatalf("args %q must be --config <file in %s>", c.Args, confDir)
	}
	conf, ok := cm.Data[filepath.Base(c.Args[1])]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", cmName, filepath.Base(c.Args[1]))
	}
	file := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	client, ok := find[*corev1.Service](objs, "Service", "scorebot-nats")
	if !ok {
		t.Fatal("no client Service scorebot-nats")
	}
	for i := range 3 {
		pod := fmt.Sprintf("%s-%d", sts.Name, i)
		t.Setenv("SERVER_NAME", pod)
		opts, err := natsserver.ProcessConfigFile(file)
		if err != nil {
			t.Fatalf("nats-server rejects the config: %v", err)
		}
		if opts.ServerName != pod {
			t.Errorf("server_name %q, want %q", opts.ServerName, pod)
		}
		if !opts.JetStream || opts.StoreDir != dataPath {
			t.Errorf("jetstream store_dir %q (enabled %v), want the data volume %q", opts.StoreDir, opts.JetStream, dataPath)
		}
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Host)
		}
		var want []string
		for j := range 3 {
			want = append(want, (&url.URL{Host: fmt.Sprintf("%s-%d.%s:%d", sts.Name, j, headless.Name, opts.Cluster.Port)}).Host)
		}
		if !slices.Equal(routes, want) {
			t.Errorf("routes %v, want %v (the headless service's DNS names)", routes, want)
		}
		if opts.MaxPayload != events.MaxMessageSize {
			t.Errorf("max_payload %d, want events.MaxMessageSize %d (a 25 MiB webhook body and its event)", opts.MaxPayload, events.MaxMessageSize)
		}
		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = int(p.ContainerPort)
		}
		if ports["client"] != opts.Port || ports["cluster"] != opts.Cluster.Port || ports["monitor"] != opts.HTTPPort {
			t.Errorf("container ports %v do not match the config (client %d, cluster %d, monitor %d)", ports, opts.Port, opts.Cluster.Port, opts.HTTPPort)
		}
		if len(client.Spec.Ports) != 1 || int(client.Spec.Ports[0].Port) != opts.Port {
			t.Errorf("client Service ports %v, want %d", client.Spec.Ports, opts.Port)
		}
	}

	// The bot points at the client Service.
	_, b := bot(t, objs)
	u, err := url.Parse(env(b, "SCOREBOT_NATS_URL"))
	if err != nil || u.Scheme != "nats" || u.Hostname() != client.Name || u.Port() != fmt.Sprint(client.Spec.Ports[0].Port) {
		t.Errorf("SCOREBOT_NATS_URL %q, want nats://%s:%d", env(b, "SCOREBOT_NATS_URL"), client.Name, client.Spec.Ports[0].Port)
	}
}

// TestFlux checks that the Flux Kustomization deploys a folder of this repo that builds,
// from the GitRepository beside it.
func TestFlux(t *testing.T) {
	all := builds(t)
	objs := all["flux"]
	var n int
	for _, o := range objs {
		ks, ok := o.typed.(*kustomizev1.Kustomization)
		if !ok {
			continue
		}
		n++
		if ks.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind {
			t.Errorf("%s: sourceRef kind %q, want GitRepository", o, ks.Spec.SourceRef.Kind)
		}
		repo, ok := find[*sourcev1.GitRepository](objs, "GitRepository", ks.Spec.SourceRef.Name)
		if !ok || repo.Namespace != ks.Namespace {
			t.Errorf("%s: GitRepository %s is not beside it", o, ks.Spec.SourceRef.Name)
		}
		if !ks.Spec.Prune || !ks.Spec.Wait {
			t.Errorf("%s: want prune and wait", o)
		}
		rel, ok := strings.CutPrefix(ks.Spec.Path, "./deploy/")
		if !ok {
			t.Errorf("%s: path %q is not under ./deploy/", o, ks.Spec.Path)
			continue
		}
		if _, ok := all[rel]; !ok {
			t.Errorf("%s: path %q is not a folder that builds", o, ks.Spec.Path)
		}
		if _, ok := find[*appsv1.StatefulSet](all[rel], "StatefulSet", "scorebot-nats"); !ok {
			t.Errorf("%s: %s does not deploy the NATS cluster", o, ks.Spec.Path)
		}
		if _, ok := find[*appsv1.Deployment](all[rel], "Deployment", "scorebot"); !ok {
			t.Errorf("%s: %s does not deploy the bot", o, ks.Spec.Path)
		}
	}
	if n != 1 {
		t.Errorf("want one Flux Kustomization in deploy/flux, got %d", n)
	}
}

// TestDockerfile checks the image recipe, which cannot be built here (no container engine).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.EqualFold(f[0], "FROM") {
			froms = append(froms, line)
		}
	}
	if len(froms) < 2 || !strings.Contains(froms[0], "golang:1.26") ||
		!(strings.Contains(froms[len(froms)-1], "gcr.io/distroless/static:nonroot") || strings.Contains(froms[len(froms)-1], "scratch")) {
		t.Errorf("want a golang:1.26 build stage and a distroless static:nonroot or scratch final stage, got %q", froms)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `ENTRYPOINT ["/bot"]`, `CMD ["serve"]`, "USER 65532:65532", "./cmd/bot"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
