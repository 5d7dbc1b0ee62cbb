package pipeline

// The PR preview jobs (issue 6): a pull_request on an app repo or on the rules repo becomes
// one sticky comment (package preview writes it) and a check run on the PR head.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/gitcache"
	"github.com/scorebot/scorebot/internal/preview"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// PreviewCheckName is the check run the preview sets on a PR head.
const PreviewCheckName = "scorebot/preview"

// HandlePreviewPR is the Handler of pull_request events on app repos and the rules repo:
// opened, synchronize, reopened and ready_for_review post (or edit) the preview comment and
// a check run on the head; closed marks the comment outdated. An event whose head is no
// longer the PR's head is skipped: a newer push is queued behind it, so a burst of pushes
// ends in one preview of the newest head.
func HandlePreviewPR(ctx context.Context, p *Pipeline, job *Job) error {
	ev := job.Event
	if ev.Kind != events.KindPullRequest || ev.PRNumber == 0 {
		return nil
	}
	fc := p.jobForge(job)
	if fc == nil {
		job.Log.Info("preview skipped: no GitHub client configured")
		return nil
	}
	repo, err := forge.ParseRepo(ev.Repo)
	if err != nil {
		return Permanent(fmt.Errorf("preview: %w", err))
	}
	switch ev.Action {
	case "closed":
		return p.previewOutdated(ctx, fc, repo, ev)
	case "opened", "synchronize", "reopened", "ready_for_review":
	default:
		return nil
	}
	if ev.PRHead == nil || ev.PRHead.SHA == "" {
		return Permanent(fmt.Errorf("preview of %s#%d: the event names no head commit", ev.Repo, ev.PRNumber))
	}
	pr, err := fc.GetPR(ctx, repo, ev.PRNumber)
	if err != nil {
		return fmt.Errorf("preview: read %s#%d: %w", ev.Repo, ev.PRNumber, err)
	}
	if head := pr.GetHead().GetSHA(); head != "" && head != ev.PRHead.SHA {
		job.Log.Info("preview superseded: the PR has a newer head", "pr", ev.PRNumber, "head", short(ev.PRHead.SHA), "newer", short(head))
		return nil
	}
	if pr.GetState() == "closed" {
		job.Log.Info("preview skipped: the PR is closed", "pr", ev.PRNumber)
		return nil
	}
	return p.RunPreview(ctx, job, fc, repo, ev.PRNumber, ev.PRHead, "")
}

// RunPreview renders the PR head (head) and posts the preview comment and check run on PR
// number of repo. only, when set, limits the comment to that environment (`/scorebot
// preview <env>`). The rules repo's PRs get the rules preview.
func (p *Pipeline) RunPreview(ctx context.Context, job *Job, fc *forge.Client, repo forge.Repo, number int, head *events.Ref, only string) error {
	var (
		body, title, summary, conclusion string
		err                              error
	)
	if repo.String() == p.cfg.RulesRepo {
		body, title, summary, conclusion, err = p.rulesPreview(ctx, job, repo, number, head)
	} else {
		body, title, summary, conclusion, err = p.appPreview(ctx, job, repo, number, head, only)
	}
	if err != nil {
		return err
	}
	if _, created, err := fc.UpsertComment(ctx, repo, number, preview.Marker, body); err != nil {
		return fmt.Errorf("preview comment on %s#%d: %w", repo, number, err)
	} else if created {
		job.Log.Info("preview comment created", "pr", number, "head", short(head.SHA))
	} else {
		job.Log.Info("preview comment updated", "pr", number, "head", short(head.SHA))
	}
	_, err = fc.CreateCheckRun(ctx, repo, forge.CheckRun{Name: PreviewCheckName, HeadSHA: head.SHA, Status: "completed",
		Conclusion: conclusion, Title: title, Summary: summary})
	if err != nil {
		// The comment is the preview; a missing check run is worth a warning, not a retry
		// that would post the comment again.
		job.Log.Warn("preview check run not created", "pr", number, "err", err)
	}
	return nil
}

