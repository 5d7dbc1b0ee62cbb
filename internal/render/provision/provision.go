// Package provision owns the Match stage and the resource graph of rendering: for the Score
// workloads of one app in one environment it finds every resource (private, shared by Score
// id, or required by a definition), matches each to a resource definition with package rules,
// provisions them in topological order with the template or echo driver, and returns their
// outputs and manifests.
//
// It is pure: no I/O, clock or randomness. Guids and whatever provisioner templates draw
// from sprig's random functions are derived from hashes of stable inputs, so the same input
// always gives the same result. It does not convert workloads (package convert), check
// manifests for plaintext Secrets (package render does that for every object) or lay out
// files (package envtree).
package provision

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/score-spec/score-go/framework"
	"github.com/score-spec/score-go/types"

	"github.com/scorebot/scorebot/internal/render/manifest"
	"github.com/scorebot/scorebot/internal/render/rules"
	"github.com/scorebot/scorebot/internal/render/secretref"
)

// Workload is one Score workload to render.
type Workload struct {
	Name string // metadata.name
	File string // the Score file, for error messages
	Spec *types.Workload
}

// Input is everything one Provision call needs.
type Input struct {
	Rules     *rules.Rules
	Env       rules.Environment // Name = env_id, Type = env_type
	AppID     string
	Namespace string // the app's namespace: .Namespace of private resources' templates
	// SharedNamespace is the environment's shared namespace (the platform's NamespaceFor
	// render.SharedApp): .Namespace of shared resources' templates, where their objects go.
	// Empty means Namespace.
	SharedNamespace string
	Workloads       []Workload // any order
}

// Resource is one provisioned resource.
type Resource struct {
	Uid   framework.ResourceUid `json:"uid"`
	Type  string                `json:"type"`
	Class string                `json:"class"`
	ID    string                `json:"id"` // Uid.Id(): "<workload>.<name>" or the Score id
	// Shared is set for a resource with an explicit id (a Score `id` or a Requirement ID):
	// one per environment for every workload and app that declares it.
	Shared bool `json:"shared,omitempty"`
	// SourceWorkload is the first workload (by name) declaring the resource, or carrying its
	// params when only some declarations do; for a resource that only a definition requires,
	// the source workload of the resource requiring it.
	SourceWorkload string `json:"sourceWorkload"`
	// Name is the resource's name in SourceWorkload ("" for a resource only a definition
	// requires).
	Name     string         `json:"name,omitempty"`
	Params   map[string]any `json:"params,omitempty"` // after ${...} substitution
	Metadata map[string]any `json:"metadata,omitempty"`
	// Match is how the definition was chosen.
	Match *rules.Match `json:"-"`
	// DependsOn lists the resources provisioned before this one because its params refer to
	// them or its definition requires them, sorted.
	DependsOn []framework.ResourceUid `json:"dependsOn,omitempty"`
	// RequiredBy names the resources whose definitions required this one ("<uid> as <key>"),
	// sorted.
	RequiredBy []string `json:"requiredBy,omitempty"`
	Guid       string   `json:"guid"`
	// Init and State are what the init and state templates produced. They may hold values a
	// template generated, such as score-k8s's passwords: never write them anywhere.
	Init    map[string]any `json:"init,omitempty"`
	State   map[string]any `json:"state,omitempty"`
	Outputs map[string]any `json:"outputs"`
	// Manifests carry Source "definition <id> (<file>)".
	Manifests []manifest.Object `json:"manifests,omitempty"`

	// requires maps the definition's Requires keys to the uids of those resources.
	requires map[string]framework.ResourceUid
}

// Result is the outcome of one Provision call.
type Result struct {
	// Resources in provisioning (topological) order, ties broken by Uid.
	Resources []*Resource `json:"resources"`
	// Shared is the shared state after every resource ran its shared template.
	Shared map[string]any `json:"shared"`

	// names maps workload → resource name → resource.
	names map[string]map[string]*Resource
}

