package envrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"github.com/scorebot/scorebot/internal/gitstore"
)

// errStale: the branch moved on the server after we read it; rebuild on the new head.
var errStale = errors.New("env repo branch moved")

// Apply commits changes to the configured branch with message msg and pushes the commit. A
// change that leaves the tree as it is makes no commit (Result.Changed false). The first try
// builds on the head this clone last saw, without asking the server; when another writer pushed
// first, it fetches, rebuilds on the new head and retries. It never force-pushes.
func (r *Repo) Apply(ctx context.Context, msg Message, changes ...Change) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	optimistic := true
	return r.retry(ctx, "apply", func(ctx context.Context) (Result, error) {
		res, err := r.applyOnce(ctx, msg, changes, optimistic)
		optimistic = false
		return res, err
	})
}

func (r *Repo) applyOnce(ctx context.Context, msg Message, changes []Change, optimistic bool) (Result, error) {
	branch := r.cfg.Branch
	var parent plumbing.Hash
	synced := false
	ref, err := r.store.Reference(trackingRef(branch))
	if optimistic && err == nil {
		parent = ref.Hash()
	} else {
		heads, err := r.sync(ctx, branch)
		if err != nil {
			return Result{}, err
		}
		parent, synced = heads[branch], true
	}
	for {
		b, tree, err := r.build(parent, changes)
		if err != nil {
			return Result{}, err
		}
		same, err := r.sameTree(parent, tree)
		if err != nil {
			return Result{}, err
		}
		if !same {
			commit, err := r.commit(b, tree, msg, parent)
			if err != nil {
				return Result{}, err
			}
			err = r.push(ctx, branchRef(branch), parent, commit, b)
			if err == nil {
				r.keep(b, branch, commit)
				return Result{Changed: true, Commit: commit.String(), Parent: hashString(parent)}, nil
			}
			if !errors.Is(err, errStale) || synced {
				return Result{}, err
			}
		} else if synced {
			return Result{Commit: hashString(parent)}, nil
		}
		// Built on what this clone last saw, which is not the server's head (or may not be):
		// look, and build again.
		heads, err := r.sync(ctx, branch)
		if err != nil {
			return Result{}, err
		}
		parent, synced = heads[branch], true
	}
}

