// Package render is the top of the render engine: Score files and a loaded rules repo in,
// the env-repo files of one app in one environment out. It glues score loading (score-go),
// provisioning (package provision), workload conversion (package convert), the checks every
// object goes through (package manifest) and the env-repo layout (package envtree).
//
// It is pure: no Git, NATS, GitHub, disk, clock or randomness. Callers (the CLI, the deploy
// path, PR previews) read the inputs and write the outputs. The same inputs give the same
// bytes, whatever the order of the score files.
package render

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/score-spec/score-go/types"

	"github.com/scorebot/scorebot/internal/render/convert"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/provision"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// ErrInput is returned (wrapped) for inputs that cannot be rendered at all: no rules, an
// unknown environment, no score files, two workloads with one name.
var ErrInput = errors.New("invalid render input")

// SharedApp is the app name the namespace pattern is expanded with for the shared resources
// of an environment ("{app}-{env}" gives "shared-development"). No app may use it.
const SharedApp = envtree.SharedKustomization

// ScoreFile is one Score file to render.
type ScoreFile struct {
	Path string // as the user knows it (relative to the app repo root, or as given on the command line)
	Data []byte
	// ReadFile resolves paths relative to Path's folder (files.source); nil when file
	// sources cannot be read.
	ReadFile func(rel string) ([]byte, error)
}

// Provenance says where a render's inputs came from; it is written beside the app's files.
type Provenance struct {
	SourceRepo, SourceCommit, RulesCommit string
}

// Input is one app to render for one environment.
type Input struct {
	Rules      *rules.Rules
	Env        string
	AppID      string
	Files      []ScoreFile
	Provenance Provenance
}

// Output is the rendered app.
type Output struct {
	// Files maps env-repo paths (relative to the env repo root, the platform's EnvRepo.Path
	// included) to content.
	Files map[string][]byte
	// Owned are the path prefixes this app owns in this environment (folders end with "/"):
	// a writer replaces everything under them.
	Owned []string
	// Shared are the path prefixes of the shared resources the app uses: a writer replaces
	// everything under them too (their content does not depend on the app), but must not
	// delete them when the app goes away.
	Shared []string
	// Objects are every object written, sorted (manifest.Sort): namespaces, the app's
	// objects and its shared resources' objects; the Flux Kustomizations are not included.
	Objects []manifest.Object
	// Explain says, for each resource (sorted by uid), which definition matched and why.
	Explain []ResourceExplain
}

// ResourceExplain is the match explanation of one resource.
type ResourceExplain struct {
	UID        string
	Workload   string // the workload that declared it first ("" for shared resources)
	Shared     bool
	Definition string
	File       string // rules file of the definition
	Criterion  int    // index into the definition's criteria, -1 when none
	Trace      []rules.Candidate
	Text       string // rules.Match.Explain()
}

type loaded struct {
	file ScoreFile
	spec *types.Workload
	name string
}

