// Package rules owns the platform team's rules repo: the platform file (environments in
// promotion order, the env repo, repo → app mapping), resource definitions, workload
// definitions and score-k8s provisioner files; loading and validating them; and matching a
// resource or workload context to the most specific definition, with an explanation.
//
// It is pure: it reads an fs.FS and never touches Git, NATS, GitHub, the clock or randomness.
package rules

import "text/template"

// Rules is a loaded, validated rules repo.
type Rules struct {
	Platform Platform
	// Definitions holds resource definitions in a stable order: definition files sorted by
	// path, definitions in file order; provisioner-file entries follow, each marked
	// Provisioner.
	Definitions []*Definition
	// Workloads holds workload definitions, stable order as above.
	Workloads []*WorkloadDefinition
}

// Platform is the platform file.
type Platform struct {
	// Environments in promotion order; the first is deployed from the default branch.
	Environments []Environment
	EnvRepo      EnvRepo
	// Apps maps source repos to app ids and score files. A repo not listed uses its name as
	// the app id and score.yaml at its root.
	Apps []AppMapping
	// File is the path of the platform file inside the rules repo ("" when defaulted).
	File string
}

// Environment is one deployment target.
type Environment struct {
	Name string // env_id, a DNS label
	Type string // env_type: development, staging, production, preview, or free-form
	// Namespace is a pattern for the Kubernetes namespace of an app in this environment,
	// with {app} and {env} expanded: default "{app}-{env}".
	Namespace string
	// Reach is how new versions arrive: ReachAuto (deployed from the app's default branch)
	// or ReachPromotion (by a promotion PR from the previous environment).
	Reach string
	// AutoMerge lets the bot merge its own promotion PRs into this environment.
	AutoMerge bool
}

const (
	ReachAuto      = "auto"
	ReachPromotion = "promotion"
)

// EnvRepo is where rendered environments are committed.
type EnvRepo struct {
	URL    string
	Branch string // default "main"
	Path   string // base path inside the repo, default "" (repo root)
}

// AppMapping maps a source repo ("owner/name") to an app id and its score files.
type AppMapping struct {
	Repo       string
	AppID      string
	ScoreFiles []string // globs relative to the repo root; default ["score.yaml"]
}

// Criterion restricts where a definition applies. An empty field matches anything.
type Criterion struct {
	AppID   string
	EnvType string
	EnvID   string
	ResID   string
	Class   string
}

// Driver names.
const (
	DriverTemplate = "template"
	DriverEcho     = "echo"
	// DriverCommand marks a score-k8s cmd:// provisioner. It is loaded so that a rules repo
	// copied from score-k8s stays valid, but Scorebot never runs commands: matching one is an
	// error wrapping ErrUnsupported.
	DriverCommand = "cmd"
)

// Definition says how a resource type (and class) is provided in the contexts its criteria
// select.
type Definition struct {
	ID    string // unique across the rules repo; for a provisioner, its uri
	Type  string
	Class string // "" means default for a definition; for a provisioner "" matches any class
	// ResID, for provisioners only: "" matches any id.
	ResID    string
	Criteria []Criterion // empty: matches every context (lowest specificity)
	Driver   string      // DriverTemplate, DriverEcho, or DriverCommand (provisioners only)
	// Description is free text from the rules repo.
	Description string

	// Template driver: each parsed once at load, nil when absent. They run in the order
	// Init, State, Shared, Outputs, Manifests with the data of package provision.
	Init, State, Shared, Outputs, Manifests *template.Template

	// Echo driver: the outputs, given as values.
	Values map[string]any

	// SecretOutputs names outputs whose values are secret references
	// (see package secretref); they are never written in plaintext.
	SecretOutputs []string
	// ExpectedOutputs, SupportedParams as in score-k8s provisioners (may be empty).
	ExpectedOutputs []string
	SupportedParams []string

	// Requires names other resources this definition needs; provisioning this resource first
	// provisions each (matched in the same app/env context) and its outputs are available to the
	// templates as .Resources.<key>. A cycle is an error naming the cycle.
	Requires map[string]Requirement

	// File is the path inside the rules repo this definition came from.
	File string
	// Line is the line in File where the definition starts (1-based, 0 when unknown).
	Line int
	// TemplateLines maps a template field ("init", "state", "shared", "outputs",
	// "manifests") to the line in File of that template's first line, so that an error at
	// template line n is at file line TemplateLines[field]+n-1.
	TemplateLines map[string]int
	// Provisioner marks an entry from a score-k8s *.provisioners.yaml file: it matches every
	// environment, ranks below any matching definition, and among provisioners the first
	// match wins.
	Provisioner bool
}

// Requirement is one entry of Definition.Requires: the resource to provision first.
type Requirement struct {
	Type  string
	Class string // "" = default
	ID    string // "" = private to the dependent: "<dependent res id>.<key>"
}

// WorkloadDefinition adjusts a workload's own objects in the contexts its criteria select.
// Matching ones apply from least to most specific; later values override earlier ones.
type WorkloadDefinition struct {
	ID                 string
	Criteria           []Criterion
	Labels             map[string]string
	Annotations        map[string]string
	ServiceAccountName string
	Replicas           *int32
	// PodSecurityContext and SecurityContext are k8s.io/api/core/v1 PodSecurityContext and
	// SecurityContext in YAML form; package convert decodes them strictly.
	PodSecurityContext map[string]any
	SecurityContext    map[string]any
	Description        string
	File               string
	Line               int // line in File where the definition starts
}

// Context is what a resource or workload is matched against.
type Context struct {
	Type    string // resource type; "" for workload matching
	Class   string // "" means "default"
	ResID   string // "<workload>.<resource name>" for private resources, the Score id for shared
	AppID   string
	EnvID   string
	EnvType string
}

// Match is the outcome of matching one context.
type Match struct {
	Definition *Definition
	// Criterion is the index into Definition.Criteria that matched, or -1 when the definition
	// has no criteria or is a provisioner.
	Criterion int
	// Trace explains every candidate of the same type: why it won or lost. It is stable.
	Trace []Candidate
	// Context is what was matched (Class defaulted to "default").
	Context Context
}

// Candidate is one line of a match explanation.
type Candidate struct {
	Definition string // Definition.ID
	File       string
	Line       int    // line in File where the definition starts
	Criterion  int    // index of the best criterion considered, -1 if none
	Outcome    string // "matched", "lost to <id>: <reason>", "class x ≠ y", "env_id staging ≠ production", ...
	// Won marks the candidate that was chosen.
	Won bool
}
