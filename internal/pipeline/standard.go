package pipeline

import (
	"context"

	"github.com/scorebot/scorebot/internal/events"
)

// Standard installs the jobs every running bot has beside the deploy of pushes: PR previews
// and the /scorebot commands. `bot serve` and `bot dev` both call it, so the two run the same
// bot. Handlers already set in cfg are kept.
func Standard(cfg *Config) {
	if cfg.Handlers == nil {
		cfg.Handlers = map[string]Handler{}
	}
	if _, ok := cfg.Handlers[events.KindIssueComment]; !ok {
		cfg.Handlers[events.KindIssueComment] = StandardCommands().Handle
	}
	if _, ok := cfg.Handlers[events.KindPullRequest]; !ok {
		cfg.Handlers[events.KindPullRequest] = handlePullRequest
	}
}

// StandardCommands is the full /scorebot command table.
func StandardCommands() Commands {
	return PreviewCommands()
}

// handlePullRequest routes a pull_request event: previews of app and rules PRs.
func handlePullRequest(ctx context.Context, p *Pipeline, job *Job) error {
	return HandlePreviewPR(ctx, p, job)
}