// Outputs gives, for one workload, its resource names → outputs: what
// ${resources.<name>.<key>} reads. It is nil for an unknown workload.
func (r *Result) Outputs(workload string) map[string]map[string]any {
	names, ok := r.names[workload]
	if !ok {
		return nil
	}
	out := make(map[string]map[string]any, len(names))
	for name, res := range names {
		out[name] = res.Outputs
	}
	return out
}

// Errors callers can test with errors.Is.
var (
	// ErrCycle: resources depend on each other in a cycle.
	ErrCycle = errors.New("resource dependency cycle")
	// ErrConflict: two workloads declare one shared resource differently.
	ErrConflict = errors.New("conflicting declarations of a shared resource")
	// ErrSecretOutput: a secret output is not a secret reference.
	ErrSecretOutput = errors.New("secret output is not a secret reference")
)

// maxRequireDepth bounds chains of private requirements: a definition that requires a
// private resource of its own type would otherwise make new resources forever.
const maxRequireDepth = 16

// Provision finds, matches and provisions every resource of in.Workloads.
func Provision(in Input) (*Result, error) {
	if in.Rules == nil {
		return nil, errors.New("provision: no rules")
	}
	p := &provisioner{
		in:     in,
		nodes:  map[framework.ResourceUid]*node{},
		result: &Result{Shared: map[string]any{}, names: map[string]map[string]*Resource{}},
		x:      &executor{variants: map[*template.Template]*template.Template{}, regex: regexCache{}},
	}
	if err := p.collect(); err != nil {
		return nil, err
	}
	if err := p.matchAll(); err != nil {
		return nil, err
	}
	order, err := p.sort()
	if err != nil {
		return nil, err
	}
	if err := p.buildTemplateData(); err != nil {
		return nil, err
	}
	p.x.manifests = newManifestDecoder(runtime.GOMAXPROCS(0) - 1)
	var loopErr error
	for _, uid := range order {
		if loopErr = p.provision(p.nodes[uid]); loopErr != nil {
			break
		}
		p.result.Resources = append(p.result.Resources, p.nodes[uid].res)
	}
	// A manifests error of an earlier resource is reported before a later resource's error,
	// as if everything ran in order.
	if err := p.x.manifests.wait(); err != nil {
		return nil, err
	}
	if loopErr != nil {
		return nil, loopErr
	}
	return p.result, nil
}

// provisioner holds the state of one Provision call.
type provisioner struct {
	in        Input
	workloads []Workload // sorted by name
	byName    map[string]*Workload
	nodes     map[framework.ResourceUid]*node
	result    *Result
	x         *executor

	workloadMetadata map[string]any
	workloadServices map[string]NetworkService
}

// node is a resource in the graph while it is being built.
type node struct {
	res *Resource
	// rawParams are the params as declared (placeholders unresolved).
	rawParams map[string]any
	// declared by a workload (as opposed to only required by a definition).
	declared bool
	// declaredBy is the first workload declaring it (for error messages) and its file.
	declaredFile string
	// depth counts private requirements from a declared resource down to this one.
	depth int
	deps  map[framework.ResourceUid]bool
}

