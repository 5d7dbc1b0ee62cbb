// Package standin is a local stand-in for the GitHub REST endpoints Scorebot uses: commit
// statuses and combined status, check runs, deployments and their statuses, issue comments and
// commit comments and their reactions, pull requests (create, get, list, update, merge), collaborators' permission
// levels and GitHub App installation tokens. It is an http.Handler for the GitHub Enterprise
// form of base URL (mount it at /api/v3/), used through go-github by `bot dev` and the tests.
//
// It owns only its in-memory state (optionally persisted as JSON in a directory so a restart
// resumes) and answers reads the way GitHub does, with the fields GitHub's REST description
// requires. It must not touch git or NATS: a merge calls the Merge hook (the git host merges in
// the bare repo) and events go out through the Emit hook (`bot dev` signs and delivers them).
//
// Use:
//
//	gh, err := standin.New(standin.Options{Dir: dataDir, DevUser: "dev"})
//	gh.URL = "http://" + addr                  // public root, for url/html_url fields
//	gh.HeadOf = ...; gh.Merge = ...; gh.Emit = ... // git host and webhook emitter
//	mux.Handle("/api/v3/", gh)
//	client, err := forge.New(forge.Config{BaseURL: "http://" + addr + "/api/v3/", Token: "as:scorebot[bot]"})
//
// Tokens: "as:<login>" acts as login (what `bot dev comment --as USER` sends); SetToken maps
// others; issued App tokens act as <slug>[bot]; anything else is DefaultBot unless RequireAuth.
// Comments may be posted on any issue number (GitHub would need the issue to exist).
package standin

import (
	"encoding/json"
	"time"
)

// PullRequest is a pull request as the stand-in keeps it.
type PullRequest struct {
	Owner          string     `json:"owner"`
	Repo           string     `json:"repo"`
	ID             int64      `json:"id"`
	Number         int        `json:"number"`
	Title          string     `json:"title"`
	Body           string     `json:"body"`
	Head           string     `json:"head"` // branch
	Base           string     `json:"base"` // branch
	HeadSHA        string     `json:"head_sha"`
	BaseSHA        string     `json:"base_sha"`
	State          string     `json:"state"` // open or closed
	Draft          bool       `json:"draft"`
	Merged         bool       `json:"merged"`
	MergeCommitSHA string     `json:"merge_commit_sha,omitempty"`
	User           string     `json:"user"`
	MergedBy       string     `json:"merged_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
	MergedAt       *time.Time `json:"merged_at,omitempty"`
}

// Comment is an issue or pull request comment (Issue set), or a commit comment (CommitID
// set).
type Comment struct {
	ID        int64      `json:"id"`
	Issue     int        `json:"issue"`
	CommitID  string     `json:"commit_id,omitempty"`
	Body      string     `json:"body"`
	User      string     `json:"user"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Reactions []Reaction `json:"reactions,omitempty"`
}

// Reaction is a reaction to a comment.
type Reaction struct {
	ID        int64     `json:"id"`
	Content   string    `json:"content"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
}

// Status is a commit status.
type Status struct {
	ID          int64     `json:"id"`
	SHA         string    `json:"sha"`
	State       string    `json:"state"`
	Context     string    `json:"context"`
	Description string    `json:"description,omitempty"`
	TargetURL   string    `json:"target_url,omitempty"`
	Creator     string    `json:"creator"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CheckRun is a check run.
type CheckRun struct {
	ID          int64      `json:"id"`
	HeadSHA     string     `json:"head_sha"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  string     `json:"conclusion,omitempty"`
	Title       string     `json:"title,omitempty"`
	Summary     string     `json:"summary,omitempty"`
	Text        string     `json:"text,omitempty"`
	DetailsURL  string     `json:"details_url,omitempty"`
	ExternalID  string     `json:"external_id,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// Deployment is a deployment and its statuses, oldest first.
type Deployment struct {
	ID          int64              `json:"id"`
	SHA         string             `json:"sha"`
	Ref         string             `json:"ref"`
	Task        string             `json:"task"`
	Environment string             `json:"environment"`
	Description string             `json:"description,omitempty"`
	Payload     json.RawMessage    `json:"payload,omitempty"`
	Production  bool               `json:"production_environment"`
	Transient   bool               `json:"transient_environment"`
	Creator     string             `json:"creator"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
	Statuses    []DeploymentStatus `json:"statuses,omitempty"`
}

// DeploymentStatus is one state of a deployment.
type DeploymentStatus struct {
	ID             int64     `json:"id"`
	State          string    `json:"state"`
	Description    string    `json:"description,omitempty"`
	EnvironmentURL string    `json:"environment_url,omitempty"`
	LogURL         string    `json:"log_url,omitempty"`
	Creator        string    `json:"creator"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// repoState is everything kept for one repository.
type repoState struct {
	NextNumber   int            `json:"next_number"`
	PullRequests []*PullRequest `json:"pull_requests,omitempty"`
	Comments     []*Comment     `json:"comments,omitempty"`
	// CommitComments are the comments on commits, oldest first.
	CommitComments []*Comment        `json:"commit_comments,omitempty"`
	Statuses       []*Status         `json:"statuses,omitempty"`
	CheckRuns      []*CheckRun       `json:"check_runs,omitempty"`
	Deployments    []*Deployment     `json:"deployments,omitempty"`
	Permissions    map[string]string `json:"permissions,omitempty"` // user → admin, maintain, write, triage, read, none
}

// state is everything the stand-in keeps; persisted as one JSON document.
type state struct {
	NextID int64                 `json:"next_id"`
	Repos  map[string]*repoState `json:"repos"`           // "owner/name"
	Tokens map[string]string     `json:"-"`               // bearer token → login; never persisted
	Users  map[string]int64      `json:"users,omitempty"` // login → id
}
