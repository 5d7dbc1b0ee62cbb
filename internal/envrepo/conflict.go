package envrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
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
	return r.diverged(ctx, entry{built.TreeHash, true}, entry{c.TreeHash, true}, entry{now.TreeHash, true})
}

// entry is a tree entry reduced to what the three-way check needs; a zero hash is "absent".
type entry struct {
	hash plumbing.Hash
	tree bool
}

// folderOrNone: a folder, or nothing (compared as an empty folder).
func (e entry) folderOrNone() bool { return e.tree || e.hash.IsZero() }

// diverged reports whether, at one path, base changed (then → now) what the branch changed
// (then → mine) to something else. It descends only into folders that all three hold
// differently (an absent folder counts as empty), so it reads a few trees on the changed
// paths, not the repo.
func (r *Repo) diverged(ctx context.Context, then, mine, now entry) (bool, error) {
	switch {
	case then.hash == mine.hash: // the branch leaves this path alone
		return false, nil
	case now.hash == then.hash || now.hash == mine.hash: // base left it, or holds the branch's
		return false, nil
	case !then.folderOrNone() || !mine.folderOrNone() || !now.folderOrNone():
		return true, nil // a file changed both ways
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var kids [3]map[string]entry
	for i, e := range []entry{then, mine, now} {
		if e.hash.IsZero() {
			continue
		}
		t, err := object.GetTree(r.store, e.hash)
		if err != nil {
			return false, fmt.Errorf("read tree %s: %w", e.hash, err)
		}
		kids[i] = make(map[string]entry, len(t.Entries))
		for _, te := range t.Entries {
			kids[i][te.Name] = entry{te.Hash, te.Mode == filemode.Dir}
		}
	}
	names := make([]string, 0, len(kids[0])+len(kids[1]))
	for _, m := range kids[:2] {
		for n := range m {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		d, err := r.diverged(ctx, kids[0][n], kids[1][n], kids[2][n])
		if err != nil || d {
			return d, err
		}
	}
	return false, nil
}
