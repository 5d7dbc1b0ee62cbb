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
	fc := p.promoForge(job)
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
	log := p.promoLog(job)
	var rebuilt []int
	for _, pr := range prs {
		branch := pr.GetHead().GetRef()
		kind, app, env, ok := promotion.ParseBranch(branch)
		if !ok || kind == promotion.KindRejected || !strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), repo.String()) {
			continue
		}
		e, ok := lr.Rules.Environment(env)
		if !ok {
			continue
		}
		behind, err := er.Behind(ctx, branch, envBranch)
		if err != nil {
			return rebuilt, err
		}
		if !behind {
			continue
		}
		job.InProgress()
		log := log.With("pr", pr.GetNumber(), "branch", branch)
		var res PromoteResult
		switch kind {
		case promotion.KindPromote:
			res, err = p.Promote(ctx, PromoteRequest{App: app, To: env, Job: job})
		case promotion.KindRerender:
			res, err = p.RerenderPromoted(ctx, job, lr, e)
		case promotion.KindRollback:
			prov, found, perr := p.promoProvenance(ctx, er, branch, lr.Rules.Platform.EnvRepo.Path, env, app)
			if perr != nil || !found {
				log.Warn("open rollback PR without a provenance record: left as it is", "err", perr)
				continue
			}
			res, err = p.Rollback(ctx, RollbackRequest{App: app, Env: env, Commit: prov.Source.Commit, Job: job})
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
		rebuilt = append(rebuilt, pr.GetNumber())
		log.Info("bot PR built again on the env branch's new head", "branch_commit", short(res.BranchCommit), "up_to_date", res.UpToDate)
	}
	return rebuilt, nil
}
