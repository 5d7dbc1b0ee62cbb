package pipeline

import (
	"context"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/statusview"
)

// StatusMatrix is what the status page shows (internal/statusview): PromotionState's records,
// the environments in the platform's order, and the env and rules repos' names on GitHub
// ("" when they cannot be told). It reads; it never changes the env repo.
func (p *Pipeline) StatusMatrix(ctx context.Context) (statusview.Matrix, error) {
	recs, err := p.PromotionState(ctx)
	if err != nil {
		return statusview.Matrix{}, err
	}
	lr, err := p.Rules(ctx)
	if err != nil {
		return statusview.Matrix{}, err
	}
	m := statusview.Matrix{Records: recs}
	for _, e := range lr.Rules.Platform.Environments {
		m.Environments = append(m.Environments, e.Name)
	}
	if repo, err := p.promoEnvRepoName(lr.Rules); err == nil {
		m.EnvRepo = repo.String()
	}
	if repo, err := forge.ParseRepo(p.cfg.RulesRepo); err == nil {
		m.RulesRepo = repo.String()
	}
	return m, nil
}
