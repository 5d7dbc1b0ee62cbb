package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/preview"
	"github.com/scorebot/scorebot/internal/promotion"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// RerenderPromoted is what a rules push does to an environment reached by promotion:
// instead of a direct commit, every app deployed in env is rendered again, from the commit
// it runs, with the rules lr, onto the bot branch scorebot/rerender/<env>, and one PR into
// the env branch lists the apps that change (merged by the bot when env says autoMerge). A
// later rules push updates the same PR. Apps that no longer render with these rules are left
// as they are and named in the PR. Nothing to change: UpToDate, no PR.
func (p *Pipeline) RerenderPromoted(ctx context.Context, job *Job, lr *LoadedRules, env rules.Environment) (PromoteResult, error) {
	log := p.promoLog(job).With("env", env.Name, "rules_commit", short(lr.Commit))
	res := PromoteResult{To: env.Name, Branch: promotion.RerenderBranch(env.Name)}
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return res, err
	}
	base := lr.Rules.Platform.EnvRepo.Path
	deployed, err := ReadDeployed(ctx, er, base, env.Name)
	if err != nil {
		return res, err
	}
	var changes []envrepo.Change
	var failed, apps []string
	rendered := map[string][]byte{}
	var owned []string
	ownOf := map[string][]string{} // each app's own paths (not the shared resources)
	for _, d := range deployed {
		job.InProgress()
		app, err := p.ReadApp(ctx, lr.Rules, d.SourceRepo, "", d.SourceCommit, d.ScoreFiles...)
		if err != nil {
			if !IsPermanent(err) {
				return res, err
			}
			failed = append(failed, d.App)
			continue
		}
		out, err := render.Render(render.Input{Rules: lr.Rules, Env: env.Name, AppID: d.App, Files: app.Files,
			Provenance: render.Provenance{SourceRepo: d.SourceRepo, SourceCommit: d.SourceCommit, RulesCommit: lr.Commit}})
		if err != nil {
			log.Warn("app does not render with the new rules: left as it is", "app", d.App, "err", err)
			failed = append(failed, d.App)
			continue
		}
		chg := change(out)
		changes = append(changes, chg)
		owned = append(owned, chg.Owned...)
		for k, v := range preview.Restrict(out.Files, chg.Owned) {
			rendered[k] = v
		}
		apps = append(apps, d.App)
		ownOf[d.App] = out.Owned
	}
	slices.Sort(owned)
	owned = slices.Compact(owned)
	current, err := readPrefixes(ctx, er, owned)
	if err != nil {
		return res, err
	}
	diffs := preview.Diff(current, rendered)
	changed := map[string][]byte{}
	for _, d := range diffs {
		changed[d.Path] = nil
	}
	var changedApps []string
	for _, a := range apps {
		if len(preview.Restrict(changed, ownOf[a])) > 0 {
			changedApps = append(changedApps, a)
		}
	}
	msg := envrepo.Message{
		Subject:  fmt.Sprintf("rerender %s for rules %s@%s", env.Name, p.cfg.RulesRepo, short(lr.Commit)),
		Body:     "Apps: " + strings.Join(apps, ", "),
		Trailers: []envrepo.Trailer{{Key: TrailerRulesCommit, Value: lr.Commit}},
	}
	envBranch := promoEnvBranch(lr.Rules)
	pushed, err := er.PushBranch(ctx, res.Branch, envBranch, msg, changes...)
	if err != nil {
		return res, fmt.Errorf("push %s: %w", res.Branch, err)
	}
	if !pushed.Changed && pushed.Parent == "" {
		res.UpToDate, res.Reason = true, fmt.Sprintf("the rules at %s change nothing deployed in %s", short(lr.Commit), env.Name)
		log.Info("re-render changes nothing", "env", env.Name)
		return res, nil
	}
	res.BranchCommit = pushed.Commit
	desc := promotion.Description{Kind: promotion.KindRerender, To: env.Name, RulesCommit: lr.Commit,
		AutoMerge: env.AutoMerge, Apps: changedApps, Failed: failed, Diffs: diffs}
	fc, repo, err := p.promoPR(ctx, job, lr, &res, desc)
	if err != nil || fc == nil {
		return res, err
	}
	log.Info("re-render PR ready", "pr", res.PR, "apps", changedApps, "failed", failed)
	if env.AutoMerge {
		if err := promoMerge(ctx, fc, repo, &res, pushed.Commit, desc.Title()); err != nil {
			return res, err
		}
	}
	return res, nil
}
