package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of Event the bot acts on; the values are GitHub's X-GitHub-Event names.
const (
	KindPush                     = "push"
	KindPullRequest              = "pull_request"
	KindIssueComment             = "issue_comment"
	KindCommitComment            = "commit_comment"
	KindInstallation             = "installation"
	KindInstallationRepositories = "installation_repositories"
)

// ErrIgnored reports an event (or action) the bot does not act on. The handler answers 202
// and stores nothing.
var ErrIgnored = errors.New("event not used by scorebot")

// ErrMalformed reports a payload that is not a valid event of its declared type.
var ErrMalformed = errors.New("malformed webhook payload")

// Ref is one side of a pull request: a branch name, its commit and the repo it lives in
// (the head of a PR from a fork lives in another repo).
type Ref struct {
	Ref      string `json:"ref"`
	SHA      string `json:"sha"`
	Repo     string `json:"repo,omitempty"`
	CloneURL string `json:"clone_url,omitempty"`
}

// Event is a GitHub webhook reduced to what the workers need. Fields that do not apply to a
// Kind are empty. The raw payload travels beside it in the Envelope.
type Event struct {
	Delivery string `json:"delivery"`
	Kind     string `json:"kind"`
	Action   string `json:"action,omitempty"`

	// Repo is "owner/name" as GitHub spells it (empty for installation events).
	Repo          string `json:"repo,omitempty"`
	RepoCloneURL  string `json:"repo_clone_url,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`

	// Push: Ref is the full ref ("refs/heads/main"), Branch its branch name when it is one.
	Ref     string `json:"ref,omitempty"`
	Branch  string `json:"branch,omitempty"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after,omitempty"`
	Created bool   `json:"created,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`

	// Pull requests, and comments on them.
	PRNumber int  `json:"pr_number,omitempty"`
	PRHead   *Ref `json:"pr_head,omitempty"`
	PRBase   *Ref `json:"pr_base,omitempty"`
	PRDraft  bool `json:"pr_draft,omitempty"`
	Merged   bool `json:"merged,omitempty"`
	// MergeCommitSHA is set for a merged PR.
	MergeCommitSHA string `json:"merge_commit_sha,omitempty"`

	// Comments (issue_comment on a PR, commit_comment): the comment's id, body and author.
	CommentID     int64  `json:"comment_id,omitempty"`
	CommentBody   string `json:"comment_body,omitempty"`
	CommentAuthor string `json:"comment_author,omitempty"`
	// CommitID is the commented commit of a commit_comment (comment.commit_id).
	CommitID string `json:"commit_id,omitempty"`

	// Installations: Account is the user or organisation the app is installed on;
	// ReposAdded and ReposRemoved list "owner/name" in payload order.
	Account      string   `json:"account,omitempty"`
	ReposAdded   []string `json:"repos_added,omitempty"`
	ReposRemoved []string `json:"repos_removed,omitempty"`

	Sender         string `json:"sender,omitempty"`
	InstallationID int64  `json:"installation_id,omitempty"`

	// ReceivedAt is when the bot accepted the delivery (UTC); informational only.
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// supportedPRAction reports whether the bot acts on a pull_request action.
func supportedPRAction(action string) bool {
	switch action {
	case "opened", "synchronize", "reopened", "ready_for_review", "closed":
		return true
	}
	return false
}

// Supported reports whether eventType is an event kind Normalize may accept.
func Supported(eventType string) bool {
	switch eventType {
	case KindPush, KindPullRequest, KindIssueComment, KindCommitComment, KindInstallation, KindInstallationRepositories:
		return true
	}
	return false
}

// Normalize parses body as a GitHub webhook of type eventType (the X-GitHub-Event header)
// and reduces it to an Event. It returns an error wrapping ErrIgnored for events and actions
// the bot does not use, and ErrMalformed for payloads that are not JSON objects, give a field
// the Event needs the wrong JSON type, or lack the fields the bot needs. ReceivedAt is left
// zero for the caller to set.
//
// It decodes only the fields an Event needs (the wire types below, with go-github's JSON
// names and Go types), not go-github's full event structs: that parse was the largest cost
// of a webhook. The result is the same as go-github's for every payload go-github accepts
// (FuzzNormalizeMatchesGitHub); unlike go-github it does not check the types of fields the
// bot never reads.
func Normalize(eventType, delivery string, body []byte) (*Event, error) {
	if !Supported(eventType) {
		return nil, fmt.Errorf("%w: event %q", ErrIgnored, eventType)
	}
	ev := &Event{Delivery: delivery, Kind: eventType}
	var err error
	switch eventType {
	case KindPush:
		err = normalizeAs(ev, body, normalizePush)
	case KindPullRequest:
		err = normalizeAs(ev, body, normalizePullRequest)
	case KindIssueComment:
		err = normalizeAs(ev, body, normalizeIssueComment)
	case KindCommitComment:
		err = normalizeAs(ev, body, normalizeCommitComment)
	case KindInstallation:
		err = normalizeAs(ev, body, normalizeInstallation)
	case KindInstallationRepositories:
		err = normalizeAs(ev, body, normalizeInstallationRepositories)
	}
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// normalizeAs decodes body into the wire struct W of ev's kind and fills ev from it.
func normalizeAs[W any](ev *Event, body []byte, fill func(*Event, *W) error) error {
	var w W
	if err := decodeWire(ev.Kind, body, &w); err != nil {
		return err
	}
	return fill(ev, &w)
}

func decodeWire(eventType string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s event: %v", ErrMalformed, eventType, err)
	}
	return nil
}

// The wire types hold the webhook fields an Event is made of. Pointers stand where go-github
// has one and the code tells a missing object from an empty one; nil-safe getters keep the
// reduction below as simple as go-github's Get methods did.
type (
	wireUser struct {
		Login string `json:"login"`
	}
	wireInstallation struct {
		ID      int64     `json:"id"`
		Account *wireUser `json:"account"`
	}
	wireRepo struct {
		FullName      string `json:"full_name"`
		CloneURL      string `json:"clone_url"`
		DefaultBranch string `json:"default_branch"`
	}
	wirePush struct {
		Ref          string            `json:"ref"`
		Before       string            `json:"before"`
		After        string            `json:"after"`
		Created      bool              `json:"created"`
		Deleted      bool              `json:"deleted"`
		Repo         *wireRepo         `json:"repository"`
		Sender       *wireUser         `json:"sender"`
		Installation *wireInstallation `json:"installation"`
	}
	wireBranch struct {
		Ref  string    `json:"ref"`
		SHA  string    `json:"sha"`
		Repo *wireRepo `json:"repo"`
	}
	wirePullRequest struct {
		Number         int         `json:"number"`
		Head           *wireBranch `json:"head"`
		Base           *wireBranch `json:"base"`
		Draft          bool        `json:"draft"`
		Merged         bool        `json:"merged"`
		MergeCommitSHA string      `json:"merge_commit_sha"`
	}
	wirePullRequestEvent struct {
		Action       string            `json:"action"`
		PullRequest  *wirePullRequest  `json:"pull_request"`
		Repo         *wireRepo         `json:"repository"`
		Sender       *wireUser         `json:"sender"`
		Installation *wireInstallation `json:"installation"`
	}
	wireIssue struct {
		Number int `json:"number"`
		// PullRequest is present (an object) when the issue is a pull request.
		PullRequest *struct{} `json:"pull_request"`
	}
	wireComment struct {
		ID   int64     `json:"id"`
		Body string    `json:"body"`
		User *wireUser `json:"user"`
	}
	wireIssueCommentEvent struct {
		Action       string            `json:"action"`
		Issue        *wireIssue        `json:"issue"`
		Comment      *wireComment      `json:"comment"`
		Repo         *wireRepo         `json:"repository"`
		Sender       *wireUser         `json:"sender"`
		Installation *wireInstallation `json:"installation"`
	}
	wireCommitComment struct {
		ID       int64     `json:"id"`
		Body     string    `json:"body"`
		User     *wireUser `json:"user"`
		CommitID string    `json:"commit_id"`
	}
	wireCommitCommentEvent struct {
		Action       string             `json:"action"`
		Comment      *wireCommitComment `json:"comment"`
		Repo         *wireRepo          `json:"repository"`
		Sender       *wireUser          `json:"sender"`
		Installation *wireInstallation  `json:"installation"`
	}
	wireInstallationEvent struct {
		Action       string            `json:"action"`
		Installation *wireInstallation `json:"installation"`
		Repositories []*wireRepo       `json:"repositories"`
		Sender       *wireUser         `json:"sender"`
	}
	wireInstallationRepositoriesEvent struct {
		Action              string            `json:"action"`
		Installation        *wireInstallation `json:"installation"`
		RepositoriesAdded   []*wireRepo       `json:"repositories_added"`
		RepositoriesRemoved []*wireRepo       `json:"repositories_removed"`
		Sender              *wireUser         `json:"sender"`
	}
)

func (u *wireUser) login() string {
	if u == nil {
		return ""
	}
	return u.Login
}

func (i *wireInstallation) id() int64 {
	if i == nil {
		return 0
	}
	return i.ID
}

func (i *wireInstallation) account() string {
	if i == nil {
		return ""
	}
	return i.Account.login()
}

// setRepo fills what every event about a repository carries.
func (ev *Event) setRepo(repo wireRepo, sender *wireUser, inst *wireInstallation) {
	ev.Repo, ev.RepoCloneURL, ev.DefaultBranch = repo.FullName, repo.CloneURL, repo.DefaultBranch
	ev.Sender, ev.InstallationID = sender.login(), inst.id()
}

func (r *wireRepo) get() wireRepo {
	if r == nil {
		return wireRepo{}
	}
	return *r
}

func normalizePush(ev *Event, p *wirePush) error {
	repo := p.Repo.get()
	if repo.FullName == "" || p.Ref == "" {
		return fmt.Errorf("%w: push event without repository.full_name or ref", ErrMalformed)
	}
	ev.setRepo(repo, p.Sender, p.Installation)
	ev.Ref = p.Ref
	ev.Branch, _ = strings.CutPrefix(ev.Ref, "refs/heads/")
	if ev.Branch == ev.Ref {
		ev.Branch = ""
	}
	ev.Before = p.Before
	ev.After = p.After
	ev.Created = p.Created
	ev.Deleted = p.Deleted
	return nil
}

func normalizePullRequest(ev *Event, p *wirePullRequestEvent) error {
	ev.Action = p.Action
	if !supportedPRAction(ev.Action) {
		return fmt.Errorf("%w: pull_request action %q", ErrIgnored, ev.Action)
	}
	pr := p.PullRequest
	repo := p.Repo.get()
	if pr == nil || repo.FullName == "" || pr.Number == 0 {
		return fmt.Errorf("%w: pull_request event without pull_request.number or repository.full_name", ErrMalformed)
	}
	ev.setRepo(repo, p.Sender, p.Installation)
	ev.PRNumber = pr.Number
	ev.PRHead = prRef(pr.Head)
	ev.PRBase = prRef(pr.Base)
	ev.PRDraft = pr.Draft
	ev.Merged = pr.Merged
	if ev.Merged {
		ev.MergeCommitSHA = pr.MergeCommitSHA
	}
	return nil
}

func prRef(b *wireBranch) *Ref {
	if b == nil {
		return nil
	}
	repo := b.Repo.get()
	return &Ref{Ref: b.Ref, SHA: b.SHA, Repo: repo.FullName, CloneURL: repo.CloneURL}
}

func normalizeIssueComment(ev *Event, p *wireIssueCommentEvent) error {
	ev.Action = p.Action
	if ev.Action != "created" {
		return fmt.Errorf("%w: issue_comment action %q", ErrIgnored, ev.Action)
	}
	if p.Issue == nil || p.Issue.PullRequest == nil {
		return fmt.Errorf("%w: issue_comment on an issue, not a pull request", ErrIgnored)
	}
	repo := p.Repo.get()
	if repo.FullName == "" || p.Issue.Number == 0 || p.Comment == nil {
		return fmt.Errorf("%w: issue_comment event without repository.full_name, issue.number or comment", ErrMalformed)
	}
	ev.setRepo(repo, p.Sender, p.Installation)
	ev.PRNumber = p.Issue.Number
	ev.CommentID = p.Comment.ID
	ev.CommentBody = p.Comment.Body
	ev.CommentAuthor = p.Comment.User.login()
	return nil
}

// normalizeCommitComment reduces a commit_comment: only "created" (the one action GitHub
// sends) is used; the commented commit is what a /scorebot command on it acts on.
func normalizeCommitComment(ev *Event, p *wireCommitCommentEvent) error {
	ev.Action = p.Action
	if ev.Action != "created" {
		return fmt.Errorf("%w: commit_comment action %q", ErrIgnored, ev.Action)
	}
	repo := p.Repo.get()
	if repo.FullName == "" || p.Comment == nil || p.Comment.CommitID == "" {
		return fmt.Errorf("%w: commit_comment event without repository.full_name, comment or comment.commit_id", ErrMalformed)
	}
	ev.setRepo(repo, p.Sender, p.Installation)
	ev.CommitID = p.Comment.CommitID
	ev.CommentID = p.Comment.ID
	ev.CommentBody = p.Comment.Body
	ev.CommentAuthor = p.Comment.User.login()
	return nil
}

func normalizeInstallation(ev *Event, p *wireInstallationEvent) error {
	ev.Action = p.Action
	if p.Installation.id() == 0 {
		return fmt.Errorf("%w: installation event without installation.id", ErrMalformed)
	}
	ev.InstallationID = p.Installation.id()
	ev.Account = p.Installation.account()
	ev.Sender = p.Sender.login()
	for _, r := range p.Repositories {
		ev.ReposAdded = append(ev.ReposAdded, r.get().FullName)
	}
	return nil
}

func normalizeInstallationRepositories(ev *Event, p *wireInstallationRepositoriesEvent) error {
	ev.Action = p.Action
	if p.Installation.id() == 0 {
		return fmt.Errorf("%w: installation_repositories event without installation.id", ErrMalformed)
	}
	ev.InstallationID = p.Installation.id()
	ev.Account = p.Installation.account()
	ev.Sender = p.Sender.login()
	for _, r := range p.RepositoriesAdded {
		ev.ReposAdded = append(ev.ReposAdded, r.get().FullName)
	}
	for _, r := range p.RepositoriesRemoved {
		ev.ReposRemoved = append(ev.ReposRemoved, r.get().FullName)
	}
	return nil
}
