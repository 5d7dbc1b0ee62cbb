package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// MaxCommentLen is GitHub's limit on an issue or PR comment body, in characters.
const MaxCommentLen = 65536

// MaxCheckTextLen is GitHub's limit on a check run's output summary and text.
const MaxCheckTextLen = 65535

// maxStatusDescription is GitHub's limit on a commit status description.
const maxStatusDescription = 140

// Repo names a repository on GitHub.
type Repo struct {
	Owner string
	Name  string
}

// ParseRepo parses "owner/name".
func ParseRepo(full string) (Repo, error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return Repo{}, fmt.Errorf("%w: repository %q must be owner/name", ErrConfig, full)
	}
	return Repo{Owner: owner, Name: name}, nil
}

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// RepoFromURL reads owner/name from the last two path elements of a clone URL:
// https://github.com/acme/env.git, ssh://git@github.com/acme/env, or the scp-like
// git@github.com:acme/env.git.
func RepoFromURL(u string) (Repo, error) {
	p := u
	if parsed, err := url.Parse(u); err == nil && parsed.Scheme != "" && parsed.Host != "" {
		p = parsed.Path
	} else if _, rest, ok := strings.Cut(u, ":"); ok && !strings.Contains(u, "://") {
		p = rest
	}
	parts := strings.Split(strings.TrimSuffix(strings.Trim(p, "/"), ".git"), "/")
	if len(parts) < 2 {
		return Repo{}, fmt.Errorf("%w: cannot tell owner/name from the clone URL's path %q", ErrConfig, p)
	}
	return ParseRepo(parts[len(parts)-2] + "/" + parts[len(parts)-1])
}

// WebURL is the web address of the GitHub whose REST API is at apiURL: https://github.com for
// api.github.com (or ""), https://HOST for GitHub Enterprise's https://HOST/api/v3/, and the
// same host for a stand-in serving /api/v3/. It holds no user info, query or fragment; ""
// when apiURL is not an http(s) URL.
func WebURL(apiURL string) string {
	if apiURL == "" {
		return "https://github.com"
	}
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	if u.Host == "api.github.com" {
		return "https://github.com"
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: p}).String()
}

// wrap adds the operation and classifies GitHub's answer for errors.Is.
func wrap(op string, resp *github.Response, err error) error {
	if err == nil {
		return nil
	}
	var rl *github.RateLimitError
	var arl *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rl), errors.As(err, &arl):
		return fmt.Errorf("%s: %w: %w: %w", op, ErrRateLimited, ErrTransient, err)
	case resp == nil:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w", op, err)
		}
		return fmt.Errorf("%s: %w: %w", op, ErrTransient, err)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w: %w", op, ErrNotFound, err)
	case resp.StatusCode == http.StatusUnprocessableEntity:
		return fmt.Errorf("%s: %w: %w", op, ErrValidation, err)
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusForbidden && resp.Header.Get("Retry-After") != "":
		return fmt.Errorf("%s: %w: %w: %w", op, ErrRateLimited, ErrTransient, err)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s: %w: %w", op, ErrTransient, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Status is a commit status.
type Status struct {
	State       string // pending, success, failure or error
	Context     string // e.g. "scorebot/deploy"
	Description string // cut to GitHub's 140 characters
	TargetURL   string
}

// SetStatus sets a commit status on sha.
func (c *Client) SetStatus(ctx context.Context, repo Repo, sha string, s Status) error {
	st := &github.RepoStatus{State: github.String(s.State), Context: github.String(s.Context)}
	if s.Description != "" {
		st.Description = github.String(cut(s.Description, maxStatusDescription))
	}
	if s.TargetURL != "" {
		st.TargetURL = github.String(s.TargetURL)
	}
	_, resp, err := c.gh.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, st)
	return wrap(fmt.Sprintf("set status %s=%s on %s@%s", s.Context, s.State, repo, short(sha)), resp, err)
}

// CheckRun is the part of a check run Scorebot sets.
type CheckRun struct {
	Name       string
	HeadSHA    string // for Create only
	Status     string // queued, in_progress, completed
	Conclusion string // with Status completed: success, failure, neutral, ...
	Title      string
	Summary    string // at most MaxCheckTextLen
	Text       string // at most MaxCheckTextLen
	DetailsURL string
}

