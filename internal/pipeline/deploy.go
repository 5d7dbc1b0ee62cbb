package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// Commit trailers of every env-repo commit the pipeline makes.
const (
	TrailerSourceRepo   = "Scorebot-Source-Repo"
	TrailerSourceCommit = "Scorebot-Source-Commit"
	TrailerRulesCommit  = "Scorebot-Rules-Commit"
	TrailerDelivery     = "Scorebot-Delivery"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// repoLease is the lease key that serialises all work on one repo.
func repoLease(repo string) string { return "repo." + kvToken(strings.ToLower(repo)) }

// deployPush deploys a push to an app repo's default branch to the first environment
// reached automatically.
func (p *Pipeline) deployPush(ctx context.Context, job *Job) (string, error) {
	ev := job.Event
	log := job.Log.With("commit", short(ev.After), "branch", ev.Branch)
	job.Log = log
	switch {
	case ev.Deleted || ev.After == "" || ev.After == zeroSHA:
		log.Info("push deletes the branch: ignored")
		return OutcomeIgnored, nil
	case ev.Branch == "" || ev.Branch != ev.DefaultBranch:
		log.Debug("push to a branch other than the default: ignored")
		return OutcomeIgnored, nil
	}
	release, err := p.acquire(ctx, job, repoLease(ev.Repo))
	if err != nil {
		return OutcomeRetry, err
	}
	defer release()

	auth, err := p.gitAuth(ctx)
	if err != nil {
		return OutcomeRetry, err
	}
	head, err := remoteHead(ctx, p.cloneURL(ev.Repo, ev.RepoCloneURL), ev.Branch, auth)
	if err != nil {
		return OutcomeRetry, transient(err)
	}
	if head != ev.After {
		if head == "" {
			log.Info("branch no longer exists: ignored")
			return OutcomeIgnored, nil
		}
		return p.superseded(job, "the branch has moved on to "+short(head))
	}

	lr, err := p.Rules(ctx)
	if err != nil {
		return OutcomeFailed, p.failEarly(ctx, job, err)
	}
	if p.isEnvRepo(lr, ev.Repo, ev.RepoCloneURL) {
		// The bot's own commits (and merged promotion PRs) arrive as pushes too, because the
		// GitHub App is installed on the env repo. They are not an app to deploy, but the env
		// branch moving may leave the bot's open PRs conflicting.
		if ev.Branch != promoEnvBranch(lr.Rules) {
			log.Debug("push to a branch of the env repo: ignored")
			return OutcomeIgnored, nil
		}
		rebuilt, err := p.refreshBotPRs(ctx, job, lr)
		switch {
		case IsPermanent(err):
			log.Warn("the bot's open PRs were not checked against the env branch", "err", err)
			return OutcomeIgnored, nil
		case err != nil:
			return OutcomeRetry, transient(fmt.Errorf("keep the bot's PRs mergeable: %w", err))
		}
		if len(rebuilt) == 0 {
			log.Debug("push to the env branch: no bot PR behind it")
			return OutcomeIgnored, nil
		}
		return OutcomeHandled, nil
	}
	env, ok := firstAutoEnv(lr.Rules)
	if !ok {
		log.Warn("the rules repo names no environment deployed from the default branch: nothing to do")
		return OutcomeIgnored, nil
	}
	key := deployedKey(ev.Repo, ev.Branch, env.Name)
	last, err := p.lastDeployed(ctx, key)
	if err != nil {
		return OutcomeRetry, err
	}
	if last.Seq > job.Seq {
		return p.superseded(job, fmt.Sprintf("event %d (%s) is already deployed", last.Seq, short(last.Commit)))
	}
	if d := p.settle(job, last); d > 0 {
		return OutcomeDeferred, errDefer{d}
	}

	rep := p.reporter(ctx, job, ev.Repo, ev.After, StatusContext)
	rep.status(ctx, "pending", "rendering for "+env.Name, "")
	deployID := rep.createDeployment(ctx, env)

	res, err := p.deployApp(ctx, job, lr, env, ev.Repo, ev.RepoCloneURL, ev.After)
	if err != nil {
		rep.status(ctx, failState(err), errorSummary(err), "")
		rep.deploymentStatus(ctx, deployID, "failure", errorSummary(err), "")
		return OutcomeFailed, err
	}
	if p.afterApply != nil && p.afterApply(job) {
		return OutcomeRetry, errCrash
	}
	if err := p.recordDeployed(ctx, key, DeployedRecord{Seq: job.Seq, Commit: ev.After, EnvCommit: res.Commit, Delivery: ev.Delivery, At: time.Now()}); err != nil {
		// The commit is pushed; a redelivery renders the same tree and commits nothing.
		return OutcomeRetry, transient(err)
	}
	p.promoDeployed(ctx, lr.Rules.AppFor(ev.Repo).AppID, env.Name, ev.Repo, ev.After, lr.Commit)
	envURL := commitURL(lr.Rules.Platform.EnvRepo.URL, res.Commit)
	desc := fmt.Sprintf("deployed to %s in %s", env.Name, short(res.Commit))
	if !res.Changed {
		desc = fmt.Sprintf("%s already up to date (%s)", env.Name, short(res.Commit))
	}
	rep.status(ctx, "success", desc, envURL)
	rep.deploymentStatus(ctx, deployID, "success", desc, envURL)
	if hook := p.cfg.AfterDeploy; hook != nil {
		if err := hook(ctx, p, job, env.Name, ev.Repo, ev.After); err != nil {
			return OutcomeRetry, fmt.Errorf("after deploying %s@%s to %s: %w", ev.Repo, short(ev.After), env.Name, err)
		}
	}
	if res.Changed {
		log.Info("deployed", "env", env.Name, "env_commit", res.Commit, "attempts", res.Attempts)
		return OutcomeDeployed, nil
	}
	log.Info("render unchanged: no commit", "env", env.Name, "env_head", res.Commit)
	return OutcomeUnchanged, nil
}

// deployApp reads, renders and commits one app commit to one environment.
func (p *Pipeline) deployApp(ctx context.Context, job *Job, lr *LoadedRules, env rules.Environment, repo, cloneURL, commit string) (envrepo.Result, error) {
	app, err := p.ReadApp(ctx, lr.Rules, repo, cloneURL, commit)
	if err != nil {
		return envrepo.Result{}, err
	}
	job.InProgress()
	out, err := render.Render(render.Input{
		Rules: lr.Rules, Env: env.Name, AppID: app.AppID, Files: app.Files,
		Provenance: render.Provenance{SourceRepo: repo, SourceCommit: app.Commit, RulesCommit: lr.Commit},
	})
	if err != nil {
		// Rendering is pure: the same inputs fail the same way every time.
		return envrepo.Result{}, Permanent(fmt.Errorf("render %s@%s for %s: %w", repo, short(commit), env.Name, err))
	}
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return envrepo.Result{}, err
	}
	msg := envrepo.Message{
		Subject: fmt.Sprintf("deploy %s to %s from %s@%s", app.AppID, env.Name, repo, short(app.Commit)),
		Body:    fmt.Sprintf("Rendered %s with the rules at %s.", strings.Join(scorePaths(app), ", "), short(lr.Commit)),
		Trailers: []envrepo.Trailer{
			{Key: TrailerSourceRepo, Value: repo},
			{Key: TrailerSourceCommit, Value: app.Commit},
			{Key: TrailerRulesCommit, Value: lr.Commit},
			{Key: TrailerDelivery, Value: job.Event.Delivery},
		},
	}
	res, err := er.Apply(ctx, msg, change(out))
	if err != nil {
		return res, transient(fmt.Errorf("commit %s to env repo %s: %w", app.AppID, lr.Rules.Platform.EnvRepo.URL, err))
	}
	return res, nil
}

