package envrepo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Behind reports whether branch, a bot branch PushBranch made (one commit on base), no
// longer merges cleanly into base: base has moved since the commit the branch was built on,
// and changed a path the branch changes to something other than what the branch holds. A
// branch on base's head, a branch whose paths base left alone (or already holds as the
// branch has them), and a missing branch or base are not behind. When the commit the branch
// was built on is not in the local clone, the answer is true: building again is always safe.
func (r *Repo) Behind(ctx context.Context, branch, base string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	heads, err := r.sync(ctx, base, branch)
	if err != nil {
		return false, fmt.Errorf("envrepo: compare %s with %s: %w", branch, base, err)
	}
	head, tip := heads[base], heads[branch]
	if head.IsZero() || tip.IsZero() {
		return false, nil
	}
	c, err := object.GetCommit(r.store, tip)
	if err != nil {
		return false, fmt.Errorf("envrepo: read %s head %s: %w", branch, tip, err)
	}
	if len(c.ParentHashes) == 0 || c.ParentHashes[0] == head {
		return false, nil
	}
	built, err := object.GetCommit(r.store, c.ParentHashes[0])
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("envrepo: read %s's base %s: %w", branch, c.ParentHashes[0], err)
	}
	trees := make([]*object.Tree, 3)
	for i, h := range []plumbing.Hash{built.Hash, tip, head} {
		cc, err := object.GetCommit(r.store, h)
		if err != nil {
			return false, fmt.Errorf("envrepo: read commit %s: %w", h, err)
		}
		if trees[i], err = cc.Tree(); err != nil {
			return false, fmt.Errorf("envrepo: tree of %s: %w", h, err)
		}
	}
	then, mine, now := trees[0], trees[1], trees[2]
	changes, err := object.DiffTreeWithOptions(ctx, then, mine, nil)
	if err != nil {
		return false, fmt.Errorf("envrepo: diff %s against its base: %w", branch, err)
	}
	for _, ch := range changes {
		for _, p := range []string{ch.From.Name, ch.To.Name} {
			if p == "" {
				continue
			}
			before, err := entryHash(then, p)
			if err != nil {
				return false, err
			}
			want, err := entryHash(mine, p)
			if err != nil {
				return false, err
			}
			got, err := entryHash(now, p)
			if err != nil {
				return false, err
			}
			if got != before && got != want {
				return true, nil
			}
		}
	}
	return false, nil
}

// entryHash is the object at path p of t, ZeroHash when there is none.
func entryHash(t *object.Tree, p string) (plumbing.Hash, error) {
	e, err := t.FindEntry(p)
	switch {
	case errors.Is(err, object.ErrEntryNotFound), errors.Is(err, object.ErrDirectoryNotFound):
		return plumbing.ZeroHash, nil
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("envrepo: look up %s: %w", p, err)
	}
	return e.Hash, nil
}