func (r CheckRun) output() (*github.CheckRunOutput, error) {
	if len([]rune(r.Summary)) > MaxCheckTextLen || len([]rune(r.Text)) > MaxCheckTextLen {
		return nil, fmt.Errorf("check run %s: summary and text must be at most %d characters: %w", r.Name, MaxCheckTextLen, ErrValidation)
	}
	if r.Title == "" && r.Summary == "" && r.Text == "" {
		return nil, nil
	}
	out := &github.CheckRunOutput{Title: github.String(r.Title), Summary: github.String(r.Summary)}
	if r.Text != "" {
		out.Text = github.String(r.Text)
	}
	return out, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return github.String(s)
}

// CreateCheckRun creates a check run and returns its id.
func (c *Client) CreateCheckRun(ctx context.Context, repo Repo, r CheckRun) (int64, error) {
	out, err := r.output()
	if err != nil {
		return 0, err
	}
	cr, resp, err := c.gh.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, github.CreateCheckRunOptions{
		Name: r.Name, HeadSHA: r.HeadSHA, Status: optional(r.Status), Conclusion: optional(r.Conclusion),
		DetailsURL: optional(r.DetailsURL), Output: out,
	})
	if err := wrap(fmt.Sprintf("create check run %s on %s@%s", r.Name, repo, short(r.HeadSHA)), resp, err); err != nil {
		return 0, err
	}
	return cr.GetID(), nil
}

// UpdateCheckRun updates check run id.
func (c *Client) UpdateCheckRun(ctx context.Context, repo Repo, id int64, r CheckRun) error {
	out, err := r.output()
	if err != nil {
		return err
	}
	_, resp, err := c.gh.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, id, github.UpdateCheckRunOptions{
		Name: r.Name, Status: optional(r.Status), Conclusion: optional(r.Conclusion),
		DetailsURL: optional(r.DetailsURL), Output: out,
	})
	return wrap(fmt.Sprintf("update check run %d (%s) on %s", id, r.Name, repo), resp, err)
}

// Deployment is a deployment request.
type Deployment struct {
	Ref         string // the commit sha (or branch) deployed
	Environment string
	Description string
	Task        string // default "deploy"
	Payload     map[string]any
	Production  bool
}

// CreateDeployment creates a deployment and returns its id. Required status contexts are
// turned off: Scorebot deploys a commit it already checked, and GitHub would refuse otherwise.
func (c *Client) CreateDeployment(ctx context.Context, repo Repo, d Deployment) (int64, error) {
	req := &github.DeploymentRequest{
		Ref: github.String(d.Ref), Environment: github.String(d.Environment),
		AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
		Description: optional(d.Description), Task: optional(d.Task),
		ProductionEnvironment: github.Bool(d.Production),
	}
	if d.Payload != nil {
		req.Payload = d.Payload
	}
	dep, resp, err := c.gh.Repositories.CreateDeployment(ctx, repo.Owner, repo.Name, req)
	if err := wrap(fmt.Sprintf("create deployment of %s@%s to %s", repo, short(d.Ref), d.Environment), resp, err); err != nil {
		return 0, err
	}
	return dep.GetID(), nil
}

// DeploymentStatus is one state of a deployment.
type DeploymentStatus struct {
	State          string // error, failure, inactive, in_progress, queued, pending, success
	Description    string // cut to 140 characters
	EnvironmentURL string
	LogURL         string
}

// SetDeploymentStatus adds a status to deployment id.
func (c *Client) SetDeploymentStatus(ctx context.Context, repo Repo, id int64, s DeploymentStatus) error {
	req := &github.DeploymentStatusRequest{State: github.String(s.State), Description: optional(cut(s.Description, maxStatusDescription)),
		EnvironmentURL: optional(s.EnvironmentURL), LogURL: optional(s.LogURL)}
	_, resp, err := c.gh.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, id, req)
	return wrap(fmt.Sprintf("set deployment %d status %s on %s", id, s.State, repo), resp, err)
}

// Comment is an issue or PR comment.
type Comment struct {
	ID      int64
	Body    string
	HTMLURL string
	User    string
}

func fromGitHub(ic *github.IssueComment) Comment {
	return Comment{ID: ic.GetID(), Body: ic.GetBody(), HTMLURL: ic.GetHTMLURL(), User: ic.GetUser().GetLogin()}
}

