package fluxfeedback

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/scorebot/scorebot/internal/gitcache"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// ErrNoProvenance is returned (wrapped) when the env repo holds no provenance record for
// an app and environment at a revision: Scorebot did not render that Kustomization.
var ErrNoProvenance = errors.New("no provenance record")

// Source is the app commit an app's folder in the env repo was rendered from.
type Source struct {
	Repo   string // owner/name
	Commit string
}

// Provenance tells which app commit an app's folder holds at an env-repo commit.
type Provenance interface {
	Source(ctx context.Context, env, app, envCommit string) (Source, error)
}

// EnvRepoProvenance reads the provenance record envtree writes beside every app, at the
// env-repo commit Flux names, through a gitcache (one fetch per new revision).
type EnvRepoProvenance struct {
	Cache *gitcache.Cache
	URL   string // the env repo's clone URL
	// Base is the platform file's envRepo.path ("" for the repo root).
	Base string
	// Locate, when set and URL is empty, returns URL and Base per request: `bot serve` reads
	// them from the rules repo's platform file (the pipeline's current rules).
	Locate func(ctx context.Context) (url, base string, err error)
	// GitAuth, when set, gives the credentials of each fetch (asked afresh: GitHub App
	// installation tokens expire); nil fetches anonymously.
	GitAuth func(ctx context.Context) (transport.AuthMethod, error)
}

// Source implements Provenance.
func (p *EnvRepoProvenance) Source(ctx context.Context, env, app, envCommit string) (Source, error) {
	url, base := p.URL, p.Base
	var err error
	if url == "" && p.Locate != nil {
		if url, base, err = p.Locate(ctx); err != nil {
			return Source{}, fmt.Errorf("locate the env repo: %w", err)
		}
	}
	if url == "" {
		return Source{}, errors.New("env repo URL unknown: set EnvRepoProvenance.URL or Locate")
	}
	src := gitcache.Source{URL: url, Commit: envCommit}
	if p.GitAuth != nil {
		if src.Auth, err = p.GitAuth(ctx); err != nil {
			return Source{}, fmt.Errorf("env repo %s: credentials: %w", url, err)
		}
	}
	snap, err := p.Cache.Fetch(ctx, src)
	if err != nil {
		return Source{}, fmt.Errorf("env repo %s at %s: %w", url, envCommit, err)
	}
	// The current layout first, then the first one (an app not written since the shard
	// folders came).
	path := envtree.ProvenancePath(base, env, app)
	b, err := snap.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = snap.ReadFile(envtree.LegacyProvenancePath(base, env, app)); err == nil {
			path = envtree.LegacyProvenancePath(base, env, app)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return Source{}, fmt.Errorf("%w: %s at %s", ErrNoProvenance, path, envCommit)
	}
	if err != nil {
		return Source{}, fmt.Errorf("read %s at %s: %w", path, envCommit, err)
	}
	return parseProvenance(path, b)
}

// parseProvenance reads the source of envtree's provenance record at path.
func parseProvenance(path string, b []byte) (Source, error) {
	rec, err := envtree.ParseRecord(b)
	switch {
	case errors.Is(err, envtree.ErrNoSource), err == nil && !shaRE.MatchString(rec.Source.Commit):
		return Source{}, fmt.Errorf("%w: %s has no source.repo and source.commit", ErrNoProvenance, path)
	case err != nil:
		return Source{}, fmt.Errorf("%s: %w", path, err)
	}
	return Source{Repo: rec.Source.Repo, Commit: rec.Source.Commit}, nil
}
