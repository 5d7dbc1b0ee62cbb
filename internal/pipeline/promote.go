package pipeline

// Promotion between environments (issue 7): after a deploy to one environment, the next one
// reached by promotion is one reviewed merge away. The bot renders the same app commit with
// the target environment's rules onto its own branch scorebot/promote/<app>/<env> of the env
// repo and opens (or updates) a PR into the env branch; merging it deploys, closing it
// rejects. Everything here reads the env repo as the truth: the provenance records beside
// each app say what runs where, the bot's branches say what is proposed or was rejected.
// promote_state.go keeps the derived state in NATS KV; rollback.go restores earlier states.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/preview"
	"github.com/scorebot/scorebot/internal/promotion"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// PromoteStatusContext prefixes the commit status a failed automatic promotion sets on the
// app commit ("scorebot/promote/<env>").
const PromoteStatusContext = "scorebot/promote"

// PromotionCheckContext is the commit status the bot sets on a promotion PR's head: success
// while the source is what the previous environment runs, failure once it no longer is (make
// it a required check in the env branch's protection to refuse such merges).
const PromotionCheckContext = "scorebot/promotion"

// ErrNotDeployed: the commit to promote is not what the previous environment runs.
var ErrNotDeployed = errors.New("not deployed in the previous environment")

// PromoteRequest asks for the promotion PR of one app into one environment.
type PromoteRequest struct {
	// App is the app id; when empty, the rules' mapping of SourceRepo gives it.
	App        string
	SourceRepo string
	// To is the environment to promote into; it must be reached by promotion.
	To string
	// Commit, when set (a full sha or a prefix of 7 or more), must be what the previous
	// environment runs; by default that commit is promoted, whatever it is.
	Commit string
	// Explicit is set when a person asked (command, CLI): it opens a PR again for a commit
	// whose promotion was rejected; automatic promotion after a deploy does not.
	Explicit bool
	// Job, when set, gives logs their fields and GitHub its installation.
	Job *Job
}

// PromoteResult says what a promotion or rollback request did.
type PromoteResult struct {
	App, From, To            string
	SourceRepo, SourceCommit string
	Branch, BranchCommit     string
	PR                       int
	PRURL                    string
	// Opened: a new PR; Updated: the open PR got a new head or description; UpToDate: the
	// environment already holds exactly this render (no PR); Merged: the bot merged it
	// (autoMerge); Skipped: not opened, Reason says why.
	Opened, Updated, UpToDate, Merged, Skipped bool
	Reason                                     string
}

