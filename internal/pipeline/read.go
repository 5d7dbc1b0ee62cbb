package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/scorebot/scorebot/internal/gitcache"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// LoadedRules is the rules repo at one commit.
type LoadedRules struct {
	Rules  *rules.Rules
	Commit string
}

// rulesCache keeps the rules at the head last seen, and every loaded commit by sha.
type rulesCache struct {
	mu       sync.Mutex
	current  *LoadedRules
	loadedAt time.Time
	byCommit map[string]*LoadedRules
}

// Rules returns the rules repo at its current head: cached, refreshed by a rules push
// or when older than Config.RulesMaxAge.
func (p *Pipeline) Rules(ctx context.Context) (*LoadedRules, error) {
	p.rules.mu.Lock()
	cur, at := p.rules.current, p.rules.loadedAt
	p.rules.mu.Unlock()
	if cur != nil && time.Since(at) < p.cfg.RulesMaxAge {
		return cur, nil
	}
	lr, err := p.RulesAt(ctx, "")
	if err != nil {
		return nil, err
	}
	p.setCurrentRules(lr)
	return lr, nil
}

// RulesAt loads the rules repo at commit ("" = the branch head), cached by commit.
func (p *Pipeline) RulesAt(ctx context.Context, commit string) (*LoadedRules, error) {
	if commit != "" {
		p.rules.mu.Lock()
		lr := p.rules.byCommit[commit]
		p.rules.mu.Unlock()
		if lr != nil {
			return lr, nil
		}
	}
	auth, err := p.gitAuth(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := p.cache.Fetch(ctx, gitcache.Source{URL: p.cfg.RulesURL, Branch: p.cfg.RulesBranch, Commit: commit, Auth: auth})
	if err != nil {
		return nil, transient(fmt.Errorf("fetch rules repo %s@%s: %w", p.cfg.RulesRepo, shortOr(commit, p.cfg.RulesBranch), err))
	}
	p.rules.mu.Lock()
	lr := p.rules.byCommit[snap.Commit]
	p.rules.mu.Unlock()
	if lr != nil {
		return lr, nil
	}
	r, err := rules.Load(snap)
	if err != nil {
		return nil, Permanent(fmt.Errorf("rules repo %s@%s: %w", p.cfg.RulesRepo, short(snap.Commit), err))
	}
	lr = &LoadedRules{Rules: r, Commit: snap.Commit}
	p.rules.mu.Lock()
	if p.rules.byCommit == nil {
		p.rules.byCommit = map[string]*LoadedRules{}
	}
	p.rules.byCommit[snap.Commit] = lr
	p.rules.mu.Unlock()
	return lr, nil
}

func (p *Pipeline) setCurrentRules(lr *LoadedRules) {
	p.rules.mu.Lock()
	defer p.rules.mu.Unlock()
	p.rules.current, p.rules.loadedAt = lr, time.Now()
	// A small cache: the current rules and a few recent ones (previews compare two).
	if len(p.rules.byCommit) > 8 {
		for c := range p.rules.byCommit {
			if c != lr.Commit {
				delete(p.rules.byCommit, c)
			}
		}
	}
}

// App is one app commit, read: its id and Score files.
type App struct {
	Repo   string
	Commit string
	AppID  string
	Files  []render.ScoreFile
}

// ReadApp fetches exactly commit of repo and finds its Score files with the rules'
// mapping (default score.yaml at the root). paths, when given, are the Score files to read
// instead (a re-render reads what the provenance record names).
func (p *Pipeline) ReadApp(ctx context.Context, r *rules.Rules, repo, cloneURL, commit string, paths ...string) (*App, error) {
	auth, err := p.gitAuth(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := p.cache.Fetch(ctx, gitcache.Source{URL: p.cloneURL(repo, cloneURL), Commit: commit, Auth: auth})
	if err != nil {
		return nil, transient(fmt.Errorf("fetch %s@%s: %w", repo, short(commit), err))
	}
	mapping := r.AppFor(repo)
	if len(paths) == 0 {
		for _, g := range mapping.ScoreFiles {
			m, err := fs.Glob(snap, g)
			if err != nil {
				return nil, Permanent(fmt.Errorf("rules: apps[%s].scoreFiles: bad glob %q: %w", repo, g, err))
			}
			paths = append(paths, m...)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if len(paths) == 0 {
		return nil, Permanent(fmt.Errorf("%s@%s: no file matches %q: add a score.yaml at the repo root, or map the repo's Score files in the rules repo's platform.yaml (apps[].scoreFiles): %w",
			repo, short(commit), mapping.ScoreFiles, ErrNoScoreFiles))
	}
	app := &App{Repo: repo, Commit: snap.Commit, AppID: mapping.AppID}
	for _, p := range paths {
		data, err := snap.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, Permanent(fmt.Errorf("%s@%s: Score file %s: %w", repo, short(commit), p, ErrNoScoreFiles))
			}
			return nil, transient(fmt.Errorf("read %s@%s:%s: %w", repo, short(commit), p, err))
		}
		dir := path.Dir(p)
		app.Files = append(app.Files, render.ScoreFile{Path: p, Data: data, ReadFile: func(rel string) ([]byte, error) {
			return snap.ReadFile(path.Join(dir, rel))
		}})
	}
	return app, nil
}

// remoteHead asks the server where branch of repo points now ("" when it does not exist).
func remoteHead(ctx context.Context, url, branch string, auth transport.AuthMethod) (string, error) {
	remote := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return "", nil
		}
		return "", fmt.Errorf("list refs of %s: %w", url, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash().String(), nil
		}
	}
	return "", nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func shortOr(sha, alt string) string {
	if sha == "" {
		return alt
	}
	return short(sha)
}