// Render renders one app for one environment.
func Render(in Input) (*Output, error) {
	if in.Rules == nil {
		return nil, invalidf(ErrInput, "no rules repo given: load the rules repo and pass it as Input.Rules")
	}
	env, ok := in.Rules.Environment(in.Env)
	if !ok {
		return nil, unknownEnv(in.Rules, in.Env)
	}
	if err := envtree.CheckName("app id", in.AppID); err != nil {
		return nil, err // names the app id and the fix; wraps envtree.ErrInvalid
	}
	if len(in.Files) == 0 {
		return nil, invalidf(ErrInput, "app %s: no score files given: give the app's score.yaml (or the files platform.yaml lists for it)", in.AppID)
	}
	files := slices.Clone(in.Files)
	slices.SortFunc(files, func(a, b ScoreFile) int { return cmp.Compare(a.Path, b.Path) })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, invalidf(ErrInput, "app %s: score file %s given twice: give each file once", in.AppID, files[i].Path)
		}
	}

	workloads, err := loadAll(files)
	if err != nil {
		return nil, err
	}

	ns := in.Rules.Platform.NamespaceFor(in.AppID, env.Name)
	sharedNS := in.Rules.Platform.NamespaceFor(SharedApp, env.Name)
	pin := provision.Input{Rules: in.Rules, Env: env, AppID: in.AppID, Namespace: ns, SharedNamespace: sharedNS}
	for _, w := range workloads {
		pin.Workloads = append(pin.Workloads, provision.Workload{Name: w.name, File: w.file.Path, Spec: w.spec})
	}
	prov, err := provision.Provision(pin)
	if err != nil {
		return nil, fmt.Errorf("app %s in %s: %w", in.AppID, env.Name, err)
	}

	converted := make([][]manifest.Object, len(workloads))
	err = parallel(len(workloads), func(i int) error {
		w := workloads[i]
		// Workload definitions match per workload: res_id is the workload name.
		adjust := in.Rules.WorkloadAdjustments(rules.Context{ResID: w.name, AppID: in.AppID, EnvID: env.Name, EnvType: env.Type})
		objs, err := convert.Workload(convert.Input{
			Name: w.name, File: w.file.Path, Spec: w.spec,
			AppID: in.AppID, Env: env.Name, Namespace: ns,
			Outputs: prov.Outputs(w.name), Adjust: adjust,
		})
		if err != nil {
			return fmt.Errorf("app %s in %s: %w", in.AppID, env.Name, err)
		}
		converted[i] = objs
		return nil
	})
	if err != nil {
		return nil, err
	}

	var own []manifest.Object
	for _, objs := range converted {
		own = append(own, objs...)
	}
	// Objects from definitions' templates; the converted ones come from k8s.io/api structs
	// (manifest.FromTyped) and decode strictly by construction.
	var fromDefinitions []manifest.Object
	sharedByUID := map[string]*envtree.SharedResource{}
	resources := slices.Clone(prov.Resources)
	slices.SortFunc(resources, func(a, b *provision.Resource) int { return cmp.Compare(string(a.Uid), string(b.Uid)) })
	var explain []ResourceExplain
	for _, r := range resources {
		explain = append(explain, explainOf(r))
		if r.Shared {
			sr := &envtree.SharedResource{UID: string(r.Uid)}
			for _, o := range r.Manifests {
				sr.Objects = append(sr.Objects, withNamespace(o, sharedNS))
			}
			if len(sr.Objects) > 0 {
				sharedByUID[sr.UID] = sr
			}
			fromDefinitions = append(fromDefinitions, sr.Objects...)
			continue
		}
		for _, o := range r.Manifests {
			o = withNamespace(o, ns)
			own = append(own, o)
			fromDefinitions = append(fromDefinitions, o)
		}
	}
	app := envtree.App{
		Base: in.Rules.Platform.EnvRepo.Path, Env: env.Name, AppID: in.AppID,
		Namespace: ns, SharedNamespace: sharedNS, Objects: own,
		Provenance: envtree.Provenance{
			SourceRepo: in.Provenance.SourceRepo, SourceCommit: in.Provenance.SourceCommit,
			RulesCommit: in.Provenance.RulesCommit,
		},
	}
	for _, uid := range sortedKeys(sharedByUID) {
		app.Shared = append(app.Shared, *sharedByUID[uid])
	}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		app.Provenance.Scores = append(app.Provenance.Scores, envtree.ScoreDigest{Path: f.Path, SHA256: hex.EncodeToString(sum[:])})
	}

	all := slices.Clone(own)
	for _, sr := range app.Shared {
		all = append(all, sr.Objects...)
	}
	if err := checkObjects(fromDefinitions); err != nil {
		return nil, fmt.Errorf("app %s in %s: %w", in.AppID, env.Name, err)
	}
	for _, objs := range converted {
		for _, o := range objs {
			// Cheap, and says so if conversion ever made a Secret.
			if err := manifest.CheckNoPlaintextSecret(o); err != nil {
				return nil, fmt.Errorf("app %s in %s: %w", in.AppID, env.Name, err)
			}
		}
	}

	tree, err := envtree.Build(app)
	if err != nil {
		return nil, fmt.Errorf("app %s in %s: %w", in.AppID, env.Name, err)
	}
	nsObjs, err := envtree.Namespaces(app)
	if err != nil {
		return nil, err
	}
	all = append(all, nsObjs...)
	envtree.SortObjects(all)
	return &Output{Files: tree.Files, Owned: tree.Owned, Shared: tree.Shared, Objects: all, Explain: explain}, nil
}

// RenderApps renders several apps of one env repo and merges their trees; a file two apps
// render (a shared resource) must come out the same from both. Objects and Explain are
// concatenated in input order, Objects sorted.
func RenderApps(ins []Input) (*Output, error) {
	out := &Output{Files: map[string][]byte{}}
	var trees []*envtree.Tree
	for _, in := range ins {
		o, err := Render(in)
		if err != nil {
			return nil, err
		}
		trees = append(trees, &envtree.Tree{Files: o.Files, Owned: o.Owned, Shared: o.Shared})
		out.Objects = append(out.Objects, o.Objects...)
		out.Explain = append(out.Explain, o.Explain...)
	}
	merged, err := envtree.Merge(trees...)
	if err != nil {
		return nil, err
	}
	out.Files, out.Owned, out.Shared = merged.Files, merged.Owned, merged.Shared
	out.Objects = dedupe(out.Objects)
	return out, nil
}

