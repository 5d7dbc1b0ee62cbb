package envrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Head fetches and returns the sha of the configured branch ("" when it does not exist yet).
func (r *Repo) Head(ctx context.Context) (string, error) {
	return r.BranchHead(ctx, r.cfg.Branch)
}

// BranchHead fetches and returns the sha of branch ("" when it does not exist).
func (r *Repo) BranchHead(ctx context.Context, branch string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	heads, err := r.sync(ctx, branch)
	if err != nil {
		return "", fmt.Errorf("envrepo: head of %s: %w", branch, err)
	}
	return hashString(heads[branch]), nil
}

// Branch is one branch of the env repo on the server.
type Branch struct{ Name, Head string }

// Branches lists the server's branches whose names start with prefix, sorted by name: one
// ref advertisement, nothing fetched.
func (r *Repo) Branches(ctx context.Context, prefix string) ([]Branch, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: r.cfg.Auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("envrepo: list branches: %w", err)
	}
	var out []Branch
	for _, ref := range refs {
		if name, ok := strings.CutPrefix(ref.Name().String(), "refs/heads/"); ok && ref.Type() == plumbing.HashReference && strings.HasPrefix(name, prefix) {
			out = append(out, Branch{Name: name, Head: ref.Hash().String()})
		}
	}
	slices.SortFunc(out, func(a, b Branch) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ReadTree returns the files under each prefix (a directory or a file path; none, or "",
// for the whole repo) in the configured branch's current head, keyed by their full path, with
// one fetch. A missing prefix or an empty repo gives no files.
func (r *Repo) ReadTree(ctx context.Context, prefixes ...string) (map[string][]byte, error) {
	return r.ReadBranchTree(ctx, r.cfg.Branch, prefixes...)
}

// ReadBranchTree is ReadTree for another branch.
func (r *Repo) ReadBranchTree(ctx context.Context, branch string, prefixes ...string) (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out map[string][]byte
	err := r.healing(ctx, "read "+branch, func() (err error) {
		out, err = r.readBranchTree(ctx, branch, prefixes)
		return err
	})
	return out, err
}

func (r *Repo) readBranchTree(ctx context.Context, branch string, prefixes []string) (map[string][]byte, error) {
	heads, err := r.sync(ctx, branch)
	if err != nil {
		return nil, fmt.Errorf("envrepo: read %s: %w", branch, err)
	}
	out := map[string][]byte{}
	head := heads[branch]
	if head.IsZero() {
		return out, nil
	}
	c, err := object.GetCommit(r.store, head)
	if err != nil {
		return nil, fmt.Errorf("envrepo: read %s: %w", head, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("envrepo: read %s: %w", head, err)
	}
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	for _, prefix := range prefixes {
		if err := r.readUnder(tree, prefix, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readUnder adds the files under prefix of tree to out.
func (r *Repo) readUnder(tree *object.Tree, prefix string, out map[string][]byte) error {
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if _, err := cleanPath("prefix", prefix); err != nil {
			return err
		}
		e, err := tree.FindEntry(prefix)
		if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("envrepo: read %s: %w", prefix, err)
		}
		if e.Mode != filemode.Dir {
			b, err := r.readBlob(e.Hash)
			if err != nil {
				return err
			}
			out[prefix] = b
			return nil
		}
		if tree, err = object.GetTree(r.store, e.Hash); err != nil {
			return fmt.Errorf("envrepo: read %s: %w", prefix, err)
		}
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("envrepo: read %s: %w", prefix, err)
		}
		if !e.Mode.IsFile() {
			continue
		}
		b, err := r.readBlob(e.Hash)
		if err != nil {
			return err
		}
		if prefix != "" {
			name = prefix + "/" + name
		}
		out[name] = b
	}
}

func (r *Repo) readBlob(h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(r.store, h)
	if err != nil {
		return nil, fmt.Errorf("envrepo: read blob %s: %w", h, err)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("envrepo: read blob %s: %w", h, err)
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// CommitInfo describes one commit of the env repo.
type CommitInfo struct {
	Hash      string
	Parents   []string
	Author    Identity
	When      time.Time
	Message   string
	Signature string // armored signature, "" when unsigned
}

// Log fetches and returns up to n commits of the configured branch, newest first, following
// first parents. It stops early at the local clone's shallow boundary.
func (r *Repo) Log(ctx context.Context, n int) ([]CommitInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []CommitInfo
	err := r.healing(ctx, "log", func() (err error) {
		out, err = r.readLog(ctx, n)
		return err
	})
	return out, err
}

func (r *Repo) readLog(ctx context.Context, n int) ([]CommitInfo, error) {
	heads, err := r.sync(ctx, r.cfg.Branch)
	if err != nil {
		return nil, fmt.Errorf("envrepo: log: %w", err)
	}
	var out []CommitInfo
	h := heads[r.cfg.Branch]
	for !h.IsZero() && len(out) < n {
		c, err := object.GetCommit(r.store, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			break // shallow boundary
		}
		if err != nil {
			return nil, fmt.Errorf("envrepo: log: %w", err)
		}
		info := CommitInfo{Hash: c.Hash.String(), Author: Identity{c.Author.Name, c.Author.Email}, When: c.Committer.When, Message: c.Message, Signature: c.PGPSignature}
		for _, p := range c.ParentHashes {
			info.Parents = append(info.Parents, p.String())
		}
		out = append(out, info)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	return out, nil
}
