package devbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-github/v60/github"

	"github.com/scorebot/scorebot/internal/forge"
)

// Client makes local pull requests and comments (on PRs and on commits) on a running sandbox, through the stand-in's
// REST endpoints with go-github, as a developer would on GitHub. The sandbox emits the
// webhooks GitHub would; each call returns once they have reached the bot.
type Client struct {
	fc *forge.Client
}

// NewClient talks to the sandbox at root (e.g. http://127.0.0.1:8080) as user (default
// DefaultUser). The stand-in trusts the "as:<login>" token: the sandbox has no accounts.
func NewClient(root, user string) (*Client, error) {
	if user == "" {
		user = DefaultUser
	}
	fc, err := forge.New(forge.Config{
		BaseURL: strings.TrimRight(root, "/") + "/api/v3/", Token: forge.Secret("as:" + user),
		UserAgent: "scorebot-dev-cli", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	return &Client{fc: fc}, nil
}

func localRepo(name string) forge.Repo { return forge.Repo{Owner: Owner, Name: name} }

// OpenPR opens a pull request from head into base (default main) of local repo name and
// returns its number.
func (c *Client) OpenPR(ctx context.Context, repo, head, base, title string) (int, error) {
	if base == "" {
		base = "main"
	}
	if title == "" {
		title = "Merge " + head + " into " + base
	}
	pr, err := c.fc.CreatePR(ctx, localRepo(repo), forge.NewPR{Title: title, Head: head, Base: base})
	if err != nil {
		return 0, err
	}
	return pr.GetNumber(), nil
}

// MergePR merges pull request number of local repo name (a real merge in the bare repo) and
// returns the merge commit.
func (c *Client) MergePR(ctx context.Context, repo string, number int) (string, error) {
	return c.fc.MergePR(ctx, localRepo(repo), number, forge.Merge{})
}

// ClosePR closes pull request number of local repo name without merging it.
func (c *Client) ClosePR(ctx context.Context, repo string, number int) error {
	_, resp, err := c.fc.GitHub().PullRequests.Edit(ctx, Owner, repo, number, &github.PullRequest{State: github.String("closed")})
	if err != nil {
		return fmt.Errorf("close pull request %s/%s#%d: %w", Owner, repo, number, describe(resp, err))
	}
	return nil
}

// Comment comments on pull request (or issue) number of local repo name and returns the
// comment's id.
func (c *Client) Comment(ctx context.Context, repo string, number int, body string) (int64, error) {
	cm, resp, err := c.fc.GitHub().Issues.CreateComment(ctx, Owner, repo, number, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return 0, fmt.Errorf("comment on %s/%s#%d: %w", Owner, repo, number, describe(resp, err))
	}
	return cm.GetID(), nil
}

// CommentOnCommit comments on commit sha (all 40 hex digits) of local repo name, as on
// GitHub's commit page, and returns the comment's id. The sandbox sends a commit_comment
// webhook, so `/scorebot promote <env>` there reaches the bot.
func (c *Client) CommentOnCommit(ctx context.Context, repo, sha, body string) (int64, error) {
	if !plumbing.IsHash(sha) {
		return 0, fmt.Errorf("comment on %s/%s@%s: give the commit's full 40-character sha (git rev-parse HEAD)", Owner, repo, sha)
	}
	cm, err := c.fc.CreateCommitComment(ctx, localRepo(repo), sha, body)
	if err != nil {
		return 0, err
	}
	return cm.ID, nil
}

func describe(resp *github.Response, err error) error {
	if resp != nil && resp.StatusCode == 404 {
		return fmt.Errorf("%w (no such repo or number here: check --repo and the number)", err)
	}
	return err
}