// Promote renders the app commit the previous environment runs with req.To's rules, pushes
// it to the bot's promotion branch and opens or updates the promotion PR, merging it when
// the environment says autoMerge. A commit that is not what the previous environment runs is
// refused with ErrNotDeployed (permanent).
func (p *Pipeline) Promote(ctx context.Context, req PromoteRequest) (PromoteResult, error) {
	log := p.promoLog(req.Job).With("to", req.To)
	lr, err := p.Rules(ctx)
	if err != nil {
		return PromoteResult{}, err
	}
	app := req.App
	if app == "" {
		app = lr.Rules.AppFor(req.SourceRepo).AppID
	}
	step, err := promotion.StepInto(lr.Rules.Platform.Environments, req.To)
	if err != nil {
		return PromoteResult{}, Permanent(fmt.Errorf("promote %s to %s: %w", app, req.To, err))
	}
	if err := envtree.CheckName("app", app); err != nil {
		return PromoteResult{}, Permanent(fmt.Errorf("promote to %s: %w", req.To, err)) // err names the app
	}
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return PromoteResult{}, err
	}
	base := lr.Rules.Platform.EnvRepo.Path
	res := PromoteResult{App: app, From: step.From.Name, To: step.To.Name, Branch: promotion.Branch(app, step.To.Name)}

	src, ok, err := p.promoProvenance(ctx, er, "", base, step.From.Name, app)
	if err != nil {
		return res, err
	}
	switch {
	case !ok:
		return res, Permanent(fmt.Errorf("promote %s to %s: %w: %s is not deployed in %s (no %s in the env repo): deploy it there first",
			app, step.To.Name, ErrNotDeployed, app, step.From.Name, envtree.ProvenancePath(base, step.From.Name, app)))
	case req.SourceRepo != "" && !strings.EqualFold(src.Source.Repo, req.SourceRepo):
		return res, Permanent(fmt.Errorf("promote %s to %s: %w: %s runs %s from %s, not from %s",
			app, step.To.Name, ErrNotDeployed, step.From.Name, app, src.Source.Repo, req.SourceRepo))
	case req.Commit != "" && !promotion.SameCommit(src.Source.Commit, req.Commit):
		return res, Permanent(fmt.Errorf("promote %s to %s: %w: %s runs %s@%s, not %s: deploy %s to %s first (push it to the default branch, or promote it there)",
			app, step.To.Name, ErrNotDeployed, step.From.Name, src.Source.Repo, short(src.Source.Commit), req.Commit, req.Commit, step.From.Name))
	}
	res.SourceRepo, res.SourceCommit = src.Source.Repo, src.Source.Commit
	log = log.With("app", app, "source", src.Source.Repo+"@"+short(src.Source.Commit))

	if !req.Explicit {
		rej, found, err := p.promoRejection(ctx, er, app, step.To.Name)
		if err != nil {
			return res, err
		}
		if found && rej.SourceCommit == src.Source.Commit {
			res.Skipped = true
			res.Reason = fmt.Sprintf("the promotion of %s@%s to %s was rejected (PR #%d closed unmerged); ask again with /scorebot promote %s",
				rej.SourceRepo, short(rej.SourceCommit), step.To.Name, rej.PR, step.To.Name)
			log.Info("promotion not reopened", "reason", res.Reason)
			return res, nil
		}
	}

	read, err := p.ReadApp(ctx, lr.Rules, src.Source.Repo, "", src.Source.Commit, src.ScorePaths()...)
	if err != nil {
		return res, err
	}
	out, err := render.Render(render.Input{
		Rules: lr.Rules, Env: step.To.Name, AppID: app, Files: read.Files,
		Provenance: render.Provenance{SourceRepo: src.Source.Repo, SourceCommit: src.Source.Commit, RulesCommit: lr.Commit},
	})
	if err != nil {
		return res, Permanent(fmt.Errorf("render %s@%s for %s: %w", src.Source.Repo, short(src.Source.Commit), step.To.Name, err))
	}
	chg := change(out)
	current, err := readPrefixes(ctx, er, chg.Owned)
	if err != nil {
		return res, err
	}
	// What the target runs now: its record is among the app's own files just read.
	cur, _ := p.provenanceIn(current, promoProvenancePaths(base, step.To.Name, app))

	envBranch := promoEnvBranch(lr.Rules)
	msg := envrepo.Message{
		Subject: fmt.Sprintf("promote %s to %s from %s@%s", app, step.To.Name, src.Source.Repo, short(src.Source.Commit)),
		Body:    fmt.Sprintf("The commit %s runs, rendered with %s's rules at %s.", step.From.Name, step.To.Name, short(lr.Commit)),
		Trailers: []envrepo.Trailer{
			{Key: TrailerSourceRepo, Value: src.Source.Repo},
			{Key: TrailerSourceCommit, Value: src.Source.Commit},
			{Key: TrailerRulesCommit, Value: lr.Commit},
		},
	}
	pushed, err := er.PushBranch(ctx, res.Branch, envBranch, msg, chg)
	if err != nil {
		return res, fmt.Errorf("push %s: %w", res.Branch, err)
	}
	if !pushed.Changed && pushed.Parent == "" {
		res.UpToDate = true
		res.Reason = fmt.Sprintf("%s already runs exactly this render of %s@%s", step.To.Name, src.Source.Repo, short(src.Source.Commit))
		log.Info("promotion not needed", "reason", res.Reason)
		p.promoSyncApp(ctx, lr, er, app)
		return res, nil
	}
	res.BranchCommit = pushed.Commit

	desc := promotion.Description{
		Kind: promotion.KindPromote, App: app, From: step.From.Name, To: step.To.Name,
		SourceRepo: src.Source.Repo, SourceCommit: src.Source.Commit,
		SourceURL:   p.promoCommitURL(src.Source.Repo, src.Source.Commit),
		RulesCommit: lr.Commit, AutoMerge: step.To.AutoMerge,
		Diffs: preview.Diff(current, preview.Restrict(out.Files, chg.Owned)),
	}
	if cur.Source.Commit != "" {
		desc.Current = cur.Source.Commit
	}
	fc, repo, err := p.promoPR(ctx, req.Job, lr, &res, desc)
	if err != nil {
		return res, err
	}
	if fc == nil {
		log.Info("promotion branch pushed; no GitHub client, so no PR", "branch", res.Branch, "commit", pushed.Commit)
		p.promoSyncApp(ctx, lr, er, app)
		return res, nil
	}
	log.Info("promotion PR ready", "pr", res.PR, "opened", res.Opened, "branch_commit", short(pushed.Commit))
	if err := fc.SetStatus(ctx, repo, pushed.Commit, forge.Status{State: "success", Context: PromotionCheckContext,
		Description: fmt.Sprintf("%s runs %s@%s: ready to promote", step.From.Name, src.Source.Repo, short(src.Source.Commit))}); err != nil {
		log.Warn("promotion status not set", "err", err)
	}

	if step.To.AutoMerge {
		// The environment's rules let the bot merge its own promotions; the merge's closed
		// webhook then records the deploy like a human merge would.
		if err := promoMerge(ctx, fc, repo, &res, pushed.Commit, desc.Title()); err != nil {
			return res, err
		}
		log.Info("promotion auto-merged", "pr", res.PR)
	}
	p.promoSyncApp(ctx, lr, er, app)
	return res, nil
}

