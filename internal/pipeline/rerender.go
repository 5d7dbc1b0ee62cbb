package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// RerenderStatusContext is the commit status context set on rules commits.
const RerenderStatusContext = "scorebot/rerender"

// Deployed is one app deployed in one environment, as its provenance record in the env
// repo says.
type Deployed struct {
	App          string
	Env          string
	SourceRepo   string
	SourceCommit string
	RulesCommit  string
	ScoreFiles   []string // paths in the source repo
	RecordPath   string   // where the provenance record is in the env repo
}

// ReadDeployed lists the apps deployed in env, sorted by app, from the provenance records
// under <base>/apps/<env>/ in the env repo's head.
func ReadDeployed(ctx context.Context, er *envrepo.Repo, base, env string) ([]Deployed, error) {
	dir := envtree.AppsDir(base, env)
	files, err := er.ReadTree(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s of the env repo: %w", dir, err)
	}
	return deployedIn(files, base, env), nil
}

// deployedIn lists, sorted by app, the apps whose provenance records for env are among
// files (env repo paths to contents; other files are ignored). Where an app has a record in
// the first layout beside the current one, the current one counts; a record that does not
// parse is skipped (not the bot's, or damaged: nothing can be derived from it).
func deployedIn(files map[string][]byte, base, env string) []Deployed {
	var out []Deployed
	for p, data := range files {
		app, ok := envtree.RecordApp(base, env, p)
		if !ok {
			continue
		}
		if cur := envtree.ProvenancePath(base, env, app); p != cur && files[cur] != nil {
			continue
		}
		rec, err := envtree.ParseRecord(data)
		if err != nil {
			continue
		}
		// The app is the one whose folder holds the record: re-rendering it writes there, and
		// a record whose own app field says otherwise (edited by hand) must not move it.
		d := Deployed{App: app, Env: env, SourceRepo: rec.Source.Repo, SourceCommit: rec.Source.Commit,
			RulesCommit: rec.Rules.Commit, RecordPath: p}
		d.ScoreFiles = rec.ScorePaths()
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Deployed) int { return strings.Compare(a.App, b.App) })
	return out
}

// rulesPush re-renders every deployed app with the rules at the pushed commit: one
// commit per environment, listing the apps whose files changed.
func (p *Pipeline) rulesPush(ctx context.Context, job *Job) (string, error) {
	ev := job.Event
	log := job.Log.With("rules_commit", short(ev.After))
	job.Log = log
	switch {
	case ev.Deleted || ev.After == "" || ev.After == zeroSHA:
		return OutcomeIgnored, nil
	case ev.Branch != p.cfg.RulesBranch:
		log.Debug("push to a rules branch other than " + p.cfg.RulesBranch + ": ignored")
		return OutcomeIgnored, nil
	}
	auth, err := p.gitAuth(ctx)
	if err != nil {
		return OutcomeRetry, err
	}
	head, err := remoteHead(ctx, p.cfg.RulesURL, ev.Branch, auth)
	if err != nil {
		return OutcomeRetry, transient(err)
	}
	if head != ev.After {
		return p.superseded(job, "the rules branch has moved on to "+short(head))
	}
	rep := p.reporter(ctx, job, ev.Repo, ev.After, RerenderStatusContext)
	lr, err := p.RulesAt(ctx, ev.After)
	if err != nil {
		if IsPermanent(err) || job.Delivered >= uint64(p.cfg.MaxDeliver) {
			rep.status(ctx, failState(err), errorSummary(err), "")
		}
		return OutcomeFailed, err
	}
	p.setCurrentRules(lr)
	rep.status(ctx, "pending", "re-rendering deployed apps", "")
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return OutcomeRetry, err
	}
	var summary []string
	var failed []string
	for _, env := range lr.Rules.Platform.Environments {
		if env.Reach == rules.ReachPromotion && !p.cfg.DirectCommitPromotedEnvs {
			if !p.cfg.PromotionPRs {
				log.Info("environment reached by promotion: re-render left to promotion PRs", "env", env.Name)
				continue
			}
			if _, err := p.RerenderPromoted(ctx, job, lr, env); err != nil {
				return OutcomeRetry, err
			}
			continue
		}
		changed, bad, res, err := p.rerenderEnv(ctx, job, lr, er, env)
		if err != nil {
			return OutcomeRetry, err
		}
		failed = append(failed, bad...)
		if res.Changed {
			summary = append(summary, fmt.Sprintf("%s: %s", env.Name, strings.Join(changed, ", ")))
			log.Info("re-rendered", "env", env.Name, "apps", changed, "env_commit", res.Commit)
		}
	}
	desc := "no deployed app changes"
	if len(summary) > 0 {
		desc = "re-rendered " + strings.Join(summary, "; ")
	}
	state := "success"
	if len(failed) > 0 {
		state, desc = "failure", "cannot render "+strings.Join(failed, ", ")+" with these rules; "+desc
	}
	if len(summary) > 0 {
		p.promoSyncApp(ctx, lr, er, "") // before the status, which says the re-render is done
	}
	rep.status(ctx, state, desc, "")
	if len(summary) == 0 {
		return OutcomeUnchanged, nil
	}
	return OutcomeDeployed, nil
}

