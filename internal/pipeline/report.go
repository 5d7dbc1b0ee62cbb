package pipeline

import (
	"context"
	"strings"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// reporter reports one job's progress on one commit. Its methods log failures and go on:
// GitHub being unavailable must neither fail a deploy that is pushed nor cause a second
// env-repo commit (forge's transport already retried). A nil reporter does nothing.
type reporter struct {
	c       *forge.Client
	repo    forge.Repo
	sha     string
	context string
	job     *Job
}

func (p *Pipeline) reporter(_ context.Context, job *Job, repo, sha, statusContext string) *reporter {
	if sha == "" {
		return nil
	}
	c := p.jobForge(job)
	if c == nil {
		return nil
	}
	r, err := forge.ParseRepo(repo)
	if err != nil {
		job.Log.Warn("cannot report to GitHub", "err", err)
		return nil
	}
	return &reporter{c: c, repo: r, sha: sha, context: statusContext, job: job}
}

func (r *reporter) status(ctx context.Context, state, desc, url string) {
	if r == nil {
		return
	}
	err := r.c.SetStatus(ctx, r.repo, r.sha, forge.Status{State: state, Context: r.context, Description: desc, TargetURL: url})
	if err != nil {
		r.job.Log.Warn("commit status not set", "state", state, "err", err)
	}
}

// createDeployment creates the GitHub Deployment of this commit to env (0 when it could not).
func (r *reporter) createDeployment(ctx context.Context, env rules.Environment) int64 {
	if r == nil {
		return 0
	}
	id, err := r.c.CreateDeployment(ctx, r.repo, forge.Deployment{
		Ref: r.sha, Environment: env.Name, Description: "scorebot deploy to " + env.Name,
		Production: env.Type == "production",
	})
	if err != nil {
		r.job.Log.Warn("deployment not created", "env", env.Name, "err", err)
		return 0
	}
	r.deploymentStatus(ctx, id, "in_progress", "rendering", "")
	return id
}

func (r *reporter) deploymentStatus(ctx context.Context, id int64, state, desc, envURL string) {
	if r == nil || id == 0 {
		return
	}
	if err := r.c.SetDeploymentStatus(ctx, r.repo, id, forge.DeploymentStatus{State: state, Description: desc, LogURL: envURL}); err != nil {
		r.job.Log.Warn("deployment status not set", "state", state, "err", err)
	}
}

// failState is "failure" for a problem in the inputs, "error" for one of the machinery.
func failState(err error) string {
	if IsPermanent(err) {
		return "failure"
	}
	return "error"
}

// errorSummary is the error on one line (forge cuts it to GitHub's 140 characters; the
// most specific part, file, field and fix, is at the end of the chain, so keep the tail).
func errorSummary(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	r := []rune(s)
	if len(r) <= 140 {
		return s
	}
	return "…" + string(r[len(r)-139:])
}

// commitURL links a commit of a repo hosted on a GitHub-like server.
func commitURL(cloneURL, sha string) string {
	if !strings.HasPrefix(cloneURL, "http://") && !strings.HasPrefix(cloneURL, "https://") {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSuffix(cloneURL, "/"), ".git") + "/commit/" + sha
}