// AfterDeploy runs once repo@commit is deployed to env (the deploy path after its push, and
// the merge of a promotion PR): it opens or updates the promotion PR into the next
// environment, if one is reached by promotion. A permanent failure (the app does not render
// for the next environment) is reported on the app commit as the status
// scorebot/promote/<next> and not returned: the deploy itself succeeded. Transient errors are
// returned so the job is retried (a redelivered deploy commits nothing and comes back here).
func (p *Pipeline) AfterDeploy(ctx context.Context, job *Job, env, repo, commit string) error {
	lr, err := p.Rules(ctx)
	if err != nil {
		if IsPermanent(err) {
			return nil // the deploy path has reported broken rules already
		}
		return err
	}
	step, ok := promotion.Next(lr.Rules.Platform.Environments, env)
	if !ok {
		return nil
	}
	res, err := p.Promote(ctx, PromoteRequest{SourceRepo: repo, To: step.To.Name, Commit: commit, Job: job})
	statusCtx := PromoteStatusContext + "/" + step.To.Name
	rep := p.reporter(ctx, job, repo, commit, statusCtx)
	switch {
	case err != nil && IsPermanent(err):
		p.promoLog(job).Warn("promotion not opened", "to", step.To.Name, "err", err)
		rep.status(ctx, "failure", errorSummary(err), "")
		return nil
	case err != nil:
		return err
	case res.PR != 0:
		rep.status(ctx, "pending", fmt.Sprintf("promotion to %s: PR #%d", step.To.Name, res.PR), res.PRURL)
	}
	return nil
}