// appPreview renders an app PR's head for every environment and diffs it with the env repo.
func (p *Pipeline) appPreview(ctx context.Context, job *Job, repo forge.Repo, number int, head *events.Ref, only string) (body, title, summary, conclusion string, err error) {
	lr, err := p.Rules(ctx)
	if err != nil {
		return "", "", "", "", err
	}
	envs := lr.Rules.Platform.Environments
	if only != "" {
		envs = slices.DeleteFunc(slices.Clone(envs), func(e rules.Environment) bool { return e.Name != only })
	}
	req := preview.Request{Repo: repo.String(), PR: number, App: lr.Rules.AppFor(repo.String()).AppID,
		HeadCommit: head.SHA, RulesCommit: lr.Commit}
	app, readErr := p.ReadApp(ctx, lr.Rules, repo.String(), head.CloneURL, head.SHA)
	if readErr != nil && !IsPermanent(readErr) {
		return "", "", "", "", readErr
	}
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return "", "", "", "", err
	}
	for _, env := range envs {
		job.InProgress()
		if readErr != nil {
			req.Envs = append(req.Envs, preview.Env{Name: env.Name, Problem: preview.ProblemOf(readErr)})
			continue
		}
		e, err := p.previewEnv(ctx, er, lr, app, repo.String(), env.Name)
		if err != nil {
			return "", "", "", "", err
		}
		req.Envs = append(req.Envs, e)
	}
	pv := preview.Build(req)
	title, summary, conclusion = pv.CheckRun()
	return pv.Comment(), title, summary, conclusion, nil
}

// previewEnv renders app for env and reads what the env repo holds under the same paths. A
// render error is the preview's content, not a failure of the job.
func (p *Pipeline) previewEnv(ctx context.Context, er *envrepo.Repo, lr *LoadedRules, app *App, sourceRepo, env string) (preview.Env, error) {
	e := preview.Env{Name: env}
	out, err := render.Render(render.Input{Rules: lr.Rules, Env: env, AppID: app.AppID, Files: app.Files,
		Provenance: render.Provenance{SourceRepo: sourceRepo, SourceCommit: app.Commit, RulesCommit: lr.Commit}})
	if err != nil {
		e.Problem = preview.ProblemOf(err)
		return e, nil
	}
	current, err := readPrefixes(ctx, er, out.Owned, out.Shared)
	if err != nil {
		return e, err
	}
	e.Current = current
	e.Rendered = preview.Restrict(out.Files, out.Owned, out.Shared)
	e.Explain = out.Explain
	return e, nil
}

// readPrefixes reads the env repo's files under each prefix (folders end in "/").
func readPrefixes(ctx context.Context, er *envrepo.Repo, prefixes ...[]string) (map[string][]byte, error) {
	files, err := er.ReadTree(ctx, slices.Concat(prefixes...)...)
	if err != nil {
		return nil, transient(fmt.Errorf("read the env repo: %w", err))
	}
	return files, nil
}

// rulesPreview renders every deployed app under the PR's rules and under the base rules.
func (p *Pipeline) rulesPreview(ctx context.Context, job *Job, repo forge.Repo, number int, head *events.Ref) (body, title, summary, conclusion string, err error) {
	base, err := p.Rules(ctx)
	if err != nil {
		return "", "", "", "", err
	}
	req := preview.RulesRequest{Repo: repo.String(), PR: number, HeadCommit: head.SHA, BaseCommit: base.Commit}
	proposed, err := p.rulesAtCommit(ctx, head)
	var headProblem *preview.Problem
	switch {
	case err != nil && !IsPermanent(err):
		return "", "", "", "", err
	case err != nil:
		headProblem = preview.ProblemOf(err)
	}
	er, err := p.EnvRepo(ctx, base.Rules.Platform.EnvRepo)
	if err != nil {
		return "", "", "", "", err
	}
	byApp := map[string]*preview.AppEnvs{}
	var order []string
	for _, env := range base.Rules.Platform.Environments {
		deployed, err := ReadDeployed(ctx, er, base.Rules.Platform.EnvRepo.Path, env.Name)
		if err != nil {
			return "", "", "", "", transient(err)
		}
		for _, d := range deployed {
			job.InProgress()
			e, err := p.rulesPreviewApp(ctx, er, base, proposed, headProblem, d)
			if err != nil {
				return "", "", "", "", err
			}
			a := byApp[d.App]
			if a == nil {
				a = &preview.AppEnvs{App: d.App}
				byApp[d.App] = a
				order = append(order, d.App)
			}
			a.Envs = append(a.Envs, e)
		}
	}
	for _, app := range order {
		req.Apps = append(req.Apps, *byApp[app])
	}
	pv := preview.BuildRules(req)
	title, summary, conclusion = pv.CheckRun()
	return pv.Comment(), title, summary, conclusion, nil
}

