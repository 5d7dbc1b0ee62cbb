package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/preview"
	"github.com/scorebot/scorebot/internal/promotion"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// ErrNothingToRollBack: the env repo's history has no earlier state of the app to restore.
var ErrNothingToRollBack = errors.New("nothing to roll back to")

// RollbackRequest asks for a PR restoring an app's earlier state in one environment.
type RollbackRequest struct {
	App        string // app id; default: the rules' mapping of SourceRepo
	SourceRepo string
	Env        string
	// Commit, when set, is the app commit to go back to: the state the env commit that
	// deployed it wrote. Default: the state before the current deploy.
	Commit string
	Job    *Job
}

// Rollback opens (or updates) a PR on the bot branch scorebot/rollback/<app>/<env> that
// restores the app's own files in env (its folder and its Flux Kustomization) as an earlier
// env commit held them, found by walking the env branch's first-parent history and reading
// the app's provenance record at each commit. It never merges the PR itself.
func (p *Pipeline) Rollback(ctx context.Context, req RollbackRequest) (PromoteResult, error) {
	log := p.promoLog(req.Job).With("env", req.Env)
	lr, err := p.Rules(ctx)
	if err != nil {
		return PromoteResult{}, err
	}
	env, ok := lr.Rules.Environment(req.Env)
	if !ok {
		_, err := promotion.StepInto(lr.Rules.Platform.Environments, req.Env)
		return PromoteResult{}, Permanent(fmt.Errorf("rollback: %w", err))
	}
	app := req.App
	if app == "" {
		app = lr.Rules.AppFor(req.SourceRepo).AppID
	}
	if err := envtree.CheckName("app", app); err != nil {
		return PromoteResult{}, Permanent(fmt.Errorf("rollback: %w", err))
	}
	base := lr.Rules.Platform.EnvRepo.Path
	envBranch := promoEnvBranch(lr.Rules)
	owned := envtree.OwnedPaths(base, env.Name, app)
	res := PromoteResult{App: app, To: env.Name, Branch: promotion.RollbackBranch(app, env.Name)}

	auth, err := p.gitAuth(ctx)
	if err != nil {
		return res, err
	}
	provPaths := promoProvenancePaths(base, env.Name, app)
	var head, target *object.Commit
	var cur, prov promotion.Provenance
	// The env repo writer keeps a shallow clone, so the history is read from a clone of its
	// own, in memory and dropped afterwards: first the last commits, deeper only when the
	// deploy sought is older (Pipeline.rollbackDepths).
	for i, depth := range p.rollbackDepths {
		repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
			URL: lr.Rules.Platform.EnvRepo.URL, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName(envBranch),
			SingleBranch: true, NoCheckout: true, Tags: git.NoTags, Depth: depth,
		})
		if err != nil {
			return res, fmt.Errorf("rollback: clone the env repo: %w", err)
		}
		ref, err := repo.Reference(plumbing.NewRemoteReferenceName("origin", envBranch), true)
		if err != nil {
			return res, fmt.Errorf("rollback: env branch %s: %w", envBranch, err)
		}
		c, err := repo.CommitObject(ref.Hash())
		if err != nil {
			return res, fmt.Errorf("rollback: %w", err)
		}
		head = c
		var ok bool
		if cur, ok = promoProvenanceAt(c, provPaths); !ok {
			return res, Permanent(fmt.Errorf("rollback %s in %s: %w: %s is not deployed in %s", app, env.Name, ErrNothingToRollBack, app, env.Name))
		}
		var cut bool
		target, prov, cut, err = rollbackFind(repo, c, provPaths, cur, req.Commit)
		if err != nil {
			return res, err
		}
		if target != nil || !cut {
			break
		}
		log.Debug("rollback target not in the last commits of the env branch: reading deeper", "depth", depth, "next", p.rollbackDepths[min(i+1, len(p.rollbackDepths)-1)])
	}
	if target == nil {
		what := "an earlier deploy of " + app
		if req.Commit != "" {
			what = "a deploy of " + app + " from " + req.Commit
			if promotion.SameCommit(cur.Source.Commit, req.Commit) {
				what += " other than the current one (" + env.Name + " runs it now)"
			}
		}
		return res, Permanent(fmt.Errorf("rollback %s in %s: %w: the env branch's history has no %s", app, env.Name, ErrNothingToRollBack, what))
	}
	restored, err := promoFilesAt(target, owned)
	if err != nil {
		return res, err
	}
	res.SourceRepo, res.SourceCommit = prov.Source.Repo, prov.Source.Commit
	er, err := p.EnvRepo(ctx, lr.Rules.Platform.EnvRepo)
	if err != nil {
		return res, err
	}
	current, err := promoFilesAt(head, owned) // the app's files now, from the clone in hand
	if err != nil {
		return res, err
	}
	msg := envrepo.Message{
		Subject: fmt.Sprintf("roll back %s in %s to %s@%s", app, env.Name, prov.Source.Repo, short(prov.Source.Commit)),
		Body:    fmt.Sprintf("Restores the app's files as env commit %s held them.", short(target.Hash.String())),
		Trailers: []envrepo.Trailer{
			{Key: TrailerSourceRepo, Value: prov.Source.Repo},
			{Key: TrailerSourceCommit, Value: prov.Source.Commit},
			{Key: TrailerRulesCommit, Value: prov.Rules.Commit},
		},
	}
	pushed, err := er.PushBranch(ctx, res.Branch, envBranch, msg, envrepo.Change{Owned: owned, Files: restored})
	if err != nil {
		return res, fmt.Errorf("push %s: %w", res.Branch, err)
	}
	if !pushed.Changed && pushed.Parent == "" {
		res.UpToDate, res.Reason = true, env.Name+" already holds that state"
		return res, nil
	}
	res.BranchCommit = pushed.Commit
	desc := promotion.Description{
		Kind: promotion.KindRollback, App: app, To: env.Name,
		SourceRepo: prov.Source.Repo, SourceCommit: prov.Source.Commit,
		SourceURL:   p.promoCommitURL(prov.Source.Repo, prov.Source.Commit),
		RulesCommit: prov.Rules.Commit, Current: cur.Source.Commit, RestoredFrom: target.Hash.String(),
		Diffs: preview.Diff(current, restored),
	}
	fc, _, err := p.promoPR(ctx, req.Job, lr, &res, desc)
	if err != nil || fc == nil {
		return res, err
	}
	log.Info("rollback PR ready", "app", app, "pr", res.PR, "to", prov.Source.Repo+"@"+short(prov.Source.Commit), "restored_from", short(target.Hash.String()))
	return res, nil
}