// HandlePromotionPR handles a pull_request event of the env repo on one of the bot's
// branches: a merged promotion records the deploy, reports a Deployment for the environment
// on the app commit and opens the next promotion; a promotion closed unmerged is recorded as
// rejected (scorebot/rejected/<app>/<env>) and goes no further; a merged rollback records
// the deploy. handled is false for every other event, which the caller treats as before.
func (p *Pipeline) HandlePromotionPR(ctx context.Context, job *Job) (handled bool, err error) {
	ev := job.Event
	if ev.Kind != "pull_request" || ev.PRHead == nil || ev.PRBase == nil {
		return false, nil
	}
	kind, app, env, ok := promotion.ParseBranch(ev.PRHead.Ref)
	if !ok || kind == promotion.KindRejected {
		return false, nil
	}
	lr, err := p.Rules(ctx)
	if err != nil {
		return true, err
	}
	repo, err := p.promoEnvRepoName(lr.Rules)
	if err != nil {
		return true, err
	}
	if !strings.EqualFold(ev.Repo, repo.String()) || ev.PRBase.Ref != promoEnvBranch(lr.Rules) {
		return false, nil // a branch of that name elsewhere is not the bot's
	}
	if ev.Action != "closed" {
		return true, nil
	}
	e, found := lr.Rules.Environment(env)
	if !found {
		return true, Permanent(fmt.Errorf("%s#%d: %w %q (from branch %s)", ev.Repo, ev.PRNumber, promotion.ErrUnknownEnv, env, ev.PRHead.Ref))
	}
	log := p.promoLog(job).With("app", app, "env", env, "pr", ev.PRNumber, "kind", kind)
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return true, err
	}
	base := lr.Rules.Platform.EnvRepo.Path
	if kind == promotion.KindRerender {
		// A rules change applied (or declined) in env: the apps' sources are unchanged, so
		// there is no Deployment of an app commit to report and no promotion to open.
		log.Info("re-render PR closed", "merged", ev.Merged)
		if ev.Merged {
			recs, err := p.promoDerive(ctx, lr, er, "")
			if err == nil {
				err = p.promoStore(ctx, recs, "")
			}
			if err != nil {
				log.Warn("promotion state not recorded", "err", err)
			}
		}
		return true, nil
	}
	if !ev.Merged {
		if kind == promotion.KindPromote {
			if err := p.promoReject(ctx, lr, er, job, app, env); err != nil {
				return true, err
			}
		}
		log.Info("bot PR closed without merging: recorded, nothing further")
		p.promoSyncApp(ctx, lr, er, app)
		return true, nil
	}
	now, ok, err := p.promoProvenance(ctx, er, "", base, env, app)
	if err != nil {
		return true, err
	}
	if !ok {
		log.Warn("merged, but the env branch has no provenance record for the app")
		return true, nil
	}
	head, err := er.Head(ctx)
	if err != nil {
		return true, fmt.Errorf("env repo head: %w", err)
	}
	envURL := commitURL(lr.Rules.Platform.EnvRepo.URL, head)
	desc := fmt.Sprintf("%s to %s by PR #%d", map[bool]string{true: "promoted", false: "rolled back"}[kind == promotion.KindPromote], env, ev.PRNumber)
	rep := p.reporter(ctx, job, now.Source.Repo, now.Source.Commit, StatusContext+"/"+env)
	id := rep.createDeployment(ctx, e)
	rep.deploymentStatus(ctx, id, "success", desc, envURL)
	rep.status(ctx, "success", desc, envURL)
	// The merged branch is done with, unless it was pushed again since (a newer promotion);
	// and a person accepted a promotion into env, so an earlier rejection there is history.
	done := map[string]string{ev.PRHead.Ref: ev.PRHead.SHA}
	if kind == promotion.KindPromote {
		done[promotion.RejectedBranch(app, env)] = ""
	}
	for _, b := range slices.Sorted(maps.Keys(done)) {
		if deleted, err := er.DeleteBranch(ctx, b, done[b]); err != nil {
			log.Warn("bot branch not deleted", "branch", b, "err", err)
		} else if deleted {
			log.Info("bot branch deleted", "branch", b)
		}
	}
	p.promoSyncApp(ctx, lr, er, app)
	log.Info("bot PR merged: deployed", "source", now.Source.Repo+"@"+short(now.Source.Commit), "env_commit", short(head))
	if kind != promotion.KindPromote {
		return true, p.promoRefuseStale(ctx, lr, er, job, app, env, now)
	}
	return true, p.AfterDeploy(ctx, job, env, now.Source.Repo, now.Source.Commit)
}

