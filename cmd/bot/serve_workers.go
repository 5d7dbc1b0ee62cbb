package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/server"
)

// workerFlags are the settings of the workers `bot serve` runs beside the intake: where the
// rules repo is, how to reach GitHub and git, and who commits.
type workerFlags struct {
	rulesURL, rulesBranch, rulesRepo string
	gitURLTemplate                   string
	workers                          int
	githubAPI, githubToken           string
	appID, installationID            int64
	appKey                           string
	authorName, authorEmail          string
	directPromoted                   bool
}

func (w *workerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&w.rulesURL, "rules-url", "", "clone `URL` of the rules repo (required for the workers)")
	fs.StringVar(&w.rulesBranch, "rules-branch", "main", "`BRANCH` of the rules repo")
	fs.StringVar(&w.rulesRepo, "rules-repo", "", "`OWNER/NAME` of the rules repo on GitHub (default: from --rules-url)")
	fs.StringVar(&w.gitURLTemplate, "git-url-template", "", "clone `URL` of a repo with {owner} and {name}, e.g. https://ghe.example.com/{owner}/{name}.git (default: the URL each event carries)")
	fs.IntVar(&w.workers, "workers", 4, "`N` jobs run at once (work for one repo is always serialised)")
	fs.StringVar(&w.githubAPI, "github-api-url", "", "GitHub REST API `URL`; GitHub Enterprise: https://HOST/api/v3/ (default api.github.com)")
	fs.StringVar(&w.githubToken, "github-token-file", "", "`FILE` holding a GitHub token (or use the --github-app-* flags)")
	fs.Int64Var(&w.appID, "github-app-id", 0, "GitHub App `ID`")
	fs.StringVar(&w.appKey, "github-app-private-key-file", "", "`FILE` holding the GitHub App's private key (PEM)")
	fs.Int64Var(&w.installationID, "github-installation-id", 0, "GitHub App installation `ID`")
	fs.StringVar(&w.authorName, "commit-author-name", "Scorebot", "author `NAME` of env-repo commits")
	fs.StringVar(&w.authorEmail, "commit-author-email", "scorebot@localhost", "author `EMAIL` of env-repo commits")
	fs.BoolVar(&w.directPromoted, "direct-commit-promoted-envs", false, "let a rules push commit re-renders straight into environments reached by promotion")
}

// pipeline builds the workers' pipeline, or nil: with role all and no rules repo it runs none
// (intake only) and says so; with role workers a rules repo is required. gh may be nil (no
// reporting to GitHub).
func (w *workerFlags) pipeline(role, dataDir string, replicas int, gh *forge.Client, log *slog.Logger, reg prometheus.Registerer) (*pipeline.Pipeline, error) {
	if w.rulesURL == "" {
		if role == server.RoleWorkers {
			return nil, errors.New("no rules repo: set --rules-url (or SCOREBOT_RULES_URL, or rules-url in the config file) to the clone URL of the platform team's rules repo")
		}
		log.Warn("no --rules-url: running the webhook intake only; events wait on NATS until workers with a rules repo run")
		return nil, nil
	}
	cfg := pipeline.Config{
		DataDir:                  filepath.Join(dataDir, "pipeline"),
		Workers:                  w.workers,
		Replicas:                 replicas,
		RulesURL:                 w.rulesURL,
		RulesBranch:              w.rulesBranch,
		RulesRepo:                w.rulesRepo,
		GitURLTemplate:           w.gitURLTemplate,
		Author:                   envrepo.Identity{Name: w.authorName, Email: w.authorEmail},
		Forge:                    gh,
		DirectCommitPromotedEnvs: w.directPromoted,
		Logger:                   log,
		Registerer:               reg,
	}
	if gh != nil {
		cfg.GitAuth = func(ctx context.Context) (transport.AuthMethod, error) {
			return gh.GitAuth(ctx)
		}
	}
	pipeline.Standard(&cfg)
	return pipeline.New(cfg)
}

// forge is the GitHub client, or nil (no reporting) when no credentials are configured.
func (w *workerFlags) forge(log *slog.Logger) (*forge.Client, error) {
	cfg := forge.Config{BaseURL: w.githubAPI, Logger: log}
	switch {
	case w.githubToken != "" && w.appID != 0:
		return nil, errors.New("both --github-token-file and --github-app-id are set: use one")
	case w.githubToken != "":
		tok, err := readSecretFile(w.githubToken, "--github-token-file", "a GitHub token with repo and status scopes")
		if err != nil {
			return nil, err
		}
		cfg.Token = forge.Secret(tok)
	case w.appID != 0:
		if w.appKey == "" {
			return nil, errors.New("--github-app-id needs --github-app-private-key-file")
		}
		cfg.App = &forge.App{ID: w.appID, PrivateKeyFile: w.appKey, InstallationID: w.installationID}
	default:
		log.Warn("no GitHub credentials (--github-token-file or --github-app-id): deploys are not reported to GitHub")
		return nil, nil
	}
	return forge.New(cfg)
}