// PushBranch points the bot-owned branch at a commit of base's head plus changes, creating or
// force-updating it (with a lease: only over the value it read). Only branches under
// Config.BotBranchPrefix may be written this way. When base plus changes is base's tree, nothing
// is pushed and Result.Changed is false; when branch already holds exactly that commit content
// on base's head, it is left alone (Changed false, Commit its head).
func (r *Repo) PushBranch(ctx context.Context, branch, base string, msg Message, changes ...Change) (Result, error) {
	if !strings.HasPrefix(branch, r.cfg.BotBranchPrefix) || branch == r.cfg.BotBranchPrefix {
		return Result{}, fmt.Errorf("envrepo: push branch %q: %w: only branches under %q may be force-updated", branch, ErrNotBotBranch, r.cfg.BotBranchPrefix)
	}
	if err := plumbing.NewBranchReferenceName(branch).Validate(); err != nil {
		return Result{}, fmt.Errorf("envrepo: push branch %q: %w", branch, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retry(ctx, "push branch", func(ctx context.Context) (Result, error) {
		heads, err := r.sync(ctx, base, branch)
		if err != nil {
			return Result{}, err
		}
		baseHead, cur := heads[base], heads[branch]
		if baseHead.IsZero() {
			return Result{}, fmt.Errorf("envrepo: base branch %q: %w", base, ErrNoBranch)
		}
		b, tree, err := r.build(baseHead, changes)
		if err != nil {
			return Result{}, err
		}
		if same, err := r.sameTree(baseHead, tree); err != nil || same {
			return Result{Commit: baseHead.String()}, err
		}
		if !cur.IsZero() {
			c, err := object.GetCommit(r.store, cur)
			if err != nil {
				return Result{}, fmt.Errorf("read %s head %s: %w", branch, cur, err)
			}
			if c.TreeHash == tree && len(c.ParentHashes) == 1 && c.ParentHashes[0] == baseHead {
				return Result{Commit: cur.String(), Parent: baseHead.String()}, nil
			}
		}
		commit, err := r.commit(b, tree, msg, baseHead)
		if err != nil {
			return Result{}, err
		}
		if err := r.push(ctx, branchRef(branch), cur, commit, b); err != nil {
			return Result{}, err
		}
		r.keep(b, branch, commit)
		return Result{Changed: true, Commit: commit.String(), Parent: baseHead.String()}, nil
	})
}

// DeleteBranch deletes the bot-owned branch (with a lease: only the value it read), and when
// at is set only while the branch is at that commit, so a branch pushed again since is kept.
// Only branches under Config.BotBranchPrefix may be deleted; a branch that does not exist (or
// has moved from at) is not an error, and deleted says whether it was deleted.
func (r *Repo) DeleteBranch(ctx context.Context, branch, at string) (deleted bool, err error) {
	if !strings.HasPrefix(branch, r.cfg.BotBranchPrefix) || branch == r.cfg.BotBranchPrefix {
		return false, fmt.Errorf("envrepo: delete branch %q: %w: only branches under %q may be deleted", branch, ErrNotBotBranch, r.cfg.BotBranchPrefix)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.retry(ctx, "delete branch", func(ctx context.Context) (Result, error) {
		heads, err := r.sync(ctx, branch)
		if err != nil {
			return Result{}, err
		}
		cur := heads[branch]
		if cur.IsZero() || at != "" && cur.String() != at {
			return Result{}, nil
		}
		if err := r.push(ctx, branchRef(branch), cur, plumbing.ZeroHash, nil); err != nil {
			return Result{}, err
		}
		_ = r.store.RemoveReference(trackingRef(branch))
		return Result{Changed: true, Parent: cur.String()}, nil
	})
	return res.Changed, err
}

// retry runs attempt until it succeeds, fails permanently, or MaxAttempts is reached.
func (r *Repo) retry(ctx context.Context, what string, attempt func(context.Context) (Result, error)) (Result, error) {
	var last error
	for i := 1; i <= r.cfg.MaxAttempts; i++ {
		res, err := attempt(ctx)
		if err == nil {
			res.Attempts = i
			return res, nil
		}
		if permanent(ctx, err) {
			return Result{Attempts: i}, fmt.Errorf("envrepo: %s: %w", what, err)
		}
		last = err
		r.log.Warn("envrepo: retrying", "op", what, "attempt", i, "err", err)
		if localFault(ctx, err) {
			if herr := r.heal(err); herr != nil {
				return Result{Attempts: i}, fmt.Errorf("envrepo: %s: %w (after: %v)", what, herr, err)
			}
		}
		if i == r.cfg.MaxAttempts {
			break
		}
		if err := r.cfg.Sleep(ctx, r.cfg.Backoff(i)); err != nil {
			return Result{Attempts: i}, fmt.Errorf("envrepo: %s: %w (last error: %v)", what, err, last)
		}
	}
	return Result{Attempts: r.cfg.MaxAttempts}, fmt.Errorf("envrepo: %s: %w after %d attempts: %v", what, ErrPushFailed, r.cfg.MaxAttempts, last)
}

// localFault reports an error that is none of the network's, the server's or the caller's
// doing, so the local clone is to blame (a damaged object, a broken pack, a lost ref).
func localFault(ctx context.Context, err error) bool {
	var remote remoteError
	return !permanent(ctx, err) && !errors.Is(err, errStale) && !errors.As(err, &remote) && !gitstore.Elsewhere(err) &&
		!errors.Is(err, transport.ErrEmptyRemoteRepository) && !errors.Is(err, ErrSign)
}

// heal removes the local clone and starts an empty one, so the next sync fetches afresh; the
// server's copy is the truth and a damaged clone is only a cache of it. Callers hold r.mu.
func (r *Repo) heal(cause error) error {
	r.log.Warn("envrepo: local clone unreadable, cloning afresh", "dir", r.cfg.Dir, "err", cause)
	if err := os.RemoveAll(r.cfg.Dir); err != nil {
		return fmt.Errorf("remove damaged clone %s: %w", r.cfg.Dir, err)
	}
	return r.open()
}

// healing runs f, and once more on a fresh clone when the local clone was to blame.
// Callers hold r.mu.
func (r *Repo) healing(ctx context.Context, what string, f func() error) error {
	err := f()
	if err == nil || !localFault(ctx, err) {
		return err
	}
	if herr := r.heal(err); herr != nil {
		return fmt.Errorf("envrepo: %s: %w (after: %v)", what, herr, err)
	}
	return f()
}

// permanent reports errors that another attempt cannot fix.
func permanent(ctx context.Context, err error) bool {
	return ctx.Err() != nil ||
		errors.Is(err, ErrInvalidPath) || errors.Is(err, ErrNoBranch) || errors.Is(err, ErrNotBotBranch) ||
		errors.Is(err, transport.ErrRepositoryNotFound) ||
		errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrInvalidAuthMethod)
}

// sync brings the tracking refs of branches up to date with the server, fetching only what the
// local clone lacks, and returns their heads (ZeroHash for a branch that does not exist).
func (r *Repo) sync(ctx context.Context, branches ...string) (map[string]plumbing.Hash, error) {
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: r.cfg.Auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	remote := map[plumbing.ReferenceName]plumbing.Hash{}
	for _, ref := range refs {
		remote[ref.Name()] = ref.Hash()
	}
	heads := map[string]plumbing.Hash{}
	var specs []config.RefSpec
	first := true
	for _, b := range branches {
		h := remote[branchRef(b)]
		heads[b] = h
		if _, err := r.store.Reference(trackingRef(b)); err == nil {
			first = false
		}
		switch {
		case h.IsZero():
			_ = r.store.RemoveReference(trackingRef(b))
		case r.store.HasEncodedObject(h) == nil:
			if err := r.store.SetReference(plumbing.NewHashReference(trackingRef(b), h)); err != nil {
				return nil, fmt.Errorf("set tracking ref: %w", err)
			}
		default:
			specs = append(specs, config.RefSpec("+"+branchRef(b).String()+":"+trackingRef(b).String()))
		}
	}
	if len(specs) == 0 {
		return heads, nil
	}
	depth := 0
	if first {
		depth = 1 // a new clone needs only the head, not the history
	}
	err = r.remote.FetchContext(ctx, &git.FetchOptions{RefSpecs: specs, Depth: depth, Auth: r.cfg.Auth, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		// go-git indexes a fetched pack in memory even when storing it failed (a full
		// disk): read the clone from disk again, or the next read looks for a pack that is
		// not there and the whole clone is healed for it. And what the failed write left
		// on disk goes.
		gitstore.DropUnfinishedPacks(r.cfg.Dir)
		if oerr := r.open(); oerr != nil {
			return nil, fmt.Errorf("fetch: %w (then: %v)", err, oerr)
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	for _, b := range branches {
		if heads[b].IsZero() {
			continue
		}
		ref, err := r.store.Reference(trackingRef(b))
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", b, err)
		}
		heads[b] = ref.Hash()
	}
	return heads, nil
}

// build applies changes to the tree of commit parent (ZeroHash: an empty repo).
func (r *Repo) build(parent plumbing.Hash, changes []Change) (*builder, plumbing.Hash, error) {
	baseTree := plumbing.ZeroHash
	if !parent.IsZero() {
		c, err := object.GetCommit(r.store, parent)
		if err != nil {
			return nil, plumbing.ZeroHash, fmt.Errorf("read head %s: %w", parent, err)
		}
		baseTree = c.TreeHash
	}
	b := newBuilder(r.store)
	tree, err := b.rootTree(baseTree, changes)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	return b, tree, nil
}

// emptyTree is the hash of the tree with no entries.
var emptyTree = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

// sameTree reports whether tree is what parent already holds (an empty repo holds the empty tree).
func (r *Repo) sameTree(parent, tree plumbing.Hash) (bool, error) {
	if parent.IsZero() {
		return tree == emptyTree, nil
	}
	c, err := object.GetCommit(r.store, parent)
	if err != nil {
		return false, fmt.Errorf("read head %s: %w", parent, err)
	}
	return c.TreeHash == tree, nil
}

// commit writes the (optionally signed) commit object into the builder's overlay.
func (r *Repo) commit(b *builder, tree plumbing.Hash, msg Message, parent plumbing.Hash) (plumbing.Hash, error) {
	c := &object.Commit{
		Author:    r.signature(r.cfg.Author),
		Committer: r.signature(r.cfg.Committer),
		Message:   msg.String(),
		TreeHash:  tree,
	}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	if r.cfg.Signer != nil {
		unsigned := &plumbing.MemoryObject{}
		if err := c.EncodeWithoutSignature(unsigned); err != nil {
			return plumbing.ZeroHash, err
		}
		rd, err := unsigned.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		sig, err := r.cfg.Signer.Sign(rd)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%w: sign commit: %v", ErrSign, err)
		}
		c.PGPSignature = string(sig)
	}
	o := &plumbing.MemoryObject{}
	if err := c.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.put(o)
}

// push sends the builder's new objects and moves ref from old to new on the server, in one
// receive-pack request. The server applies the update only while ref still is old, so two
// writers can never overwrite each other.
func (r *Repo) push(ctx context.Context, ref plumbing.ReferenceName, old, new plumbing.Hash, b *builder) error {
	ep, err := transport.NewEndpoint(r.cfg.URL)
	if err != nil {
		return fmt.Errorf("%w: env repo URL: %v", transport.ErrRepositoryNotFound, err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return fmt.Errorf("%w: env repo URL: %v", transport.ErrRepositoryNotFound, err)
	}
	sess, err := cl.NewReceivePackSession(ep, r.cfg.Auth)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	all, err := adv.AllReferences()
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	cur := plumbing.ZeroHash
	if rf, ok := all[ref]; ok {
		cur = rf.Hash()
	}
	if cur != old {
		return fmt.Errorf("push %s: %w (now %s, built on %s)", ref, errStale, cur, old)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: old, New: new}}
	if b != nil { // nil: a deletion, which sends no pack
		pack, err := b.encodePack()
		if err != nil {
			return fmt.Errorf("push: encode pack: %w", err)
		}
		req.Packfile = io.NopCloser(bytes.NewReader(pack))
	}
	if _, err := sess.ReceivePack(ctx, req); err != nil {
		return fmt.Errorf("push %s: %w", ref, remoteError{err})
	}
	return nil
}

// remoteError is a push the server refused or the transport failed to deliver (the pack sent
// is built in memory): "unpack error" from a server whose disk is full, a declined hook. It
// says nothing about the local clone, which must not be healed for it.
type remoteError struct{ err error }

func (e remoteError) Error() string { return e.err.Error() }
func (e remoteError) Unwrap() error { return e.err }

// keep stores a pushed commit's objects in the local clone and advances the tracking ref, so
// the next write needs no fetch. Failing to is harmless: the next sync fetches them.
func (r *Repo) keep(b *builder, branch string, commit plumbing.Hash) {
	var err error
	if pw, ok := r.store.(storer.PackfileWriter); ok && len(b.new) > 256 {
		// Many objects (a first seed, a large re-render): one pack, not thousands of files.
		var w io.WriteCloser
		if w, err = pw.PackfileWriter(); err == nil {
			_, err = packfile.NewEncoder(w, b.out, false).Encode(b.new, 0)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	} else {
		err = b.writeLoose(r.cfg.Dir)
	}
	if err != nil {
		r.log.Warn("envrepo: keep pushed objects locally", "err", err)
		return
	}
	if err := r.store.SetReference(plumbing.NewHashReference(trackingRef(branch), commit)); err != nil {
		r.log.Warn("envrepo: advance tracking ref", "err", err)
	}
}

func hashString(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}
