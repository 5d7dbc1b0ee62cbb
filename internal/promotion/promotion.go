// Package promotion owns the pure parts of promotion between environments: the names of the
// bot's branches in the env repo, which environment follows which, the state record kept per
// app and environment, the `/scorebot promote|rollback` arguments, the provenance and
// rejection records read back from Git, and the Markdown description of a promotion or
// rollback PR.
//
// It is pure: plain values in, values out. It must not read Git, talk to GitHub or NATS,
// render anything, read the clock or use randomness; package pipeline's promotion jobs do
// that and call it.
package promotion

import (
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/scorebot/scorebot/internal/render/envtree"

	"github.com/scorebot/scorebot/internal/render/rules"
)

// Branch prefixes of the env repo's bot-owned branches (all under "scorebot/", the only
// prefix the bot ever force-updates).
const (
	PromotePrefix  = "scorebot/promote/"
	RollbackPrefix = "scorebot/rollback/"
	RejectedPrefix = "scorebot/rejected/"
	RerenderPrefix = "scorebot/rerender/"
)

// Kinds of bot branch.
const (
	KindPromote  = "promote"
	KindRollback = "rollback"
	KindRejected = "rejected"
	KindRerender = "rerender"
)

// Exported errors, for errors.Is.
var (
	// ErrUnknownEnv: the environment is not in the rules repo's platform file.
	ErrUnknownEnv = errors.New("unknown environment")
	// ErrNotPromotable: the environment is not reached by promotion.
	ErrNotPromotable = errors.New("environment is not reached by promotion")
	// ErrUsage: the command's arguments do not parse.
	ErrUsage = errors.New("invalid command")
)

// Branch is the promotion branch of app into env.
func Branch(app, env string) string { return PromotePrefix + app + "/" + env }

// RollbackBranch is the rollback branch of app in env.
func RollbackBranch(app, env string) string { return RollbackPrefix + app + "/" + env }

// RejectedBranch holds the record of the last rejected promotion of app into env.
func RejectedBranch(app, env string) string { return RejectedPrefix + app + "/" + env }

// RerenderBranch holds the re-render of every app in env with new rules.
func RerenderBranch(env string) string { return RerenderPrefix + env }

// ParseBranch splits a bot branch into its kind, app and environment (a re-render branch
// has no app).
func ParseBranch(branch string) (kind, app, env string, ok bool) {
	if env, found := strings.CutPrefix(branch, RerenderPrefix); found {
		if env == "" || strings.Contains(env, "/") {
			return "", "", "", false
		}
		return KindRerender, "", env, true
	}
	for _, k := range []struct{ prefix, kind string }{
		{PromotePrefix, KindPromote}, {RollbackPrefix, KindRollback}, {RejectedPrefix, KindRejected},
	} {
		rest, found := strings.CutPrefix(branch, k.prefix)
		if !found {
			continue
		}
		app, env, found = strings.Cut(rest, "/")
		if !found || app == "" || env == "" || strings.Contains(env, "/") {
			return "", "", "", false
		}
		return k.kind, app, env, true
	}
	return "", "", "", false
}

// Step is one promotion: from the environment before To, into To.
type Step struct {
	From, To rules.Environment
}

// StepInto returns the promotion into env: env must be reached by promotion and have an
// environment before it.
func StepInto(envs []rules.Environment, env string) (Step, error) {
	for i, e := range envs {
		if e.Name != env {
			continue
		}
		if e.Reach != rules.ReachPromotion || i == 0 {
			return Step{}, fmt.Errorf("%w: %s is deployed from the app's default branch (platform.yaml environments[%d].reach is %q); only environments with reach: promotion take promotion PRs",
				ErrNotPromotable, env, i, reachOr(e.Reach))
		}
		return Step{From: envs[i-1], To: e}, nil
	}
	return Step{}, fmt.Errorf("%w %q: the rules repo's platform.yaml names %s", ErrUnknownEnv, env, envNames(envs))
}