// change is a render's output as an env-repo change: the app's own paths and the shared
// resources it uses are replaced.
func change(out *render.Output) envrepo.Change {
	owned := append(slices.Clone(out.Owned), out.Shared...)
	return envrepo.Change{Owned: owned, Files: out.Files}
}

func scorePaths(app *App) []string {
	var ps []string
	for _, f := range app.Files {
		ps = append(ps, f.Path)
	}
	return ps
}

// firstAutoEnv is the environment deployed from the default branch.
func firstAutoEnv(r *rules.Rules) (rules.Environment, bool) {
	for _, e := range r.Platform.Environments {
		if e.Reach == "" || e.Reach == rules.ReachAuto {
			return e, true
		}
	}
	return rules.Environment{}, false
}

func (p *Pipeline) superseded(job *Job, why string) (string, error) {
	p.metrics.superseded.Inc()
	job.Log.Info("push superseded: skipped", "why", why)
	return OutcomeSuperseded, nil
}

// failEarly reports a failure that happened before rendering started (rules that do not
// load) on the app commit, and returns err.
func (p *Pipeline) failEarly(ctx context.Context, job *Job, err error) error {
	if IsPermanent(err) || job.Delivered >= uint64(p.cfg.MaxDeliver) {
		rep := p.reporter(ctx, job, job.Event.Repo, job.Event.After, StatusContext)
		rep.status(ctx, failState(err), errorSummary(err), "")
	}
	return err
}

// EnvRepo returns the writer of the env repo the rules name, one per URL and branch.
func (p *Pipeline) EnvRepo(ctx context.Context, er rules.EnvRepo) (*envrepo.Repo, error) {
	if er.URL == "" {
		return nil, Permanent(fmt.Errorf("rules repo %s: platform.yaml envRepo.url is empty: set the env repo's clone URL", p.cfg.RulesRepo))
	}
	branch := er.Branch
	if branch == "" {
		branch = "main"
	}
	id := er.URL + "#" + branch
	p.envMu.Lock()
	defer p.envMu.Unlock()
	if r := p.envRepos[id]; r != nil {
		return r, nil
	}
	auth, err := p.gitAuth(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(id))
	r, err := envrepo.Open(envrepo.Config{
		URL: er.URL, Branch: branch, Dir: filepath.Join(p.cfg.DataDir, "envrepos", hex.EncodeToString(sum[:8])),
		Auth: auth, Author: p.cfg.Author, Committer: p.cfg.Committer, Signer: p.cfg.Signer,
		MaxAttempts: p.cfg.PushAttempts, Logger: p.log,
	})
	if err != nil {
		return nil, fmt.Errorf("open env repo %s: %w", er.URL, err)
	}
	p.envRepos[id] = r
	return r, nil
}

// isEnvRepo reports whether repo (with the clone URL its event carried) is the env repo the
// rules name.
func (p *Pipeline) isEnvRepo(lr *LoadedRules, repo, cloneURL string) bool {
	envURL := normalGitURL(lr.Rules.Platform.EnvRepo.URL)
	if envURL == "" {
		return false
	}
	return envURL == normalGitURL(p.cloneURL(repo, cloneURL)) || envURL == normalGitURL(cloneURL)
}

// normalGitURL lets clone URLs that name one repo compare equal: no trailing slash or
// ".git", lower case (GitHub names are case-insensitive).
func normalGitURL(u string) string {
	u = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(u), "/"), ".git")
	return strings.ToLower(u)
}