// collect creates a node per declared resource, merging declarations of one shared uid.
func (p *provisioner) collect() error {
	p.workloads = slices.Clone(p.in.Workloads)
	slices.SortFunc(p.workloads, func(a, b Workload) int { return strings.Compare(a.Name, b.Name) })
	p.byName = make(map[string]*Workload, len(p.workloads))
	for i := range p.workloads {
		w := &p.workloads[i]
		if w.Spec == nil {
			return fmt.Errorf("workload %s (%s): no spec", w.Name, w.File)
		}
		if prev, dup := p.byName[w.Name]; dup {
			return fmt.Errorf("workload name %q is used by both %s and %s: rename one (metadata.name)", w.Name, prev.File, w.File)
		}
		p.byName[w.Name] = w
		names := map[string]*Resource{}
		p.result.names[w.Name] = names
		for _, resName := range sortedKeys(w.Spec.Resources) {
			decl := w.Spec.Resources[resName]
			where := fmt.Sprintf("workload %s (%s): resources.%s", w.Name, w.File, resName)
			if decl.Type == "" {
				return fmt.Errorf("%s: type is empty: set the resource type", where)
			}
			params, err := normalizeMap(decl.Params)
			if err != nil {
				return fmt.Errorf("%s.params: %w", where, err)
			}
			metadata, err := normalizeMap(decl.Metadata)
			if err != nil {
				return fmt.Errorf("%s.metadata: %w", where, err)
			}
			uid := framework.NewResourceUid(w.Name, resName, decl.Type, decl.Class, decl.Id)
			n, exists := p.nodes[uid]
			if !exists {
				n = &node{
					res: &Resource{
						Uid: uid, Type: uid.Type(), Class: uid.Class(), ID: uid.Id(),
						Shared:         decl.Id != nil,
						SourceWorkload: w.Name,
						Name:           resName,
						Metadata:       metadata,
					},
					rawParams:    params,
					declared:     true,
					declaredFile: w.File,
					deps:         map[framework.ResourceUid]bool{},
				}
				p.nodes[uid] = n
			} else {
				other := fmt.Sprintf("workload %s (%s): resources.%s", n.res.SourceWorkload, n.declaredFile, n.res.Name)
				if len(params) > 0 && len(n.rawParams) > 0 && !reflect.DeepEqual(params, n.rawParams) {
					return fmt.Errorf("%s and %s declare the shared resource %s with different params: give them the same params, or set params in one of them only: %w", other, where, uid, ErrConflict)
				}
				if len(metadata) > 0 && len(n.res.Metadata) > 0 && !reflect.DeepEqual(metadata, n.res.Metadata) {
					return fmt.Errorf("%s and %s declare the shared resource %s with different metadata: give them the same metadata, or set it in one of them only: %w", other, where, uid, ErrConflict)
				}
				if len(n.rawParams) == 0 && len(params) > 0 {
					// Params resolve in the context of the workload that sets them.
					n.rawParams = params
					n.res.SourceWorkload, n.res.Name, n.declaredFile = w.Name, resName, w.File
				}
				if len(n.res.Metadata) == 0 {
					n.res.Metadata = metadata
				}
			}
			names[resName] = n.res
		}
	}
	// Params may refer to other resources of their source workload.
	for _, uid := range sortedKeys(p.nodes) {
		n := p.nodes[uid]
		refs, err := referencedResources(n.rawParams)
		if err != nil {
			return fmt.Errorf("%s.params: %w", n.where(), err)
		}
		for _, ref := range refs {
			target, ok := p.result.names[n.res.SourceWorkload][ref]
			if !ok {
				return fmt.Errorf("%s.params: ${resources.%s...} refers to no resource of workload %s: declare it under resources, or fix the name", n.where(), ref, n.res.SourceWorkload)
			}
			n.deps[target.Uid] = true
		}
	}
	return nil
}

// where names a declared resource for error messages.
func (n *node) where() string {
	return fmt.Sprintf("workload %s (%s): resources.%s", n.res.SourceWorkload, n.declaredFile, n.res.Name)
}

// describe names any resource for error messages: where it is declared, or what requires it.
func (n *node) describe() string {
	if n.declared {
		return n.where()
	}
	return fmt.Sprintf("resource %s (required by %s)", n.res.Uid, strings.Join(n.res.RequiredBy, ", "))
}