// Next returns the promotion out of env: the environment after it, when that one is reached
// by promotion.
func Next(envs []rules.Environment, env string) (Step, bool) {
	for i, e := range envs {
		if e.Name == env && i+1 < len(envs) && envs[i+1].Reach == rules.ReachPromotion {
			return Step{From: e, To: envs[i+1]}, true
		}
	}
	return Step{}, false
}

func reachOr(r string) string {
	if r == "" {
		return rules.ReachAuto
	}
	return r
}

func envNames(envs []rules.Environment) string {
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	if len(names) == 0 {
		return "no environment"
	}
	return strings.Join(names, ", ")
}

// Record is what the bot knows about one app in one environment: what runs there, the open
// promotion into it, and the last rejected one. It is derived from the env repo alone
// (provenance records and bot branches; the PR number from GitHub) and stored in NATS KV.
type Record struct {
	App string `json:"app"`
	Env string `json:"env"`
	// Deployed is what the environment's branch holds ("" when the app is not there).
	SourceRepo   string `json:"source_repo,omitempty"`
	SourceCommit string `json:"source_commit,omitempty"`
	RulesCommit  string `json:"rules_commit,omitempty"`
	// Pending is the open promotion into this environment, if any.
	Pending *Pending `json:"pending,omitempty"`
	// Rejected is the last promotion into this environment closed without merging.
	Rejected *Rejected `json:"rejected,omitempty"`
}

// Pending is an open promotion PR.
type Pending struct {
	SourceCommit string `json:"source_commit"`
	Branch       string `json:"branch"`
	BranchCommit string `json:"branch_commit"`
	PR           int    `json:"pr,omitempty"`
}

// Rejected is a promotion closed unmerged.
type Rejected struct {
	SourceCommit string `json:"source_commit"`
	BranchCommit string `json:"branch_commit"`
	PR           int    `json:"pr,omitempty"`
}

// Provenance is an app's provenance record (render/envtree writes it beside the app's files).
type Provenance = envtree.Record

// ParseProvenance reads a provenance record; one without a source repo and commit is an
// error (a re-render could not reproduce it).
func ParseProvenance(data []byte) (Provenance, error) {
	return envtree.ParseRecord(data)
}

// RejectionFile is where a rejected-branch commit records the rejection, relative to the
// env repo root (beside the app's folder would be read by Flux's generated kustomizations;
// this path is outside every folder Flux builds).
func RejectionFile(app, env string) string {
	return ".scorebot/rejected/" + app + "/" + env + ".yaml"
}

// Rejection is the record a rejected branch carries.
type Rejection struct {
	App          string `json:"app"`
	Env          string `json:"env"`
	SourceRepo   string `json:"source_repo"`
	SourceCommit string `json:"source_commit"`
	BranchCommit string `json:"branch_commit"`
	PR           int    `json:"pr,omitempty"`
	ClosedBy     string `json:"closed_by,omitempty"`
}

// Marshal encodes r (sorted keys, stable bytes).
func (r Rejection) Marshal() []byte {
	b, _ := yaml.Marshal(r) // plain strings and ints: cannot fail
	return append([]byte("# Written by Scorebot: this promotion was closed without merging.\n"), b...)
}

// ParseRejection reads a rejection record.
func ParseRejection(data []byte) (Rejection, error) {
	var r Rejection
	if err := yaml.Unmarshal(data, &r); err != nil {
		return Rejection{}, fmt.Errorf("rejection record: %w", err)
	}
	if r.SourceCommit == "" {
		return Rejection{}, errors.New("rejection record: source_commit is empty")
	}
	return r, nil
}

// SameCommit reports whether sha (full, or a prefix of at least 7 hex digits) names full.
func SameCommit(full, sha string) bool {
	if len(sha) < 7 || len(sha) > len(full) {
		return false
	}
	return strings.EqualFold(full[:len(sha)], sha)
}