// FindComment returns the first comment on issue or PR number whose body contains marker, or
// ok false. It reads every page.
func (c *Client) FindComment(ctx context.Context, repo Repo, number int, marker string) (Comment, bool, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err := wrap(fmt.Sprintf("list comments of %s#%d", repo, number), resp, err); err != nil {
			return Comment{}, false, err
		}
		for _, ic := range page {
			if strings.Contains(ic.GetBody(), marker) {
				return fromGitHub(ic), true, nil
			}
		}
		if resp.NextPage == 0 {
			return Comment{}, false, nil
		}
		opts.Page = resp.NextPage
	}
}

// UpsertComment keeps one comment per marker on issue or PR number: it edits the comment that
// carries marker (found by FindComment), or creates it when there is none. The marker (an HTML
// comment such as `<!-- scorebot:preview -->`, invisible when rendered) is put first in the
// body when missing. An unchanged body is not sent again. created tells whether a new comment
// was made.
func (c *Client) UpsertComment(ctx context.Context, repo Repo, number int, marker, body string) (cm Comment, created bool, err error) {
	where := fmt.Sprintf("%s#%d", repo, number)
	return upsertMarked(where, marker, body,
		func() (Comment, bool, error) { return c.FindComment(ctx, repo, number, marker) },
		func(id int64, body string) (Comment, error) {
			ic, resp, err := c.gh.Issues.EditComment(ctx, repo.Owner, repo.Name, id, &github.IssueComment{Body: github.String(body)})
			return fromGitHub(ic), wrap(fmt.Sprintf("edit comment %d on %s", id, where), resp, err)
		},
		func(body string) (Comment, error) {
			ic, resp, err := c.gh.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: github.String(body)})
			return fromGitHub(ic), wrap("create comment on "+where, resp, err)
		})
}

// upsertMarked keeps one comment per marker where (an issue, a PR, a commit): it puts the
// marker first in body when missing, checks the length, and edits the comment find returns
// (not when its body is already that) or creates one.
func upsertMarked(where, marker, body string, find func() (Comment, bool, error),
	edit func(id int64, body string) (Comment, error), create func(body string) (Comment, error)) (Comment, bool, error) {
	if marker == "" {
		return Comment{}, false, fmt.Errorf("upsert comment on %s: empty marker: %w", where, ErrConfig)
	}
	if !strings.Contains(body, marker) {
		body = marker + "\n" + body
	}
	if n := len([]rune(body)); n > MaxCommentLen {
		return Comment{}, false, fmt.Errorf("upsert comment on %s: body is %d characters, GitHub allows %d: %w", where, n, MaxCommentLen, ErrValidation)
	}
	old, ok, err := find()
	if err != nil {
		return Comment{}, false, fmt.Errorf("upsert comment: %w", err)
	}
	if ok {
		if old.Body == body {
			return old, false, nil
		}
		cm, err := edit(old.ID, body)
		if err != nil {
			return Comment{}, false, err
		}
		return cm, false, nil
	}
	cm, err := create(body)
	if err != nil {
		return Comment{}, false, err
	}
	return cm, true, nil
}

// React adds a reaction (+1, -1, laugh, confused, heart, hooray, rocket, eyes) to an issue
// comment. Reacting twice with the same content is not an error.
func (c *Client) React(ctx context.Context, repo Repo, commentID int64, content string) error {
	_, resp, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, repo.Owner, repo.Name, commentID, content)
	return wrap(fmt.Sprintf("react %s to comment %d on %s", content, commentID, repo), resp, err)
}

// NewPR is a pull request to open.
type NewPR struct {
	Title string
	Head  string // branch
	Base  string // branch
	Body  string
	Draft bool
}

// CreatePR opens a pull request.
func (c *Client) CreatePR(ctx context.Context, repo Repo, p NewPR) (*github.PullRequest, error) {
	pr, resp, err := c.gh.PullRequests.Create(ctx, repo.Owner, repo.Name, &github.NewPullRequest{
		Title: github.String(p.Title), Head: github.String(p.Head), Base: github.String(p.Base),
		Body: optional(p.Body), Draft: github.Bool(p.Draft),
	})
	if err := wrap(fmt.Sprintf("open pull request %s → %s on %s", p.Head, p.Base, repo), resp, err); err != nil {
		return nil, err
	}
	return pr, nil
}

// PRChange says what UpsertPR did.
type PRChange int

const (
	PRUnchanged PRChange = iota // the open pull request already had that title and body
	PROpened                    // no pull request was open from that head: one was opened
	PREdited                    // the open pull request's title or body was brought up to date
)