// rerenderEnv re-renders the apps deployed in env and commits those that changed. An app
// that no longer renders is left as it is and named in bad (logged with its error).
func (p *Pipeline) rerenderEnv(ctx context.Context, job *Job, lr *LoadedRules, er *envrepo.Repo, env rules.Environment) (changed, bad []string, res envrepo.Result, err error) {
	base := lr.Rules.Platform.EnvRepo.Path
	deployed, err := ReadDeployed(ctx, er, base, env.Name)
	if err != nil || len(deployed) == 0 {
		return nil, nil, res, transient(err)
	}
	// Hold every source repo's lease, so no deploy of these apps runs meanwhile, then read
	// again: what was deployed may have moved while waiting.
	var keys []string
	for _, d := range deployed {
		keys = append(keys, repoLease(d.SourceRepo))
	}
	release, err := p.acquire(ctx, job, keys...)
	if err != nil {
		return nil, nil, res, err
	}
	defer release()
	if deployed, err = ReadDeployed(ctx, er, base, env.Name); err != nil {
		return nil, nil, res, transient(err)
	}
	current, err := er.ReadTree(ctx, base)
	if err != nil {
		return nil, nil, res, transient(fmt.Errorf("read env repo: %w", err))
	}
	var changes []envrepo.Change
	for _, d := range deployed {
		job.InProgress()
		app, err := p.ReadApp(ctx, lr.Rules, d.SourceRepo, "", d.SourceCommit, d.ScoreFiles...)
		if err != nil {
			if IsPermanent(err) {
				job.Log.Error("re-render: cannot read app", "app", d.App, "env", env.Name, "err", err)
				bad = append(bad, d.App+" in "+env.Name)
				continue
			}
			return nil, nil, res, err
		}
		out, err := render.Render(render.Input{
			Rules: lr.Rules, Env: env.Name, AppID: d.App, Files: app.Files,
			Provenance: render.Provenance{SourceRepo: d.SourceRepo, SourceCommit: d.SourceCommit, RulesCommit: lr.Commit},
		})
		if err != nil {
			job.Log.Error("re-render failed: app left as deployed", "app", d.App, "env", env.Name, "err", err)
			bad = append(bad, d.App+" in "+env.Name)
			continue
		}
		c := change(out)
		if sameFiles(current, c) {
			continue
		}
		changes = append(changes, c)
		changed = append(changed, d.App)
	}
	if len(changes) == 0 {
		return nil, bad, res, nil
	}
	msg := envrepo.Message{
		Subject: fmt.Sprintf("rerender %s for rules %s@%s: %s", env.Name, p.cfg.RulesRepo, short(lr.Commit), strings.Join(changed, ", ")),
		Body:    "The rules changed; re-rendered from each app's deployed commit:\n\n- " + strings.Join(changed, "\n- "),
		Trailers: []envrepo.Trailer{
			{Key: TrailerRulesCommit, Value: lr.Commit},
			{Key: TrailerDelivery, Value: job.Event.Delivery},
		},
	}
	res, err = er.Apply(ctx, msg, changes...)
	if err != nil {
		return nil, nil, res, transient(fmt.Errorf("commit re-render of %s: %w", env.Name, err))
	}
	if !res.Changed {
		changed = nil
	}
	return changed, bad, res, nil
}

// sameFiles reports whether applying c to the tree files would leave it unchanged.
func sameFiles(files map[string][]byte, c envrepo.Change) bool {
	for p, data := range c.Files {
		if old, ok := files[p]; !ok || !bytes.Equal(old, data) {
			return false
		}
	}
	for p := range files {
		if _, ok := c.Files[p]; ok {
			continue
		}
		for _, o := range c.Owned {
			if p == o || (strings.HasSuffix(o, "/") && strings.HasPrefix(p, o)) {
				return false // would be removed
			}
		}
	}
	return true
}
