package forge_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/ghspec"
)

// restSpec loads GitHub's REST description once per test binary: it is 13 MB.
var restSpec = sync.OnceValues(func() (*ghspec.REST, error) {
	dir, err := ghspec.FixturesDir()
	if err != nil {
		return nil, err
	}
	return ghspec.LoadREST(filepath.Join(dir, "github-openapi", "rest-api.github.com.json"))
})

// driveEverything calls every client method against the stand-in.
func driveEverything(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.c.SetStatus(ctx, demo, sha1, forge.Status{State: "pending", Context: "scorebot/deploy", Description: "rendering"}))
	must(e.c.SetStatus(ctx, demo, sha1, forge.Status{State: "success", Context: "scorebot/deploy", Description: "deployed", TargetURL: "http://127.0.0.1/env"}))
	id, err := e.c.CreateCheckRun(ctx, demo, forge.CheckRun{Name: "scorebot/preview", HeadSHA: sha2, Status: "in_progress"})
	must(err)
	must(e.c.UpdateCheckRun(ctx, demo, id, forge.CheckRun{Name: "scorebot/preview", Conclusion: "success", Title: "preview", Summary: "2 changed"}))
	dep, err := e.c.CreateDeployment(ctx, demo, forge.Deployment{Ref: sha1, Environment: "dev", Description: "deploy demo-app", Payload: map[string]any{"env_commit": "abc"}})
	must(err)
	must(e.c.SetDeploymentStatus(ctx, demo, dep, forge.DeploymentStatus{State: "in_progress"}))
	must(e.c.SetDeploymentStatus(ctx, demo, dep, forge.DeploymentStatus{State: "success", EnvironmentURL: "http://127.0.0.1/dev", LogURL: "http://127.0.0.1/log"}))
	pr, err := e.c.CreatePR(ctx, demo, forge.NewPR{Title: "change", Head: "feature", Base: "main", Body: "please"})
	must(err)
	_, err = e.c.GetPR(ctx, demo, pr.GetNumber())
	must(err)
	_, err = e.c.ListPRs(ctx, demo, "open", "local:feature", "main")
	must(err)
	cm, _, err := e.c.UpsertComment(ctx, demo, pr.GetNumber(), "<!-- scorebot:preview -->", "first")
	must(err)
	_, _, err = e.c.UpsertComment(ctx, demo, pr.GetNumber(), "<!-- scorebot:preview -->", "second")
	must(err)
	must(e.c.React(ctx, demo, cm.ID, "eyes"))
	must(e.c.React(ctx, demo, cm.ID, "eyes"))
	// A command on a commit: the bot's reaction and its answer, kept as one comment per marker.
	ccm, err := e.c.CreateCommitComment(ctx, demo, sha1, "/scorebot promote staging")
	must(err)
	must(e.c.ReactToCommitComment(ctx, demo, ccm.ID, "eyes"))
	must(e.c.ReactToCommitComment(ctx, demo, ccm.ID, "eyes"))
	_, _, err = e.c.UpsertCommitComment(ctx, demo, sha1, "<!-- scorebot:reply promote staging -->", "opened")
	must(err)
	_, _, err = e.c.UpsertCommitComment(ctx, demo, sha1, "<!-- scorebot:reply promote staging -->", "updated")
	must(err)
	_, err = e.c.Permission(ctx, demo, "local")
	must(err)
	_, err = e.c.CanWrite(ctx, demo, "someone")
	must(err)
	_, err = e.c.MergePR(ctx, demo, pr.GetNumber(), forge.Merge{SHA: sha2})
	must(err)
	// Reads a person or `bot dev` makes, through go-github as well.
	gh := e.c.GitHub()
	_, _, err = gh.Repositories.GetCombinedStatus(ctx, demo.Owner, demo.Name, sha1, nil)
	must(err)
	_, _, err = gh.Repositories.ListStatuses(ctx, demo.Owner, demo.Name, sha1, nil)
	must(err)
	_, _, err = gh.Checks.ListCheckRunsForRef(ctx, demo.Owner, demo.Name, sha2, nil)
	must(err)
	_, _, err = gh.Repositories.ListDeployments(ctx, demo.Owner, demo.Name, &github.DeploymentsListOptions{Environment: "dev"})
	must(err)
	_, _, err = gh.Repositories.ListDeploymentStatuses(ctx, demo.Owner, demo.Name, dep, nil)
	must(err)
	_, _, err = gh.Reactions.ListIssueCommentReactions(ctx, demo.Owner, demo.Name, cm.ID, nil)
	must(err)
	_, _, err = gh.PullRequests.Edit(ctx, demo.Owner, demo.Name, pr.GetNumber(), &github.PullRequest{Title: github.String("renamed")})
	must(err)
	_, _, err = gh.Repositories.GetComment(ctx, demo.Owner, demo.Name, ccm.ID)
	must(err)
	_, _, err = gh.Reactions.ListCommentReactions(ctx, demo.Owner, demo.Name, ccm.ID, nil)
	must(err)
	// Errors GitHub documents: a comment too long, a merge of a closed PR, a missing PR.
	_, _, err = gh.Issues.CreateComment(ctx, demo.Owner, demo.Name, pr.GetNumber(), &github.IssueComment{Body: github.String(strings.Repeat("x", forge.MaxCommentLen+1))})
	if err == nil {
		t.Fatal("a comment over the limit was accepted")
	}
	if _, err := e.c.MergePR(ctx, demo, pr.GetNumber(), forge.Merge{}); err == nil {
		t.Fatal("a merged PR merged again")
	}
	if _, err := e.c.GetPR(ctx, demo, 99); err == nil {
		t.Fatal("a missing PR was found")
	}
}