// promoRefuseStale refuses the open promotion out of env when its source is no longer what
// env runs (env was rolled back): a failing PromotionCheckContext status on its head and a
// comment saying why. The PR stays open; a later deploy to env updates it.
func (p *Pipeline) promoRefuseStale(ctx context.Context, lr *LoadedRules, er *envrepo.Repo, job *Job, app, env string, now promotion.Provenance) error {
	step, ok := promotion.Next(lr.Rules.Platform.Environments, env)
	if !ok {
		return nil
	}
	branch := promotion.Branch(app, step.To.Name)
	prov, ok, err := p.promoProvenance(ctx, er, branch, lr.Rules.Platform.EnvRepo.Path, step.To.Name, app)
	if err != nil || !ok || prov.Source.Commit == now.Source.Commit {
		return err
	}
	fc := p.jobForge(job)
	if fc == nil {
		return nil
	}
	repo, err := p.promoEnvRepoName(lr.Rules)
	if err != nil {
		return err
	}
	prs, err := fc.ListPRs(ctx, repo, "open", repo.Owner+":"+branch, promoEnvBranch(lr.Rules))
	if err != nil || len(prs) == 0 {
		return err
	}
	pr := prs[0]
	why := fmt.Sprintf("%s no longer runs %s@%s (it runs %s@%s now)", env, prov.Source.Repo, short(prov.Source.Commit), now.Source.Repo, short(now.Source.Commit))
	if err := fc.SetStatus(ctx, repo, pr.GetHead().GetSHA(), forge.Status{State: "failure", Context: PromotionCheckContext, Description: why}); err != nil {
		return fmt.Errorf("refuse %s#%d: %w", repo, pr.GetNumber(), err)
	}
	marker := "<!-- scorebot:stale " + app + "/" + step.To.Name + " -->"
	body := fmt.Sprintf("%s\nThis promotion is refused: %s. Do not merge it; the next deploy to %s updates it, or ask again with `/scorebot promote %s`.", marker, why, env, step.To.Name)
	if _, _, err := fc.UpsertComment(ctx, repo, pr.GetNumber(), marker, body); err != nil {
		return fmt.Errorf("comment on %s#%d: %w", repo, pr.GetNumber(), err)
	}
	p.promoLog(job).Info("open promotion refused: its source is no longer deployed", "pr", pr.GetNumber(), "why", why)
	return nil
}

// promoReject writes the rejection record on the bot branch scorebot/rejected/<app>/<env>.
func (p *Pipeline) promoReject(ctx context.Context, lr *LoadedRules, er *envrepo.Repo, job *Job, app, env string) error {
	ev := job.Event
	branch := promotion.Branch(app, env)
	prov, ok, err := p.promoProvenance(ctx, er, branch, lr.Rules.Platform.EnvRepo.Path, env, app)
	if err != nil {
		return err
	}
	if !ok {
		p.promoLog(job).Warn("closed promotion branch has no provenance record: rejection not recorded", "branch", branch)
		return nil
	}
	rec := promotion.Rejection{App: app, Env: env, SourceRepo: prov.Source.Repo, SourceCommit: prov.Source.Commit,
		BranchCommit: ev.PRHead.SHA, PR: ev.PRNumber, ClosedBy: ev.Sender}
	msg := envrepo.Message{Subject: fmt.Sprintf("reject promotion of %s to %s (%s@%s, PR #%d)", app, env, prov.Source.Repo, short(prov.Source.Commit), ev.PRNumber)}
	res, err := er.PushBranch(ctx, promotion.RejectedBranch(app, env), promoEnvBranch(lr.Rules), msg,
		envrepo.Change{Files: map[string][]byte{promotion.RejectionFile(app, env): rec.Marshal()}})
	if err != nil {
		return fmt.Errorf("record rejection of %s to %s: %w", app, env, err)
	}
	p.promoLog(job).Info("promotion rejected: recorded", "branch", promotion.RejectedBranch(app, env), "commit", short(res.Commit), "changed", res.Changed)
	return nil
}

