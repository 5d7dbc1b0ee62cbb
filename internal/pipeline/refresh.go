package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/scorebot/scorebot/internal/promotion"
)

// refreshBotPRs keeps the bot's open PRs into the env branch mergeable once the branch has
// moved (a merged PR, a deploy, a person's commit): a PR whose files the branch has changed
// since the PR was built (envrepo.Behind) is built again on the new head the way it was
// made: a promotion rendered again from what the previous environment runs, a re-render from
// what its environment runs, a rollback to the same app commit, each with the current rules.
// A PR the move did not touch is left as it is, so its reviews and checks stand. It returns
// the PRs it rebuilt.
func (p *Pipeline) refreshBotPRs(ctx context.Context, job *Job, lr *LoadedRules) ([]int, error) {
	fc := p.jobForge(job)
	if fc == nil {
		return nil, nil // no GitHub client: no PRs to keep mergeable
	}
	repo, err := p.promoEnvRepoName(lr.Rules)
	if err != nil {
		return nil, err
	}
	envBranch := promoEnvBranch(lr.Rules)
	prs, err := fc.ListPRs(ctx, repo, "open", "", envBranch)
	if err != nil {
		return nil, fmt.Errorf("list the env repo's open PRs: %w", err)
	}
	slices.SortFunc(prs, func(a, b *github.PullRequest) int { return a.GetNumber() - b.GetNumber() })
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return nil, err
	}
	type open struct {
		number         int
		branch         string
		kind, app, env string
	}
	var candidates []open
	var branches []string
	for _, pr := range prs {
		branch := pr.GetHead().GetRef()
		kind, app, env, ok := promotion.ParseBranch(branch)
		if !ok || kind == promotion.KindRejected || !strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), repo.String()) {
			continue
		}
		if _, ok := lr.Rules.Environment(env); !ok {
			continue
		}
		candidates = append(candidates, open{pr.GetNumber(), branch, kind, app, env})
		branches = append(branches, branch)
	}
	if len(branches) == 0 {
		return nil, nil
	}
	behind, err := er.Behind(ctx, envBranch, branches...)
	if err != nil {
		return nil, err
	}
	log := p.promoLog(job)
	var rebuilt []int
	for _, o := range candidates {
		if !slices.Contains(behind, o.branch) {
			continue
		}
		job.InProgress()
		log := log.With("pr", o.number, "branch", o.branch)
		var res PromoteResult
		switch o.kind {
		case promotion.KindPromote:
			res, err = p.Promote(ctx, PromoteRequest{App: o.app, To: o.env, Job: job})
		case promotion.KindRerender:
			e, _ := lr.Rules.Environment(o.env)
			res, err = p.RerenderPromoted(ctx, job, lr, e)
		case promotion.KindRollback:
			prov, found, perr := p.promoProvenance(ctx, er, o.branch, lr.Rules.Platform.EnvRepo.Path, o.env, o.app)
			if perr != nil || !found {
				log.Warn("open rollback PR without a provenance record: left as it is", "err", perr)
				continue
			}
			res, err = p.Rollback(ctx, RollbackRequest{App: o.app, Env: o.env, Commit: prov.Source.Commit, Job: job})
		}
		if err != nil {
			if IsPermanent(err) {
				// It no longer builds (the app left the rules, the earlier deploy is gone): the
				// PR keeps what it had, and GitHub shows the conflict to whoever reads it.
				log.Warn("bot PR behind the env branch could not be built again: left as it is", "err", err)
				continue
			}
			return rebuilt, err
		}
		rebuilt = append(rebuilt, o.number)
		log.Info("bot PR built again on the env branch's new head", "branch_commit", short(res.BranchCommit), "up_to_date", res.UpToDate)
	}
	return rebuilt, nil
}