// dedupe sorts objects and drops repeats of one identity (shared resources and their
// namespace appear once per app that uses them).
func dedupe(objs []manifest.Object) []manifest.Object {
	envtree.SortObjects(objs)
	return slices.CompactFunc(objs, func(a, b manifest.Object) bool {
		return a.APIVersion() == b.APIVersion() && a.Kind() == b.Kind() && a.Namespace() == b.Namespace() && a.Name() == b.Name()
	})
}

func loadAll(files []ScoreFile) ([]loaded, error) {
	out := make([]loaded, len(files))
	err := parallel(len(files), func(i int) error {
		f := files[i]
		spec, err := LoadScore(f.Path, f.Data, f.ReadFile)
		if err != nil {
			return err
		}
		name, _ := spec.Metadata["name"].(string)
		out[i] = loaded{file: f, spec: spec, name: name}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b loaded) int { return cmp.Compare(a.name, b.name) })
	for i := 1; i < len(out); i++ {
		if out[i].name == out[i-1].name {
			return nil, invalidf(ErrInput, "%s: metadata.name %q is also the name of the workload in %s: workload names must be unique within an app; rename one",
				out[i].file.Path, out[i].name, out[i-1].file.Path)
		}
	}
	return out, nil
}

// parallel runs fn for 0..n-1 on up to GOMAXPROCS goroutines and returns the error of the
// lowest index that failed, so the error does not depend on scheduling.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				errs[i] = fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkObjects decodes the objects definitions made strictly into their types and refuses
// plaintext Secrets.
// It checks in parallel and reports the first failure in order.
func checkObjects(objs []manifest.Object) error {
	const batch = 64
	return parallel((len(objs)+batch-1)/batch, func(b int) error {
		for _, o := range objs[b*batch : min((b+1)*batch, len(objs))] {
			if err := manifest.CheckNoPlaintextSecret(o); err != nil {
				return err
			}
			if err := manifest.DecodeStrict(o); err != nil {
				return err
			}
		}
		return nil
	})
}

// clusterScoped lists kinds that take no namespace. Kinds not listed are namespaced.
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "StorageClass": true, "PersistentVolume": true,
	"PriorityClass": true, "IngressClass": true, "RuntimeClass": true, "CSIDriver": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"APIService": true, "ClusterSecretStore": true, "ClusterExternalSecret": true,
	"ClusterIssuer": true, "GatewayClass": true, "VolumeSnapshotClass": true, "Node": true,
}

// withNamespace returns o with metadata.namespace set to ns when o is namespaced and has
// none. The document is copied first: provision may share objects between calls.
func withNamespace(o manifest.Object, ns string) manifest.Object {
	if o.Namespace() != "" || clusterScoped[o.Kind()] {
		return o
	}
	doc := make(map[string]any, len(o.Doc))
	for k, v := range o.Doc {
		doc[k] = v
	}
	md, _ := doc["metadata"].(map[string]any)
	nmd := make(map[string]any, len(md)+1)
	for k, v := range md {
		nmd[k] = v
	}
	nmd["namespace"] = ns
	doc["metadata"] = nmd
	return manifest.Object{Doc: doc, Source: o.Source}
}

func explainOf(r *provision.Resource) ResourceExplain {
	e := ResourceExplain{UID: string(r.Uid), Workload: r.SourceWorkload, Shared: r.Shared, Criterion: -1}
	if r.Shared {
		e.Workload = ""
	}
	if m := r.Match; m != nil {
		e.Trace = m.Trace
		e.Criterion = m.Criterion
		e.Text = m.Explain()
		if m.Definition != nil {
			e.Definition, e.File = m.Definition.ID, m.Definition.File
		}
	}
	return e
}

func platformFile(r *rules.Rules) string {
	if r.Platform.File == "" {
		return "(default platform)"
	}
	return r.Platform.File
}

// unknownEnv says that env is not in the platform file, with the closest name when it looks
// like a typo.
func unknownEnv(r *rules.Rules, env string) error {
	names := envNames(r)
	hint := ""
	if s := rules.Suggest(env, names); s != "" {
		hint = fmt.Sprintf("did you mean %q? ", s)
	}
	return invalidf(ErrInput, "environment %q is not in %s: %suse one of %s, or add it to environments there",
		env, platformFile(r), hint, strings.Join(names, ", "))
}

// inputError is an error a user sees: Error is the message alone (naming the file, the
// field and the fix, without a sentinel's text tacked on), and errors.Is matches the
// sentinel (ErrInput, ErrInvalidScore).
type inputError struct {
	msg      string
	sentinel error
}

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return e.sentinel }

// invalidf is an inputError with sentinel and a formatted message.
func invalidf(sentinel error, format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}

func envNames(r *rules.Rules) []string {
	var names []string
	for _, e := range r.Platform.Environments {
		names = append(names, e.Name)
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
