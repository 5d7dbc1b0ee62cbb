package envrepo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Behind returns those of branches, bot branches PushBranch made (one commit on base), that
// no longer merge cleanly into base: base has moved since the commit the branch was built on
// and changed a path the branch changes to something other than what the branch holds. A
// branch on base's head, a branch whose paths base left alone (or already holds as the
// branch has them), and a missing branch are not behind; a missing base makes none behind.
// When the commit a branch was built on is not in the local clone, it counts as behind:
// building again is always safe. One fetch serves every branch.
func (r *Repo) Behind(ctx context.Context, base string, branches ...string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	heads, err := r.sync(ctx, append([]string{base}, branches...)...)
	if err != nil {
		return nil, fmt.Errorf("envrepo: compare %v with %s: %w", branches, base, err)
	}
	if heads[base].IsZero() {
		return nil, nil
	}
	var out []string
	for _, b := range branches {
		behind, err := r.behind(ctx, heads[b], heads[base])
		if err != nil {
			return nil, fmt.Errorf("envrepo: compare %s with %s: %w", b, base, err)
		}
		if behind {
			out = append(out, b)
		}
	}
	return out, nil
}

// behind is Behind for one branch at tip and base at head.
func (r *Repo) behind(ctx context.Context, tip, head plumbing.Hash) (bool, error) {
	if tip.IsZero() {
		return false, nil
	}
	c, err := object.GetCommit(r.store, tip)
	if err != nil {
		return false, fmt.Errorf("read head %s: %w", tip, err)
	}
	if len(c.ParentHashes) == 0 || c.ParentHashes[0] == head {
		return false, nil
	}
	built, err := object.GetCommit(r.store, c.ParentHashes[0])
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the base %s: %w", c.ParentHashes[0], err)
	}
	now, err := object.GetCommit(r.store, head)
	if err != nil {
		return false, fmt.Errorf("read commit %s: %w", head, err)
	}
	trees := make([]*object.Tree, 3)
	for i, cc := range []*object.Commit{built, c, now} {
		if trees[i], err = cc.Tree(); err != nil {
			return false, fmt.Errorf("tree of %s: %w", cc.Hash, err)
		}
	}
	then, mine, cur := trees[0], trees[1], trees[2]
	changes, err := object.DiffTreeWithOptions(ctx, then, mine, nil)
	if err != nil {
		return false, fmt.Errorf("diff against its base: %w", err)
	}
	for _, ch := range changes {
		for _, p := range []string{ch.From.Name, ch.To.Name} {
			if p == "" {
				continue
			}
			var h [3]plumbing.Hash
			for i, t := range []*object.Tree{then, mine, cur} {
				if h[i], err = entryHash(t, p); err != nil {
					return false, err
				}
			}
			if h[2] != h[0] && h[2] != h[1] {
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