// matchAll matches every node to a definition, adding the resources definitions require,
// until no new ones appear. Nodes are matched in uid order, so the outcome is stable.
func (p *provisioner) matchAll() error {
	done := map[framework.ResourceUid]bool{}
	for {
		var pending []framework.ResourceUid
		for uid := range p.nodes {
			if !done[uid] {
				pending = append(pending, uid)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		slices.Sort(pending)
		for _, uid := range pending {
			done[uid] = true
			if err := p.match(p.nodes[uid]); err != nil {
				return err
			}
		}
	}
}

func (p *provisioner) match(n *node) error {
	r := n.res
	m, err := p.in.Rules.Match(rules.Context{
		Type: r.Type, Class: r.Class, ResID: r.ID,
		AppID: p.in.AppID, EnvID: p.in.Env.Name, EnvType: p.in.Env.Type,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", n.describe(), err)
	}
	def := m.Definition
	r.Match = m
	switch def.Driver {
	case rules.DriverTemplate, rules.DriverEcho:
	case rules.DriverCommand:
		return fmt.Errorf("%s: matched %s (%s), a score-k8s cmd:// provisioner: Scorebot never runs commands; write a template:// provisioner or a resource definition for type %s: %w", n.describe(), def.ID, def.File, r.Type, rules.ErrUnsupported)
	default:
		return fmt.Errorf("%s: matched %s (%s) with driver %q, which Scorebot cannot run: use driver template or echo: %w", n.describe(), def.ID, def.File, def.Driver, rules.ErrUnsupported)
	}
	if len(def.SupportedParams) > 0 {
		for _, k := range sortedKeys(n.rawParams) {
			if !slices.Contains(def.SupportedParams, k) {
				return fmt.Errorf("%s.params.%s: definition %s (%s) does not support param %q (it supports: %s): remove it, or use a definition that supports it", n.describe(), k, def.ID, def.File, k, strings.Join(def.SupportedParams, ", "))
			}
		}
	}
	for _, key := range sortedKeys(def.Requires) {
		req := def.Requires[key]
		class := req.Class
		if class == "" {
			class = "default"
		}
		id, shared := req.ID, req.ID != ""
		depth := 0
		if !shared {
			id = r.ID + "." + key
			depth = n.depth + 1
			if depth > maxRequireDepth {
				return fmt.Errorf("%s: definition %s (%s) requires %q, which leads to a chain of more than %d private requirements: give the requirement an id, or break the chain", n.describe(), def.ID, def.File, key, maxRequireDepth)
			}
		}
		uid := framework.NewResourceUid("", "", req.Type, &class, &id)
		dep, ok := p.nodes[uid]
		if !ok {
			dep = &node{
				res: &Resource{
					Uid: uid, Type: uid.Type(), Class: uid.Class(), ID: uid.Id(),
					Shared:         shared,
					SourceWorkload: r.SourceWorkload,
				},
				depth: depth,
				deps:  map[framework.ResourceUid]bool{},
			}
			p.nodes[uid] = dep
		}
		dep.res.RequiredBy = append(dep.res.RequiredBy, fmt.Sprintf("%s as %s", r.Uid, key))
		slices.Sort(dep.res.RequiredBy)
		if r.requires == nil {
			r.requires = map[string]framework.ResourceUid{}
		}
		r.requires[key] = uid
		n.deps[uid] = true
	}
	return nil
}

// sort orders the nodes so that every resource comes after those it depends on, ties broken
// by uid (Kahn's algorithm, always taking the smallest ready uid).
func (p *provisioner) sort() ([]framework.ResourceUid, error) {
	indeg := make(map[framework.ResourceUid]int, len(p.nodes))
	dependents := make(map[framework.ResourceUid][]framework.ResourceUid, len(p.nodes))
	for uid, n := range p.nodes {
		indeg[uid] += 0
		for dep := range n.deps {
			indeg[uid]++
			dependents[dep] = append(dependents[dep], uid)
		}
	}
	ready := &uidHeap{}
	for uid, d := range indeg {
		if d == 0 {
			ready.push(uid)
		}
	}
	order := make([]framework.ResourceUid, 0, len(p.nodes))
	for ready.len() > 0 {
		uid := ready.pop()
		order = append(order, uid)
		for _, next := range dependents[uid] {
			indeg[next]--
			if indeg[next] == 0 {
				ready.push(next)
			}
		}
	}
	if len(order) < len(p.nodes) {
		return nil, p.cycleError(indeg)
	}
	for _, uid := range order {
		n := p.nodes[uid]
		n.res.DependsOn = make([]framework.ResourceUid, 0, len(n.deps))
		for dep := range n.deps {
			n.res.DependsOn = append(n.res.DependsOn, dep)
		}
		slices.Sort(n.res.DependsOn)
		if len(n.res.DependsOn) == 0 {
			n.res.DependsOn = nil
		}
	}
	return order, nil
}

// cycleError finds a cycle among the nodes left with dependencies and names it, starting
// from its smallest uid.
func (p *provisioner) cycleError(indeg map[framework.ResourceUid]int) error {
	var left []framework.ResourceUid
	for uid, d := range indeg {
		if d > 0 {
			left = append(left, uid)
		}
	}
	slices.Sort(left)
	// Walk from the smallest blocked node along its smallest blocked dependency until a node
	// repeats; every blocked node has one, so this ends on a cycle.
	pos := map[framework.ResourceUid]int{}
	var path []framework.ResourceUid
	cur := left[0]
	for {
		if i, seen := pos[cur]; seen {
			path = path[i:]
			break
		}
		pos[cur] = len(path)
		path = append(path, cur)
		var deps []framework.ResourceUid
		for dep := range p.nodes[cur].deps {
			if indeg[dep] > 0 {
				deps = append(deps, dep)
			}
		}
		slices.Sort(deps)
		cur = deps[0]
	}
	// Rotate so the cycle starts at its smallest uid.
	start := 0
	for i, uid := range path {
		if uid < path[start] {
			start = i
		}
	}
	path = append(path[start:], path[:start]...)
	names := make([]string, 0, len(path)+1)
	for _, uid := range path {
		names = append(names, string(uid))
	}
	names = append(names, string(path[0]))
	return fmt.Errorf("resources depend on each other in a cycle: %s: break it by removing a ${resources...} param reference or a definition's requires: %w", strings.Join(names, " → "), ErrCycle)
}

// buildTemplateData prepares what every template run sees about the workloads.
func (p *provisioner) buildTemplateData() error {
	p.workloadMetadata = make(map[string]any, len(p.workloads))
	p.workloadServices = make(map[string]NetworkService, len(p.workloads))
	for _, w := range p.workloads {
		md, err := normalizeMap(w.Spec.Metadata)
		if err != nil {
			return fmt.Errorf("workload %s (%s): metadata.%w", w.Name, w.File, err)
		}
		p.workloadMetadata[w.Name] = md
		ns := NetworkService{ServiceName: w.Name, Ports: map[string]ServicePort{}}
		if w.Spec.Service != nil {
			for name, sp := range w.Spec.Service.Ports {
				port := ServicePort{Name: name, Port: sp.Port, TargetPort: sp.Port, Protocol: string(types.ServicePortProtocolTCP)}
				if sp.TargetPort != nil {
					port.TargetPort = *sp.TargetPort
				}
				if sp.Protocol != nil {
					port.Protocol = string(*sp.Protocol)
				}
				ns.Ports[name] = port
			}
			// Also by number, where no name is that number (as score-k8s does).
			for _, name := range sortedKeys(w.Spec.Service.Ports) {
				num := strconv.Itoa(w.Spec.Service.Ports[name].Port)
				if _, taken := ns.Ports[num]; !taken {
					ns.Ports[num] = ns.Ports[name]
				}
			}
		}
		p.workloadServices[w.Name] = ns
	}
	return nil
}

// provision runs the matched definition for one resource whose dependencies are done.
func (p *provisioner) provision(n *node) error {
	r := n.res
	def := r.Match.Definition
	r.Guid = guid(p.in.Env.Name, p.in.AppID, r.Uid, r.Shared)

	if len(n.rawParams) > 0 {
		w := p.byName[r.SourceWorkload]
		md, _ := p.workloadMetadata[w.Name].(map[string]any)
		params, err := substitute(n.rawParams, lookupFunc(md, p.result.Outputs(w.Name)))
		if err != nil {
			return fmt.Errorf("%s.params.%w", n.where(), err)
		}
		r.Params = params.(map[string]any)
	}

	switch def.Driver {
	case rules.DriverEcho:
		r.Outputs = deepCopyMap(def.Values)
		if r.Outputs == nil {
			r.Outputs = map[string]any{}
		}
	case rules.DriverTemplate:
		data := &Data{
			Guid: r.Guid, Uid: string(r.Uid), Type: r.Type, Class: r.Class, Id: r.ID,
			Params:           r.Params,
			Metadata:         r.Metadata,
			Init:             map[string]any{},
			State:            map[string]any{},
			Shared:           p.result.Shared,
			SourceWorkload:   r.SourceWorkload,
			WorkloadMetadata: p.workloadMetadata,
			WorkloadServices: p.workloadServices,
			Namespace:        p.namespaceOf(r),
			App:              p.in.AppID,
			Env:              Env{Name: p.in.Env.Name, Type: p.in.Env.Type},
			Resources:        make(map[string]map[string]any, len(r.requires)),
		}
		if data.Params == nil {
			data.Params = map[string]any{}
		}
		if data.Metadata == nil {
			data.Metadata = map[string]any{}
		}
		for key, uid := range r.requires {
			data.Resources[key] = p.nodes[uid].res.Outputs
		}
		tr := &templateRun{def: def, data: data, x: p.x}
		if err := tr.run(r, p.result.Shared); err != nil {
			return err
		}
	}
	return checkOutputs(r, def)
}

// namespaceOf is the namespace a resource's objects go to: the shared namespace for a
// shared resource, the app's for the others.
func (p *provisioner) namespaceOf(r *Resource) string {
	if r.Shared && p.in.SharedNamespace != "" {
		return p.in.SharedNamespace
	}
	return p.in.Namespace
}

// checkOutputs enforces the definition's promises about its outputs.
func checkOutputs(r *Resource, def *rules.Definition) error {
	for _, name := range def.ExpectedOutputs {
		if _, ok := r.Outputs[name]; !ok {
			return fmt.Errorf("resource %s: definition %s (%s): expected output %q is missing: produce it in outputs, or drop it from expected_outputs", r.Uid, def.ID, def.File, name)
		}
	}
	for _, name := range def.SecretOutputs {
		v, ok := outputAt(r.Outputs, name)
		if !ok {
			return fmt.Errorf("resource %s: definition %s (%s): secret output %q is missing: produce it in outputs as {{ encodeSecretRef \"<secret name>\" \"<key>\" }}: %w", r.Uid, def.ID, def.File, name, ErrSecretOutput)
		}
		if s, isString := v.(string); !isString || !isWholeRef(s) {
			// Never print the value: it may be the very secret.
			return fmt.Errorf("resource %s: definition %s (%s): output %q is declared secret but is not a secret reference: never put a secret value in outputs; return {{ encodeSecretRef \"<secret name>\" \"<key>\" }} naming a Secret that something in the cluster materialises: %w", r.Uid, def.ID, def.File, name, ErrSecretOutput)
		}
	}
	return nil
}

func isWholeRef(s string) bool {
	_, ok := secretref.Whole(s)
	return ok
}

// outputAt finds an output by name, or by dotted path for a nested one.
func outputAt(outputs map[string]any, name string) (any, bool) {
	if v, ok := outputs[name]; ok {
		return v, true
	}
	var cur any = outputs
	for _, k := range strings.Split(name, ".") {
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, false
		}
		if cur, isMap = m[k]; !isMap {
			return nil, false
		}
	}
	return cur, true
}
