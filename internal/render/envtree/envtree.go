// Package envtree owns the layout of the env repo that Flux watches: where each rendered
// object of an app, each shared resource and each Flux Kustomization goes, the
// kustomization.yaml files that make every folder buildable, and the provenance record. It
// turns objects into file contents; it does not render, match or provision anything, and it
// never touches Git, the disk, the clock or randomness (the caller writes the files).
//
// The layout (see docs/envrepo.md), with <base> the platform's EnvRepo.Path and <shard> the
// app's fan-out folder (Shard: two hex digits of the SHA-256 of the app id):
//
//	<base>/clusters/<env>/<shard>/<app>.yaml                 Flux Kustomization "<app>" → ./<base>/apps/<env>/<shard>/<app>
//	<base>/clusters/<env>/shared.yaml                        Flux Kustomization "shared" → ./<base>/apps/<env>/_shared
//	<base>/apps/<env>/<shard>/<app>/kustomization.yaml       lists the files below, sorted
//	<base>/apps/<env>/<shard>/<app>/namespace.yaml           the app's Namespace
//	<base>/apps/<env>/<shard>/<app>/<kind>-<name>.yaml       one object per file
//	<base>/apps/<env>/<shard>/<app>/.scorebot/provenance.yaml  not a Kubernetes object, never listed
//	<base>/apps/<env>/_shared/namespace.yaml                 the environment's shared Namespace
//	<base>/apps/<env>/_shared/<name>/...                     one folder per shared resource
//
// The shard folders keep every directory a one-app commit rewrites small (at most 256
// entries, about 40 apps each at 10,000 apps), so a commit's cost does not grow with the
// number of apps in the environment: a Git tree is rewritten whole when one entry changes.
//
// clusters/<env>/ and apps/<env>/_shared/ deliberately have no kustomization.yaml: Flux
// generates one over every YAML file, descending into sub-folders without one and listing
// each sub-folder that has one, so each app can add its own file without rewriting a list
// shared with other apps, and the flux-system/ folder written by `flux bootstrap` keeps
// being applied.
package envtree

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

// Names used by the layout. They are part of the env-repo contract (docs/envrepo.md).
const (
	// FluxNamespace and FluxSource are what `flux bootstrap` creates: the GitRepository
	// every Kustomization written here reads from.
	FluxNamespace = "flux-system"
	FluxSource    = "flux-system"
	// SharedKustomization is the Flux Kustomization of an environment's shared resources;
	// every app that uses one depends on it.
	SharedKustomization = "shared"
	// SharedDir is the folder of shared resources inside apps/<env>/.
	SharedDir = "_shared"
	// ProvenanceFile is the app's provenance record, relative to its folder.
	ProvenanceFile = ".scorebot/provenance.yaml"
	// ManagedByLabel marks objects Scorebot generated itself (namespaces).
	ManagedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "scorebot"
)

// Flux timings of every generated Kustomization. wait stays off: readiness of the workloads
// is reported by the bot from the cluster, and a Kustomization that waited for Deployments
// would keep dependants (and clusters without nodes, such as the e2e tier) from ever
// becoming Ready.
var (
	fluxInterval      = metav1.Duration{Duration: 10 * time.Minute}
	fluxRetryInterval = metav1.Duration{Duration: time.Minute}
	fluxTimeout       = metav1.Duration{Duration: 3 * time.Minute}
)

// ErrInvalid is returned (wrapped) for input the layout cannot represent: a bad app or
// environment name, two objects with the same identity, a reserved name.
var ErrInvalid = errors.New("invalid env tree input")

// invalidError is input the layout cannot represent: its message is what the user reads
// (what is wrong and the fix, without the sentinel's words), and errors.Is matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Sprintf(format, args...)}
}

// SharedResource is a resource shared by the workloads of an environment (a Score resource
// with an id). Its objects must depend only on the environment, its uid and its definition,
// so that whichever app renders it writes the same files.
type SharedResource struct {
	UID     string // score-go resource uid, e.g. "redis.default#cache"
	Objects []manifest.Object
}

// ScoreDigest identifies one Score file that went into a render.
type ScoreDigest struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Provenance says where a render came from. It holds no secret.
type Provenance struct {
	SourceRepo   string
	SourceCommit string
	RulesCommit  string
	Scores       []ScoreDigest
}

