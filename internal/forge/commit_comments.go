package forge

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Comments on commits (GitHub's "commit comments": /repos/{owner}/{repo}/commits/{sha}/comments
// and /repos/{owner}/{repo}/comments/{id}), where a /scorebot command on a commit is answered.
// They are a separate kind from issue and PR comments: other ids, other endpoints.

func fromCommitComment(rc *github.RepositoryComment) Comment {
	return Comment{ID: rc.GetID(), Body: rc.GetBody(), HTMLURL: rc.GetHTMLURL(), User: rc.GetUser().GetLogin()}
}

// FindCommitComment returns the first comment on commit sha whose body contains marker, or ok
// false. It reads every page.
func (c *Client) FindCommitComment(ctx context.Context, repo Repo, sha, marker string) (Comment, bool, error) {
	opts := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.gh.Repositories.ListCommitComments(ctx, repo.Owner, repo.Name, sha, opts)
		if err := wrap(fmt.Sprintf("list comments of %s@%s", repo, short(sha)), resp, err); err != nil {
			return Comment{}, false, err
		}
		for _, rc := range page {
			if strings.Contains(rc.GetBody(), marker) {
				return fromCommitComment(rc), true, nil
			}
		}
		if resp.NextPage == 0 {
			return Comment{}, false, nil
		}
		opts.Page = resp.NextPage
	}
}

// UpsertCommitComment is UpsertComment for a commit: one comment per marker on commit sha,
// edited in place (an unchanged body is not sent again), created when there is none.
func (c *Client) UpsertCommitComment(ctx context.Context, repo Repo, sha, marker, body string) (cm Comment, created bool, err error) {
	where := fmt.Sprintf("%s@%s", repo, short(sha))
	return upsertMarked(where, marker, body,
		func() (Comment, bool, error) { return c.FindCommitComment(ctx, repo, sha, marker) },
		func(id int64, body string) (Comment, error) {
			rc, resp, err := c.gh.Repositories.UpdateComment(ctx, repo.Owner, repo.Name, id, &github.RepositoryComment{Body: github.String(body)})
			return fromCommitComment(rc), wrap(fmt.Sprintf("edit comment %d on %s", id, where), resp, err)
		},
		func(body string) (Comment, error) { return c.CreateCommitComment(ctx, repo, sha, body) })
}

// CreateCommitComment comments on commit sha (the whole commit, not a line of it).
func (c *Client) CreateCommitComment(ctx context.Context, repo Repo, sha, body string) (Comment, error) {
	if n := len([]rune(body)); n > MaxCommentLen {
		return Comment{}, fmt.Errorf("comment on %s@%s: body is %d characters, GitHub allows %d: %w", repo, short(sha), n, MaxCommentLen, ErrValidation)
	}
	rc, resp, err := c.gh.Repositories.CreateComment(ctx, repo.Owner, repo.Name, sha, &github.RepositoryComment{Body: github.String(body)})
	if err := wrap(fmt.Sprintf("comment on %s@%s", repo, short(sha)), resp, err); err != nil {
		return Comment{}, err
	}
	return fromCommitComment(rc), nil
}

// ReactToCommitComment adds a reaction (as React) to commit comment commentID. Reacting twice
// with the same content is not an error.
func (c *Client) ReactToCommitComment(ctx context.Context, repo Repo, commentID int64, content string) error {
	_, resp, err := c.gh.Reactions.CreateCommentReaction(ctx, repo.Owner, repo.Name, commentID, content)
	return wrap(fmt.Sprintf("react %s to commit comment %d on %s", content, commentID, repo), resp, err)
}