// TestHonestyAgainstRESTDescription checks every request the client sends and every answer
// the stand-in gives against GitHub's own REST description.
func TestHonestyAgainstRESTDescription(t *testing.T) {
	spec, err := restSpec()
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, standinOpts())
	driveEverything(t, e)
	ops := map[string]bool{}
	for _, ex := range e.rec.exchanges() {
		op, err := spec.Operation(ex)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		ops[op] = true
		if err := spec.Validate(context.Background(), ex); err != nil {
			t.Errorf("%v", err)
		}
	}
	for _, want := range []string{"repos/create-commit-status", "checks/create", "checks/update", "repos/create-deployment",
		"repos/create-deployment-status", "pulls/create", "pulls/get", "pulls/list", "issues/list-comments",
		"issues/create-comment", "issues/update-comment", "reactions/create-for-issue-comment",
		"repos/get-collaborator-permission-level", "pulls/merge", "repos/get-combined-status-for-ref",
		"checks/list-for-ref", "repos/list-deployments", "repos/list-deployment-statuses", "pulls/update",
		"repos/create-commit-comment", "repos/list-comments-for-commit", "repos/update-commit-comment",
		"repos/get-commit-comment", "reactions/create-for-commit-comment", "reactions/list-for-commit-comment"} {
		if !ops[want] {
			t.Errorf("operation %s was not exercised", want)
		}
	}
}

// TestWebhooksEmittedMatchGitHub checks the webhooks the stand-in emits against GitHub's
// webhooks description.
func TestWebhooksEmittedMatchGitHub(t *testing.T) {
	e := start(t, standinOpts())
	driveEverything(t, e)
	e.srv.BranchPushed(demo.Owner, demo.Name, "feature", sha1) // no open PR any more: no event
	ctx := context.Background()
	pr, err := e.c.CreatePR(ctx, demo, forge.NewPR{Title: "second", Head: "other", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.BranchPushed(demo.Owner, demo.Name, "other", "4444444444444444444444444444444444444444")
	if _, _, err := e.c.GitHub().PullRequests.Edit(ctx, demo.Owner, demo.Name, pr.GetNumber(), &github.PullRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.c.GitHub().PullRequests.Edit(ctx, demo.Owner, demo.Name, pr.GetNumber(), &github.PullRequest{State: github.String("open")}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range e.hooks.Events() {
		key, err := keyOf(ev)
		if err != nil {
			t.Fatal(err)
		}
		seen[key]++
		if err := ghspec.ValidateWebhook(ev.event, ev.payload); err != nil {
			t.Errorf("%v", err)
		}
	}
	for _, want := range []string{"pull_request/opened", "pull_request/closed", "pull_request/reopened", "pull_request/synchronize",
		"pull_request/edited", "issue_comment/created", "issue_comment/edited", "commit_comment/created"} {
		if seen[want] == 0 {
			t.Errorf("no %s webhook emitted (saw %v)", want, seen)
		}
	}
}

func keyOf(ev emitted) (string, error) {
	var head struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(ev.payload, &head); err != nil {
		return "", err
	}
	return ev.event + "/" + head.Action, nil
}