// App is one app rendered for one environment.
type App struct {
	Base      string // EnvRepo.Path: the env repo folder everything goes under, "" for the root
	Env       string
	AppID     string
	Namespace string // the app's namespace in this environment
	// SharedNamespace is the namespace of the environment's shared resources; required when
	// Shared is not empty.
	SharedNamespace string
	// Objects are the app's own objects with their namespaces set (workloads and private
	// resources); order does not matter.
	Objects []manifest.Object
	// Shared are the shared resources the app uses; order does not matter.
	Shared     []SharedResource
	Provenance Provenance
}

// Tree is a set of env-repo files.
type Tree struct {
	// Files maps paths relative to the env repo root (Base included) to contents.
	Files map[string][]byte
	// Owned are the path prefixes the app owns (folders end with "/"): a writer replaces
	// everything under them with Files, and deletes them when the app goes away.
	Owned []string
	// Shared are the path prefixes of shared resources the app uses: a writer replaces
	// everything under them with Files (the content is the same whichever app rendered them)
	// but must not delete them when one app goes away, since others may use them.
	Shared []string
}

// Shard is the fan-out folder of app inside apps/<env>/ and clusters/<env>/: the first two
// hex digits of the SHA-256 of the app id (as `printf %s APP | sha256sum | cut -c1-2`).
func Shard(app string) string {
	sum := sha256.Sum256([]byte(app))
	return hex.EncodeToString(sum[:1])
}

// AppsDir is the folder of an environment's apps, relative to the env repo root.
func AppsDir(base, env string) string { return path.Join(base, "apps", env) }

// AppDir is the folder of an app in an environment, relative to the env repo root.
func AppDir(base, env, app string) string { return path.Join(AppsDir(base, env), Shard(app), app) }

// SharedRoot is the folder of an environment's shared resources.
func SharedRoot(base, env string) string { return path.Join(AppsDir(base, env), SharedDir) }

// ClusterDir is the folder `flux bootstrap --path` points at for an environment.
func ClusterDir(base, env string) string { return path.Join(base, "clusters", env) }

// KustomizationFile is the file of an app's Flux Kustomization.
func KustomizationFile(base, env, app string) string {
	return path.Join(ClusterDir(base, env), Shard(app), app+".yaml")
}

// ProvenancePath is an app's provenance record.
func ProvenancePath(base, env, app string) string {
	return path.Join(AppDir(base, env, app), ProvenanceFile)
}

// OwnedPaths are the path prefixes an app owns in an environment (folders end with "/"):
// its folder and its Flux Kustomization, and where the layout before the shard folders put
// them (LegacyPaths), so that the first write of an app moves it in the same commit.
func OwnedPaths(base, env, app string) []string {
	out := []string{AppDir(base, env, app) + "/", KustomizationFile(base, env, app)}
	out = append(out, LegacyPaths(base, env, app)...)
	slices.Sort(out)
	return out
}

var shardName = regexp.MustCompile(`^[0-9a-f]{2}$`)

// LegacyPaths are where the first layout, without shard folders, put an app:
// apps/<env>/<app>/ and clusters/<env>/<app>.yaml. The folder is left out for an app whose id
// is itself a shard name (two hex digits), since that folder now holds other apps.
func LegacyPaths(base, env, app string) []string {
	out := []string{path.Join(ClusterDir(base, env), app+".yaml")}
	if !shardName.MatchString(app) {
		out = append(out, path.Join(AppsDir(base, env), app)+"/")
	}
	return out
}

// LegacyProvenancePath is an app's provenance record in the first layout.
func LegacyProvenancePath(base, env, app string) string {
	return path.Join(AppsDir(base, env), app, ProvenanceFile)
}

