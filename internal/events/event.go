package events

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Kinds of Event the bot acts on; the values are GitHub's X-GitHub-Event names.
const (
	KindPush                     = "push"
	KindPullRequest              = "pull_request"
	KindIssueComment             = "issue_comment"
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

	CommentID     int64  `json:"comment_id,omitempty"`
	CommentBody   string `json:"comment_body,omitempty"`
	CommentAuthor string `json:"comment_author,omitempty"`

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
	case KindPush, KindPullRequest, KindIssueComment, KindInstallation, KindInstallationRepositories:
		return true
	}
	return false
}

// Normalize parses body as a GitHub webhook of type eventType (the X-GitHub-Event header)
// with go-github and reduces it to an Event. It returns an error wrapping ErrIgnored for
// events and actions the bot does not use, and ErrMalformed for payloads that do not parse
// or lack the fields the bot needs. ReceivedAt is left zero for the caller to set.
func Normalize(eventType, delivery string, body []byte) (*Event, error) {
	if !Supported(eventType) {
		return nil, fmt.Errorf("%w: event %q", ErrIgnored, eventType)
	}
	parsed, err := github.ParseWebHook(eventType, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s event: %v", ErrMalformed, eventType, err)
	}
	ev := &Event{Delivery: delivery, Kind: eventType}
	switch p := parsed.(type) {
	case *github.PushEvent:
		err = normalizePush(ev, p)
	case *github.PullRequestEvent:
		err = normalizePullRequest(ev, p)
	case *github.IssueCommentEvent:
		err = normalizeIssueComment(ev, p)
	case *github.InstallationEvent:
		err = normalizeInstallation(ev, p)
	case *github.InstallationRepositoriesEvent:
		err = normalizeInstallationRepositories(ev, p)
	default:
		err = fmt.Errorf("%w: unexpected type %T for %s", ErrMalformed, parsed, eventType)
	}
	if err != nil {
		return nil, err
	}
	return ev, nil
}

func normalizePush(ev *Event, p *github.PushEvent) error {
	repo := p.GetRepo()
	if repo.GetFullName() == "" || p.GetRef() == "" {
		return fmt.Errorf("%w: push event without repository.full_name or ref", ErrMalformed)
	}
	ev.Repo = repo.GetFullName()
	ev.RepoCloneURL = repo.GetCloneURL()
	ev.DefaultBranch = repo.GetDefaultBranch()
	ev.Ref = p.GetRef()
	ev.Branch, _ = strings.CutPrefix(ev.Ref, "refs/heads/")
	if ev.Branch == ev.Ref {
		ev.Branch = ""
	}
	ev.Before = p.GetBefore()
	ev.After = p.GetAfter()
	ev.Created = p.GetCreated()
	ev.Deleted = p.GetDeleted()
	ev.Sender = p.GetSender().GetLogin()
	ev.InstallationID = p.GetInstallation().GetID()
	return nil
}

func normalizePullRequest(ev *Event, p *github.PullRequestEvent) error {
	ev.Action = p.GetAction()
	if !supportedPRAction(ev.Action) {
		return fmt.Errorf("%w: pull_request action %q", ErrIgnored, ev.Action)
	}
	pr := p.GetPullRequest()
	repo := p.GetRepo()
	if pr == nil || repo.GetFullName() == "" || pr.GetNumber() == 0 {
		return fmt.Errorf("%w: pull_request event without pull_request.number or repository.full_name", ErrMalformed)
	}
	ev.Repo = repo.GetFullName()
	ev.RepoCloneURL = repo.GetCloneURL()
	ev.DefaultBranch = repo.GetDefaultBranch()
	ev.PRNumber = pr.GetNumber()
	ev.PRHead = prRef(pr.GetHead())
	ev.PRBase = prRef(pr.GetBase())
	ev.PRDraft = pr.GetDraft()
	ev.Merged = pr.GetMerged()
	if ev.Merged {
		ev.MergeCommitSHA = pr.GetMergeCommitSHA()
	}
	ev.Sender = p.GetSender().GetLogin()
	ev.InstallationID = p.GetInstallation().GetID()
	return nil
}

func prRef(b *github.PullRequestBranch) *Ref {
	if b == nil {
		return nil
	}
	return &Ref{
		Ref:      b.GetRef(),
		SHA:      b.GetSHA(),
		Repo:     b.GetRepo().GetFullName(),
		CloneURL: b.GetRepo().GetCloneURL(),
	}
}

func normalizeIssueComment(ev *Event, p *github.IssueCommentEvent) error {
	ev.Action = p.GetAction()
	if ev.Action != "created" {
		return fmt.Errorf("%w: issue_comment action %q", ErrIgnored, ev.Action)
	}
	issue := p.GetIssue()
	if !issue.IsPullRequest() {
		return fmt.Errorf("%w: issue_comment on an issue, not a pull request", ErrIgnored)
	}
	repo := p.GetRepo()
	if repo.GetFullName() == "" || issue.GetNumber() == 0 || p.GetComment() == nil {
		return fmt.Errorf("%w: issue_comment event without repository.full_name, issue.number or comment", ErrMalformed)
	}
	ev.Repo = repo.GetFullName()
	ev.RepoCloneURL = repo.GetCloneURL()
	ev.DefaultBranch = repo.GetDefaultBranch()
	ev.PRNumber = issue.GetNumber()
	ev.CommentID = p.GetComment().GetID()
	ev.CommentBody = p.GetComment().GetBody()
	ev.CommentAuthor = p.GetComment().GetUser().GetLogin()
	ev.Sender = p.GetSender().GetLogin()
	ev.InstallationID = p.GetInstallation().GetID()
	return nil
}

func normalizeInstallation(ev *Event, p *github.InstallationEvent) error {
	ev.Action = p.GetAction()
	inst := p.GetInstallation()
	if inst.GetID() == 0 {
		return fmt.Errorf("%w: installation event without installation.id", ErrMalformed)
	}
	ev.InstallationID = inst.GetID()
	ev.Account = inst.GetAccount().GetLogin()
	ev.Sender = p.GetSender().GetLogin()
	for _, r := range p.Repositories {
		ev.ReposAdded = append(ev.ReposAdded, r.GetFullName())
	}
	return nil
}

func normalizeInstallationRepositories(ev *Event, p *github.InstallationRepositoriesEvent) error {
	ev.Action = p.GetAction()
	inst := p.GetInstallation()
	if inst.GetID() == 0 {
		return fmt.Errorf("%w: installation_repositories event without installation.id", ErrMalformed)
	}
	ev.InstallationID = inst.GetID()
	ev.Account = inst.GetAccount().GetLogin()
	ev.Sender = p.GetSender().GetLogin()
	for _, r := range p.RepositoriesAdded {
		ev.ReposAdded = append(ev.ReposAdded, r.GetFullName())
	}
	for _, r := range p.RepositoriesRemoved {
		ev.ReposRemoved = append(ev.ReposRemoved, r.GetFullName())
	}
	return nil
}