// UpsertPR makes sure one pull request from p.Head into p.Base is open with p's title and
// body: it opens one, or edits the open one (the first, when there are several), and says
// which. The head branch must be in repo.
func (c *Client) UpsertPR(ctx context.Context, repo Repo, p NewPR) (*github.PullRequest, PRChange, error) {
	open, err := c.ListPRs(ctx, repo, "open", repo.Owner+":"+p.Head, p.Base)
	if err != nil {
		return nil, PRUnchanged, err
	}
	if len(open) == 0 {
		pr, err := c.CreatePR(ctx, repo, p)
		return pr, PROpened, err
	}
	pr := open[0]
	if pr.GetTitle() == p.Title && pr.GetBody() == p.Body {
		return pr, PRUnchanged, nil
	}
	edited, resp, err := c.gh.PullRequests.Edit(ctx, repo.Owner, repo.Name, pr.GetNumber(),
		&github.PullRequest{Title: github.String(p.Title), Body: github.String(p.Body)})
	if err := wrap(fmt.Sprintf("update pull request %s#%d", repo, pr.GetNumber()), resp, err); err != nil {
		return nil, PRUnchanged, err
	}
	return edited, PREdited, nil
}

// GetPR reads pull request number.
func (c *Client) GetPR(ctx context.Context, repo Repo, number int) (*github.PullRequest, error) {
	pr, resp, err := c.gh.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err := wrap(fmt.Sprintf("get pull request %s#%d", repo, number), resp, err); err != nil {
		return nil, err
	}
	return pr, nil
}

// ListPRs lists pull requests (all pages). state is open, closed or all; head ("owner:branch")
// and base filter when set.
func (c *Client) ListPRs(ctx context.Context, repo Repo, state, head, base string) ([]*github.PullRequest, error) {
	opts := &github.PullRequestListOptions{State: state, Head: head, Base: base, ListOptions: github.ListOptions{PerPage: 100}}
	var all []*github.PullRequest
	for {
		page, resp, err := c.gh.PullRequests.List(ctx, repo.Owner, repo.Name, opts)
		if err := wrap(fmt.Sprintf("list pull requests of %s", repo), resp, err); err != nil {
			return nil, err
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// Merge is how to merge a pull request.
type Merge struct {
	Method        string // merge (default), squash or rebase
	SHA           string // when set, the head must still be this commit
	CommitTitle   string
	CommitMessage string
}

// MergePR merges pull request number and returns the merge commit sha. A PR found already
// merged at the head m.SHA names (someone merged it first) counts as merged.
func (c *Client) MergePR(ctx context.Context, repo Repo, number int, m Merge) (string, error) {
	res, resp, err := c.gh.PullRequests.Merge(ctx, repo.Owner, repo.Name, number, m.CommitMessage,
		&github.PullRequestOptions{MergeMethod: m.Method, SHA: m.SHA, CommitTitle: m.CommitTitle})
	if resp != nil && resp.StatusCode == http.StatusMethodNotAllowed {
		// Someone merged it first (another bot process, or the same promotion asked for twice):
		// a PR already merged at the head we meant to merge is what we wanted.
		if pr, gerr := c.GetPR(ctx, repo, number); gerr == nil && pr.GetMerged() &&
			m.SHA != "" && pr.GetHead().GetSHA() == m.SHA {
			return pr.GetMergeCommitSHA(), nil
		}
	}
	if err := wrap(fmt.Sprintf("merge pull request %s#%d", repo, number), resp, err); err != nil {
		return "", err
	}
	return res.GetSHA(), nil
}

// Permission returns a user's permission on repo as GitHub reports it: admin, write, read or
// none (maintain reads as write, triage as read).
func (c *Client) Permission(ctx context.Context, repo Repo, user string) (string, error) {
	p, resp, err := c.gh.Repositories.GetPermissionLevel(ctx, repo.Owner, repo.Name, user)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return "none", nil // not a collaborator
	}
	if err := wrap(fmt.Sprintf("get permission of %s on %s", user, repo), resp, err); err != nil {
		return "", err
	}
	return p.GetPermission(), nil
}

// CanWrite reports whether user may push to repo (write, maintain or admin).
func (c *Client) CanWrite(ctx context.Context, repo Repo, user string) (bool, error) {
	p, err := c.Permission(ctx, repo, user)
	if err != nil {
		return false, err
	}
	return p == "admin" || p == "write" || p == "maintain", nil
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
