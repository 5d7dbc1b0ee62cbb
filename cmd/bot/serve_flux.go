package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/scorebot/scorebot/internal/fluxfeedback"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/gitcache"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/server"
)

// fluxPattern is where Flux's notification-controller posts (a Provider of type
// generic-hmac with address https://BOT/hooks/flux/<env>).
const fluxPattern = "POST /hooks/flux/{env}"

// fluxFlags turn on the endpoint that turns Flux's reconciliation events into GitHub
// deployment statuses.
type fluxFlags struct {
	secretFile  string
	envRepoURL  string
	envRepoPath string
}

func (f *fluxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.secretFile, "flux-secret-file", "", "`FILE` holding the token of Flux's generic-hmac Provider; turns on POST /hooks/flux/{env}")
	fs.StringVar(&f.envRepoURL, "flux-env-repo-url", "", "clone `URL` of the env repo Flux reports on (default: from the rules repo's platform file)")
	fs.StringVar(&f.envRepoPath, "flux-env-repo-path", "", "base `PATH` of the environments in the env repo (with --flux-env-repo-url)")
}

// handlers returns the Flux feedback route, or none when no secret is configured.
func (f *fluxFlags) handlers(role, dataDir string, gh *forge.Client, p *pipeline.Pipeline, log *slog.Logger) (map[string]http.Handler, error) {
	if f.secretFile == "" || role == server.RoleWorkers {
		return nil, nil
	}
	secret, err := readSecretFile(f.secretFile, "--flux-secret-file", "the token of the Secret your Flux Provider's spec.secretRef names")
	if err != nil {
		return nil, err
	}
	if gh == nil {
		return nil, errors.New("--flux-secret-file needs GitHub credentials (--github-token-file or --github-app-id) to report deployment statuses")
	}
	cache, err := gitcache.New(filepath.Join(dataDir, "fluxfeedback"))
	if err != nil {
		return nil, err
	}
	prov := &fluxfeedback.EnvRepoProvenance{Cache: cache, URL: f.envRepoURL, Base: f.envRepoPath,
		GitAuth: func(ctx context.Context) (transport.AuthMethod, error) { return gh.GitAuth(ctx) }}
	if prov.URL == "" {
		if p == nil {
			return nil, errors.New("--flux-secret-file on a process without workers needs --flux-env-repo-url (the env repo Flux follows)")
		}
		prov.Locate = func(ctx context.Context) (string, string, error) {
			lr, err := p.Rules(ctx)
			if err != nil {
				return "", "", fmt.Errorf("env repo from the rules repo: %w", err)
			}
			er := lr.Rules.Platform.EnvRepo
			return er.URL, er.Path, nil
		}
	}
	h, err := fluxfeedback.New(fluxfeedback.Config{Secret: secret, Provenance: prov, Forge: gh, Logger: log.With("component", "fluxfeedback")})
	if err != nil {
		return nil, err
	}
	return map[string]http.Handler{fluxPattern: h}, nil
}
