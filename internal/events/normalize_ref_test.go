package events

import (
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// normalizeGitHub is the reference Normalize: go-github's full ParseWebHook, then the same
// reduction. It was the production code until the intake moved to a decoder of only the
// fields an Event needs (see Normalize); FuzzNormalizeMatchesGitHub holds the two together.
func normalizeGitHub(eventType, delivery string, body []byte) (*Event, error) {
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
		err = ghPush(ev, p)
	case *github.PullRequestEvent:
		err = ghPullRequest(ev, p)
	case *github.IssueCommentEvent:
		err = ghIssueComment(ev, p)
	case *github.CommitCommentEvent:
		err = ghCommitComment(ev, p)
	case *github.InstallationEvent:
		err = ghInstallation(ev, p)
	case *github.InstallationRepositoriesEvent:
		err = ghInstallationRepositories(ev, p)
	default:
		err = fmt.Errorf("%w: unexpected type %T for %s", ErrMalformed, parsed, eventType)
	}
	if err != nil {
		return nil, err
	}
	return ev, nil
}

func ghPush(ev *Event, p *github.PushEvent) error {
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

func ghPullRequest(ev *Event, p *github.PullRequestEvent) error {
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
	ev.PRHead = ghPRRef(pr.GetHead())
	ev.PRBase = ghPRRef(pr.GetBase())
	ev.PRDraft = pr.GetDraft()
	ev.Merged = pr.GetMerged()
	if ev.Merged {
		ev.MergeCommitSHA = pr.GetMergeCommitSHA()
	}
	ev.Sender = p.GetSender().GetLogin()
	ev.InstallationID = p.GetInstallation().GetID()
	return nil
}

func ghPRRef(b *github.PullRequestBranch) *Ref {
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

func ghIssueComment(ev *Event, p *github.IssueCommentEvent) error {
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

func ghCommitComment(ev *Event, p *github.CommitCommentEvent) error {
	ev.Action = p.GetAction()
	if ev.Action != "created" {
		return fmt.Errorf("%w: commit_comment action %q", ErrIgnored, ev.Action)
	}
	repo := p.GetRepo()
	c := p.GetComment()
	if repo.GetFullName() == "" || c == nil || c.GetCommitID() == "" {
		return fmt.Errorf("%w: commit_comment event without repository.full_name, comment or comment.commit_id", ErrMalformed)
	}
	ev.Repo = repo.GetFullName()
	ev.RepoCloneURL = repo.GetCloneURL()
	ev.DefaultBranch = repo.GetDefaultBranch()
	ev.CommitID = c.GetCommitID()
	ev.CommentID = c.GetID()
	ev.CommentBody = c.GetBody()
	ev.CommentAuthor = c.GetUser().GetLogin()
	ev.Sender = p.GetSender().GetLogin()
	ev.InstallationID = p.GetInstallation().GetID()
	return nil
}

func ghInstallation(ev *Event, p *github.InstallationEvent) error {
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

func ghInstallationRepositories(ev *Event, p *github.InstallationRepositoriesEvent) error {
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