// RecordApp reports which app a file under AppsDir(base, env) is the provenance record of,
// in the current layout (<shard>/<app>/.scorebot/provenance.yaml, with the app's own shard)
// or the first one (<app>/.scorebot/provenance.yaml).
func RecordApp(base, env, file string) (string, bool) {
	rel, ok := strings.CutPrefix(file, AppsDir(base, env)+"/")
	if !ok {
		return "", false
	}
	dir, ok := strings.CutSuffix(rel, "/"+ProvenanceFile)
	if !ok {
		return "", false
	}
	shard, app, sharded := strings.Cut(dir, "/")
	switch {
	case !sharded:
		app = dir
	case strings.Contains(app, "/") || shard != Shard(app):
		return "", false
	}
	if CheckName("app", app) != nil {
		return "", false
	}
	return app, true
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// CheckName reports whether s can name an app or environment: a DNS label (lowercase letters,
// digits and '-', at most 63 characters), not one of the names the layout reserves.
func CheckName(field, s string) error {
	if len(s) > 63 || !dnsLabel.MatchString(s) {
		return invalidf("%s %q is not a DNS label: use lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters", field, s)
	}
	switch s {
	case FluxNamespace, SharedKustomization, SharedDir:
		return invalidf("%s %q is reserved by the env repo layout: choose another name", field, s)
	}
	return nil
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// SharedName is the folder name of a shared resource: a readable DNS label derived from the
// uid, with a short hash of the uid so that two uids never share a folder.
func SharedName(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	readable := strings.Trim(nonName.ReplaceAllString(strings.ToLower(uid), "-"), "-")
	if len(readable) > 45 {
		readable = strings.TrimRight(readable[:45], "-")
	}
	if readable == "" {
		readable = "resource"
	}
	return readable + "-" + hex.EncodeToString(sum[:4])
}

// Build lays out one app.
func Build(app App) (*Tree, error) {
	if err := CheckName("environment", app.Env); err != nil {
		return nil, err
	}
	if err := CheckName("app id", app.AppID); err != nil {
		return nil, err
	}
	if app.Namespace == "" {
		return nil, invalidf("app %s in %s: no namespace: give the app's namespace (render takes it from the platform file's namespace pattern)", app.AppID, app.Env)
	}
	t := &Tree{Files: map[string][]byte{}}
	appDir := AppDir(app.Base, app.Env, app.AppID)
	clusterFile := KustomizationFile(app.Base, app.Env, app.AppID)
	t.Owned = OwnedPaths(app.Base, app.Env, app.AppID)

	ns, err := namespaceObject(app.Namespace, app.Env, "app "+app.AppID)
	if err != nil {
		return nil, err
	}
	if err := writeFolder(t.Files, appDir, ns, app.Objects); err != nil {
		return nil, fmt.Errorf("app %s in %s: %w", app.AppID, app.Env, err)
	}
	prov, err := provenanceFile(app)
	if err != nil {
		return nil, err
	}
	t.Files[path.Join(appDir, ProvenanceFile)] = prov

	var deps []string
	if len(app.Shared) > 0 {
		if app.SharedNamespace == "" {
			return nil, invalidf("app %s in %s uses shared resources but no shared namespace was given: give the environment's shared namespace (render takes it from the namespace pattern with app \"shared\")", app.AppID, app.Env)
		}
		if err := addShared(t, app); err != nil {
			return nil, err
		}
		deps = []string{SharedKustomization}
	}
	ks, err := fluxKustomization(app.AppID, appDir, deps, "app "+app.AppID)
	if err != nil {
		return nil, err
	}
	t.Files[clusterFile] = ks
	slices.Sort(t.Owned)
	slices.Sort(t.Shared)
	return t, nil
}

func addShared(t *Tree, app App) error {
	root := SharedRoot(app.Base, app.Env)
	byName := map[string]string{}
	for _, r := range app.Shared {
		name := SharedName(r.UID)
		if other, dup := byName[name]; dup {
			if other == r.UID {
				return invalidf("shared resource %s listed twice: list each shared resource once", r.UID)
			}
			return invalidf("shared resources %s and %s map to the same folder %s: give one of them another Score id", other, r.UID, name)
		}
		byName[name] = r.UID
		dir := path.Join(root, name)
		if err := writeFolder(t.Files, dir, nil, r.Objects); err != nil {
			return fmt.Errorf("shared resource %s in %s: %w", r.UID, app.Env, err)
		}
		t.Shared = append(t.Shared, dir+"/")
	}
	ns, err := namespaceObject(app.SharedNamespace, app.Env, "environment "+app.Env+" shared resources")
	if err != nil {
		return err
	}
	b, err := manifest.Marshal(*ns)
	if err != nil {
		return err
	}
	nsFile := path.Join(root, "namespace.yaml")
	t.Files[nsFile] = b
	ks, err := fluxKustomization(SharedKustomization, root, nil, "environment "+app.Env+" shared resources")
	if err != nil {
		return err
	}
	sharedKs := path.Join(ClusterDir(app.Base, app.Env), SharedKustomization+".yaml")
	t.Files[sharedKs] = ks
	t.Shared = append(t.Shared, nsFile, sharedKs)
	return nil
}

// writeFolder writes one object per file plus a kustomization.yaml listing them. ns, when
// not nil, goes to namespace.yaml.
func writeFolder(files map[string][]byte, dir string, ns *manifest.Object, objs []manifest.Object) error {
	objs = slices.Clone(objs)
	SortObjects(objs)
	type entry struct {
		name string
		obj  manifest.Object
	}
	var entries []entry
	taken := map[string]bool{}
	if ns != nil {
		entries = append(entries, entry{"namespace.yaml", *ns})
		taken["namespace.yaml"] = true
	}
	seen := map[string]manifest.Object{}
	for _, o := range objs {
		id := identity(o)
		if prev, dup := seen[id]; dup {
			return invalidf("%s %s/%s is produced twice, by %s and by %s: rename one of them",
				o.Kind(), o.Namespace(), o.Name(), prev.Source, o.Source)
		}
		seen[id] = o
		if ns != nil && o.APIVersion() == "v1" && o.Kind() == "Namespace" && o.Name() == ns.Name() {
			return invalidf("%s: Namespace %s is generated by Scorebot for the app: remove it from the definition",
				o.Source, o.Name())
		}
		name := fileName(o)
		if taken[name] {
			sum := sha256.Sum256([]byte(id))
			name = strings.TrimSuffix(name, ".yaml") + "-" + hex.EncodeToString(sum[:4]) + ".yaml"
		}
		taken[name] = true
		entries = append(entries, entry{name, o})
	}
	encoded := make([][]byte, len(entries))
	if err := parallel(len(entries), func(i int) error {
		b, err := manifest.Marshal(entries[i].obj)
		encoded[i] = b
		return err
	}); err != nil {
		return err
	}
	resources := make([]string, len(entries))
	for i, e := range entries {
		files[path.Join(dir, e.name)] = encoded[i]
		resources[i] = e.name
	}
	slices.Sort(resources)
	k := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: resources,
	}
	b, err := manifest.MarshalValue(k)
	if err != nil {
		return fmt.Errorf("encode %s/kustomization.yaml: %w", dir, err)
	}
	files[path.Join(dir, "kustomization.yaml")] = b
	return nil
}

// parallel runs fn for 0..n-1 on up to GOMAXPROCS goroutines, and returns the error of the
// lowest index that failed.
func parallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n/64+1)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				errs[i] = fn(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func identity(o manifest.Object) string {
	group, _, _ := strings.Cut(o.APIVersion(), "/")
	if !strings.Contains(o.APIVersion(), "/") {
		group = ""
	}
	return strings.Join([]string{group, o.Kind(), o.Namespace(), o.Name()}, "/")
}

// fileName is "<kind>-<name>.yaml" in lowercase, with anything but letters, digits, '-' and
// '.' replaced by '-'.
func fileName(o manifest.Object) string {
	s := strings.ToLower(o.Kind() + "-" + o.Name())
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
	return s + ".yaml"
}

func namespaceObject(name, env, source string) (*manifest.Object, error) {
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				ManagedByLabel:        managedBy,
				"scorebot.dev/env-id": env,
			},
		},
	}
	o, err := manifest.FromTyped(ns, "scorebot env tree ("+source+")")
	if err != nil {
		return nil, err
	}
	delete(o.Doc, "spec") // empty: a Namespace has nothing to say there
	return &o, nil
}