// promoRejection reads the last rejection of a promotion of app into env.
func (p *Pipeline) promoRejection(ctx context.Context, er *envrepo.Repo, app, env string) (promotion.Rejection, bool, error) {
	file := promotion.RejectionFile(app, env)
	files, err := er.ReadBranchTree(ctx, promotion.RejectedBranch(app, env), file)
	if err != nil {
		return promotion.Rejection{}, false, fmt.Errorf("read %s: %w", promotion.RejectedBranch(app, env), err)
	}
	data, ok := files[file]
	if !ok {
		return promotion.Rejection{}, false, nil
	}
	rej, err := promotion.ParseRejection(data)
	if err != nil {
		p.log.Warn("unreadable rejection record ignored", "branch", promotion.RejectedBranch(app, env), "err", err)
		return promotion.Rejection{}, false, nil
	}
	return rej, true, nil
}

// promoProvenance reads app's provenance record in env on branch ("" = the env branch).
func (p *Pipeline) promoProvenance(ctx context.Context, er *envrepo.Repo, branch, base, env, app string) (promotion.Provenance, bool, error) {
	paths := promoProvenancePaths(base, env, app)
	var files map[string][]byte
	var err error
	if branch == "" {
		files, err = er.ReadTree(ctx, paths...)
	} else {
		files, err = er.ReadBranchTree(ctx, branch, paths...)
	}
	if err != nil {
		return promotion.Provenance{}, false, fmt.Errorf("read %s of the env repo: %w", paths[0], err)
	}
	prov, ok := p.provenanceIn(files, paths)
	return prov, ok, nil
}

// provenanceIn is the first readable provenance record among paths in files.
func (p *Pipeline) provenanceIn(files map[string][]byte, paths []string) (promotion.Provenance, bool) {
	for _, f := range paths {
		data, ok := files[f]
		if !ok {
			continue
		}
		prov, err := promotion.ParseProvenance(data)
		if err != nil {
			p.log.Warn("unreadable provenance record ignored", "path", f, "err", err)
			return promotion.Provenance{}, false
		}
		return prov, true
	}
	return promotion.Provenance{}, false
}

// promoProvenancePaths are where app's provenance record may be, in the order to try: the
// current layout, then the first one (an app not written since the shard folders came).
func promoProvenancePaths(base, env, app string) []string {
	return []string{envtree.ProvenancePath(base, env, app), envtree.LegacyProvenancePath(base, env, app)}
}

// promoPR opens the PR of res.Branch into the env branch with desc, or brings the open one up
// to date, and fills in res's PR fields. fc is nil, and nothing is done, when there is no
// GitHub client.
func (p *Pipeline) promoPR(ctx context.Context, job *Job, lr *LoadedRules, res *PromoteResult, desc promotion.Description) (fc *forge.Client, repo forge.Repo, err error) {
	if fc = p.jobForge(job); fc == nil {
		return nil, forge.Repo{}, nil
	}
	if repo, err = p.promoEnvRepoName(lr.Rules); err != nil {
		return nil, forge.Repo{}, err
	}
	pr, change, err := fc.UpsertPR(ctx, repo, forge.NewPR{Title: desc.Title(), Head: res.Branch, Base: promoEnvBranch(lr.Rules), Body: desc.Markdown()})
	if err != nil {
		return nil, forge.Repo{}, err
	}
	res.PR, res.PRURL = pr.GetNumber(), pr.GetHTMLURL()
	res.Opened, res.Updated = change == forge.PROpened, change != forge.PROpened
	return fc, repo, nil
}

