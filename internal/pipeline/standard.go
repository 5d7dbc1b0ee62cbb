package pipeline

import (
	"context"
	"maps"

	"github.com/scorebot/scorebot/internal/events"
)

// Standard installs the jobs every running bot has beside the deploy of pushes: PR previews,
// promotion (PRs to the next environment after a deploy, merges and closes of those PRs,
// re-render PRs for promotion-reached environments) and the /scorebot commands in PR and
// commit comments. `bot serve` and `bot dev` both call it, so the two run the same bot.
// Hooks already set in cfg are kept.
func Standard(cfg *Config) {
	if cfg.AfterDeploy == nil {
		cfg.AfterDeploy = func(ctx context.Context, p *Pipeline, job *Job, env, repo, commit string) error {
			return p.AfterDeploy(ctx, job, env, repo, commit)
		}
	}
	cfg.PromotionPRs = true
	if cfg.Handlers == nil {
		cfg.Handlers = map[string]Handler{}
	}
	// /scorebot commands, on PRs (issue_comment) and on commits (commit_comment).
	for _, kind := range []string{events.KindIssueComment, events.KindCommitComment} {
		if _, ok := cfg.Handlers[kind]; !ok {
			cfg.Handlers[kind] = StandardCommands().Handle
		}
	}
	if _, ok := cfg.Handlers[events.KindPullRequest]; !ok {
		cfg.Handlers[events.KindPullRequest] = handlePullRequest
	}
}

// StandardCommands is the full /scorebot command table.
func StandardCommands() Commands {
	cmds := PreviewCommands()
	maps.Copy(cmds, PromotionCommands())
	return cmds
}

// handlePullRequest routes a pull_request event: the bot's own promotion, rollback and
// re-render PRs on the env repo, else previews of app and rules PRs.
func handlePullRequest(ctx context.Context, p *Pipeline, job *Job) error {
	if handled, err := p.HandlePromotionPR(ctx, job); handled {
		return err
	}
	return HandlePreviewPR(ctx, p, job)
}