func fluxKustomization(name, dir string, deps []string, source string) ([]byte, error) {
	k := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: FluxNamespace},
		Spec: kustomizev1.KustomizationSpec{
			Interval:      fluxInterval,
			RetryInterval: &fluxRetryInterval,
			Timeout:       &fluxTimeout,
			Path:          "./" + dir,
			Prune:         true,
			SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: FluxSource},
		},
	}
	for _, d := range deps {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
	}
	o, err := manifest.FromTyped(k, "scorebot env tree ("+source+")")
	if err != nil {
		return nil, err
	}
	return manifest.Marshal(o)
}

// Record is the provenance record written beside an app's files (ProvenanceFile): what the
// folder was rendered from, so a re-render, a promotion or a rollback can be reproduced from
// Git alone. It holds no secret.
type Record struct {
	Comment     string        `json:"comment"`
	App         string        `json:"app"`
	Environment string        `json:"environment"`
	Source      SourceRecord  `json:"source"`
	Rules       RulesRecord   `json:"rules"`
	Scores      []ScoreDigest `json:"scores"`
}

// SourceRecord names the app repo and commit a folder was rendered from.
type SourceRecord struct {
	Repo   string `json:"repo,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// RulesRecord names the rules commit a folder was rendered with.
type RulesRecord struct {
	Commit string `json:"commit,omitempty"`
}

// ErrNoSource is returned (wrapped) by ParseRecord for a record that names no source repo and
// commit: nothing could re-render it.
var ErrNoSource = errors.New("provenance record names no source repo and commit")

// ParseRecord reads a provenance record.
func ParseRecord(data []byte) (Record, error) {
	var r Record
	if err := yaml.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("provenance record: %w", err)
	}
	if r.Source.Repo == "" || r.Source.Commit == "" {
		return Record{}, fmt.Errorf("provenance record: source.repo or source.commit is empty: %w", ErrNoSource)
	}
	return r, nil
}

// ScorePaths are the Score files the record names, in its order.
func (r Record) ScorePaths() []string {
	out := make([]string, 0, len(r.Scores))
	for _, s := range r.Scores {
		out = append(out, s.Path)
	}
	return out
}

func provenanceFile(app App) ([]byte, error) {
	scores := slices.Clone(app.Provenance.Scores)
	slices.SortFunc(scores, func(a, b ScoreDigest) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.SHA256, b.SHA256))
	})
	rec := Record{
		Comment:     "Written by Scorebot: what this folder was rendered from. Not a Kubernetes object.",
		App:         app.AppID,
		Environment: app.Env,
		Source:      SourceRecord{Repo: app.Provenance.SourceRepo, Commit: app.Provenance.SourceCommit},
		Rules:       RulesRecord{Commit: app.Provenance.RulesCommit},
		Scores:      scores,
	}
	b, err := manifest.MarshalValue(rec)
	if err != nil {
		return nil, fmt.Errorf("encode provenance of %s: %w", app.AppID, err)
	}
	return b, nil
}

// Namespaces returns the Namespace objects Build writes for app: its own, and the shared
// one when it uses shared resources.
func Namespaces(app App) ([]manifest.Object, error) {
	ns, err := namespaceObject(app.Namespace, app.Env, "app "+app.AppID)
	if err != nil {
		return nil, err
	}
	out := []manifest.Object{*ns}
	if len(app.Shared) > 0 {
		shared, err := namespaceObject(app.SharedNamespace, app.Env, "environment "+app.Env+" shared resources")
		if err != nil {
			return nil, err
		}
		out = append(out, *shared)
	}
	return out, nil
}

// Merge combines the trees of several apps of one env repo. A path written by two trees
// must have the same content (shared resources do); anything else is an error.
func Merge(trees ...*Tree) (*Tree, error) {
	out := &Tree{Files: map[string][]byte{}}
	for _, t := range trees {
		for _, p := range sortedKeys(t.Files) {
			if prev, ok := out.Files[p]; ok && string(prev) != string(t.Files[p]) {
				return nil, invalidf("%s is rendered differently by two apps: a shared resource's definition must depend only on the environment, the resource's uid and the definition (not on the app or its workloads)", p)
			}
			out.Files[p] = t.Files[p]
		}
		out.Owned = append(out.Owned, t.Owned...)
		out.Shared = append(out.Shared, t.Shared...)
	}
	slices.Sort(out.Owned)
	out.Owned = slices.Compact(out.Owned)
	slices.Sort(out.Shared)
	out.Shared = slices.Compact(out.Shared)
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