// rollbackFind walks the first-parent history from c for the commit whose provenance record
// (at one of provPaths) names the app commit sought: want, or, when want is empty, the
// latest one other than cur's. cut is true when the walk ended at the edge of a shallow
// clone rather than at the first commit.
func rollbackFind(repo *git.Repository, c *object.Commit, provPaths []string, cur promotion.Provenance, want string) (target *object.Commit, prov promotion.Provenance, cut bool, err error) {
	for {
		pv, found := promoProvenanceAt(c, provPaths)
		switch {
		case !found:
		case want != "" && promotion.SameCommit(pv.Source.Commit, want) && !promotion.SameCommit(cur.Source.Commit, want):
			return c, pv, false, nil
		case want == "" && pv.Source.Commit != cur.Source.Commit:
			return c, pv, false, nil
		}
		if len(c.ParentHashes) == 0 {
			return nil, promotion.Provenance{}, false, nil
		}
		parent, err := repo.CommitObject(c.ParentHashes[0])
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, promotion.Provenance{}, true, nil
		}
		if err != nil {
			return nil, promotion.Provenance{}, false, fmt.Errorf("rollback: walk the env history: %w", err)
		}
		c = parent
	}
}

// promoProvenanceAt reads the provenance record at file in commit c.
func promoProvenanceAt(c *object.Commit, files []string) (promotion.Provenance, bool) {
	for _, file := range files {
		f, err := c.File(file)
		if err != nil {
			continue
		}
		s, err := f.Contents()
		if err != nil {
			continue
		}
		if prov, err := promotion.ParseProvenance([]byte(s)); err == nil {
			return prov, true
		}
	}
	return promotion.Provenance{}, false
}

// promoFilesAt reads the files under prefixes (folders end in "/") in commit c, looking up
// only those paths.
func promoFilesAt(c *object.Commit, prefixes []string) (map[string][]byte, error) {
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("rollback: tree of %s: %w", c.Hash, err)
	}
	out := map[string][]byte{}
	for _, pre := range prefixes {
		name := strings.TrimSuffix(pre, "/")
		if !strings.HasSuffix(pre, "/") {
			f, err := root.File(name)
			if errors.Is(err, object.ErrFileNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("rollback: read %s at %s: %w", name, c.Hash, err)
			}
			s, err := f.Contents()
			if err != nil {
				return nil, fmt.Errorf("rollback: read %s at %s: %w", name, c.Hash, err)
			}
			out[name] = []byte(s)
			continue
		}
		sub, err := root.Tree(name)
		if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rollback: read %s at %s: %w", name, c.Hash, err)
		}
		err = sub.Files().ForEach(func(f *object.File) error {
			s, err := f.Contents()
			if err != nil {
				return err
			}
			out[name+"/"+f.Name] = []byte(s)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("rollback: read %s at %s: %w", name, c.Hash, err)
		}
	}
	return out, nil
}