// rulesPreviewApp is one deployed app in one environment under the proposed rules, against
// its render under the base rules (or, when the base rules cannot render it any more, what
// the env repo holds).
func (p *Pipeline) rulesPreviewApp(ctx context.Context, er *envrepo.Repo, base, proposed *LoadedRules, headProblem *preview.Problem, d Deployed) (preview.Env, error) {
	e := preview.Env{Name: d.Env}
	if headProblem != nil {
		e.Problem = headProblem
		return e, nil
	}
	app, err := p.ReadApp(ctx, base.Rules, d.SourceRepo, "", d.SourceCommit, d.ScoreFiles...)
	if err != nil {
		if IsPermanent(err) {
			e.Problem = preview.ProblemOf(err)
			return e, nil
		}
		return e, err
	}
	app.AppID = d.App
	prov := render.Provenance{SourceRepo: d.SourceRepo, SourceCommit: d.SourceCommit}
	in := render.Input{Env: d.Env, AppID: d.App, Files: app.Files, Provenance: prov}
	in.Rules, in.Provenance.RulesCommit = proposed.Rules, proposed.Commit
	next, err := render.Render(in)
	if err != nil {
		e.Problem = preview.ProblemOf(err)
		return e, nil
	}
	in.Rules, in.Provenance.RulesCommit = base.Rules, base.Commit
	// The provenance records differ in their rules commit only; preview.Diff ignores them.
	e.Rendered = preview.Restrict(next.Files, next.Owned, next.Shared)
	e.Explain = next.Explain
	if now, err := render.Render(in); err == nil {
		e.Current = preview.Restrict(now.Files, next.Owned, next.Shared, now.Owned, now.Shared)
		return e, nil
	}
	e.Current, err = readPrefixes(ctx, er, next.Owned, next.Shared)
	return e, err
}

// rulesAtCommit loads the rules repo at a PR head, which may be on a branch (or a fork)
// the rules cache does not follow.
func (p *Pipeline) rulesAtCommit(ctx context.Context, head *events.Ref) (*LoadedRules, error) {
	auth, err := p.gitAuth(ctx)
	if err != nil {
		return nil, err
	}
	url := p.cfg.RulesURL
	if head.CloneURL != "" && p.cfg.GitURLTemplate == "" {
		url = head.CloneURL
	}
	snap, err := p.cache.Fetch(ctx, gitcache.Source{URL: url, Commit: head.SHA, Auth: auth})
	if err != nil {
		if errors.Is(err, gitcache.ErrCommitNotFound) {
			return nil, Permanent(fmt.Errorf("rules PR head %s: %w", short(head.SHA), err))
		}
		return nil, transient(fmt.Errorf("fetch rules PR head %s: %w", short(head.SHA), err))
	}
	r, err := rules.Load(snap)
	if err != nil {
		return nil, Permanent(fmt.Errorf("rules repo at %s: %w", short(snap.Commit), err))
	}
	return &LoadedRules{Rules: r, Commit: snap.Commit}, nil
}

// previewOutdated edits the preview comment of a closed PR to say it is outdated.
func (p *Pipeline) previewOutdated(ctx context.Context, fc *forge.Client, repo forge.Repo, ev *events.Event) error {
	c, ok, err := fc.FindComment(ctx, repo, ev.PRNumber, preview.Marker)
	if err != nil {
		return fmt.Errorf("preview: find the comment on %s#%d: %w", repo, ev.PRNumber, err)
	}
	if !ok {
		return nil
	}
	state := "closed"
	if ev.Merged {
		state = "merged"
	}
	if _, _, err := fc.UpsertComment(ctx, repo, ev.PRNumber, preview.Marker, preview.Outdated(c.Body, state)); err != nil {
		return fmt.Errorf("preview: mark the comment on %s#%d outdated: %w", repo, ev.PRNumber, err)
	}
	return nil
}
