// Package devbot wires Scorebot's workers (internal/pipeline) into a devbox sandbox: the
// workers `bot dev` runs, and the ones end-to-end tests of deploys, previews and promotion
// run against the sandbox. It is a separate package so that devbox itself does not import the
// pipeline (the pipeline's tests may use the sandbox).
//
// It owns only the mapping from a devbox.Bot to a pipeline.Config; it must not add behaviour.
package devbot

import (
	"context"
	"fmt"

	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/pipeline"
)

// Config is the pipeline configuration for a sandbox: the rules repo local/rules, app repos
// cloned from the local git host, reporting to the GitHub stand-in.
func Config(b devbox.Bot) pipeline.Config {
	return pipeline.Config{
		DataDir:        b.DataDir,
		RulesURL:       b.RulesURL,
		RulesRepo:      devbox.Owner + "/" + devbox.RepoRules,
		GitURLTemplate: b.GitURL + "/{name}.git",
		Forge:          b.Forge,
		Logger:         b.Logger,
	}
}

// Workers returns a devbox.Config.Workers that runs the pipeline with the standard jobs
// (pipeline.Standard: previews, commands); tune, when not nil, adjusts its configuration
// first (handlers of other event kinds, worker count, ...).
func Workers(tune func(*pipeline.Config)) func(ctx context.Context, b devbox.Bot) error {
	return func(ctx context.Context, b devbox.Bot) error {
		cfg := Config(b)
		if tune != nil {
			tune(&cfg)
		}
		pipeline.Standard(&cfg)
		p, err := pipeline.New(cfg)
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		if b.ServeStatus != nil {
			b.ServeStatus(p.StatusMatrix)
		}
		return p.Run(ctx, b.JetStream)
	}
}