// promoMerge merges res's PR at commit: the environment's autoMerge. The merge's closed
// webhook then records the deploy as a person's merge would.
func promoMerge(ctx context.Context, fc *forge.Client, repo forge.Repo, res *PromoteResult, commit, title string) error {
	if _, err := fc.MergePR(ctx, repo, res.PR, forge.Merge{Method: "merge", SHA: commit,
		CommitTitle: fmt.Sprintf("Merge pull request #%d: %s", res.PR, title)}); err != nil {
		return fmt.Errorf("auto-merge %s#%d into %s: %w", repo, res.PR, res.To, err)
	}
	res.Merged = true
	return nil
}

// jobForge is the GitHub client for the job's installation (nil: no GitHub, or no client
// for the installation; logged).
func (p *Pipeline) jobForge(job *Job) *forge.Client {
	c := p.cfg.Forge
	if c == nil || job == nil || job.Event == nil || job.Event.InstallationID == 0 {
		return c
	}
	ic, err := c.ForInstallation(job.Event.InstallationID)
	if err != nil {
		p.promoLog(job).Warn("GitHub client for installation", "installation", job.Event.InstallationID, "err", err)
		return nil
	}
	return ic
}

func (p *Pipeline) promoLog(job *Job) *slog.Logger {
	if job != nil && job.Log != nil {
		return job.Log
	}
	return p.log
}

func promoEnvBranch(r *rules.Rules) string {
	if b := r.Platform.EnvRepo.Branch; b != "" {
		return b
	}
	return "main"
}

// promoEnvRepoName is the env repo's "owner/name" on GitHub: read from its URL with
// Config.GitURLTemplate when that matches (the owner defaults to the rules repo's when the
// template has no {owner}, as in `bot dev`), else the URL's last two path elements.
func (p *Pipeline) promoEnvRepoName(r *rules.Rules) (forge.Repo, error) {
	u := r.Platform.EnvRepo.URL
	if t := p.cfg.GitURLTemplate; t != "" {
		expr := "^" + regexp.QuoteMeta(t) + "$"
		expr = strings.Replace(expr, regexp.QuoteMeta("{owner}"), "(?P<owner>[^/]+)", 1)
		expr = strings.Replace(expr, regexp.QuoteMeta("{name}"), "(?P<name>.+?)", 1)
		if re, err := regexp.Compile(expr); err == nil {
			if m := re.FindStringSubmatch(u); m != nil {
				owner, name := "", m[re.SubexpIndex("name")]
				if i := re.SubexpIndex("owner"); i >= 0 {
					owner = m[i]
				} else {
					owner, _, _ = strings.Cut(p.cfg.RulesRepo, "/")
				}
				return forge.ParseRepo(owner + "/" + name)
			}
		}
	}
	repo, err := forge.RepoFromURL(u)
	if err != nil {
		return forge.Repo{}, Permanent(fmt.Errorf("rules: platform.yaml envRepo.url %q: cannot tell the env repo's owner/name on GitHub: %w", u, err))
	}
	return repo, nil
}

// promoCommitURL links an app commit on GitHub ("" when the repo's web address is unknown).
func (p *Pipeline) promoCommitURL(repo, sha string) string {
	if p.cfg.Forge == nil {
		return ""
	}
	base := p.cfg.Forge.GitHub().BaseURL
	if base == nil {
		return ""
	}
	return forge.WebURL(base.String()) + "/" + repo + "/commit/" + sha
}
