package githost

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Seed creates repo name if it does not exist and commits files as the whole tree of main
// (on top of main's head when there is one). It returns the new commit. Seeding is setup, so it
// does not call OnPush.
func (h *Host) Seed(name string, files map[string][]byte, msg string) (string, error) {
	if !h.Exists(name) {
		if err := h.Create(name); err != nil {
			return "", err
		}
	}
	return h.Commit(context.Background(), name, DefaultBranch, files, msg)
}

// Commit writes files as the whole tree of a new commit on branch of repo name, whose parent is
// the branch head (none when the branch is new), without a worktree (git fast-import). It does
// not call OnPush.
func (h *Host) Commit(ctx context.Context, name, branch string, files map[string][]byte, msg string) (string, error) {
	if !h.Exists(name) {
		return "", fmt.Errorf("githost: commit to %s: %w", name, ErrNotFound)
	}
	l := h.lock(name)
	l.Lock()
	defer l.Unlock()
	dir := h.Dir(name)
	ref := "refs/heads/" + branch
	if _, err := h.git(ctx, "", nil, "check-ref-format", ref); err != nil {
		return "", fmt.Errorf("githost: commit to %s: branch %q: %w", name, branch, err)
	}
	parent, _ := h.git(ctx, dir, nil, "rev-parse", "--verify", "--quiet", ref+"^{commit}")

	var b strings.Builder
	fmt.Fprintf(&b, "commit %s\n", ref)
	who := h.committer()
	fmt.Fprintf(&b, "author %s %d +0000\n", who, time.Now().Unix())
	fmt.Fprintf(&b, "committer %s %d +0000\n", who, time.Now().Unix())
	fmt.Fprintf(&b, "data %d\n%s\n", len(msg), msg)
	if parent != "" {
		fmt.Fprintf(&b, "from %s\n", parent)
	}
	b.WriteString("deleteall\n")
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\n") || strings.Contains(p, "\"") {
			return "", fmt.Errorf("githost: commit to %s: invalid path %q", name, p)
		}
		fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n", p, len(files[p]))
		b.Write(files[p])
		b.WriteString("\n")
	}
	b.WriteString("done\n")
	if _, err := h.git(ctx, dir, strings.NewReader(b.String()), "fast-import", "--quiet", "--done"); err != nil {
		return "", fmt.Errorf("githost: commit to %s: %w", name, err)
	}
	sha, err := h.git(ctx, dir, nil, "rev-parse", ref)
	if err != nil {
		return "", fmt.Errorf("githost: commit to %s: %w", name, err)
	}
	return sha, nil
}

func (h *Host) committer() string {
	name, email := "Scorebot Dev", "scorebot@localhost"
	for _, kv := range h.identity {
		if v, ok := strings.CutPrefix(kv, "GIT_COMMITTER_NAME="); ok {
			name = v
		}
		if v, ok := strings.CutPrefix(kv, "GIT_COMMITTER_EMAIL="); ok {
			email = v
		}
	}
	return name + " <" + email + ">"
}

// Merge merges branch head into branch base of repo name the way GitHub's merge button does: a
// merge commit with base and head as parents, msg as its message. When head is already
// contained in base it returns base's head unchanged. A conflict returns ErrMergeConflict and
// changes nothing. A merge that moved base is reported to OnPush.
func (h *Host) Merge(name, base, head, msg string) (string, error) {
	ctx := context.Background()
	if !h.Exists(name) {
		return "", fmt.Errorf("githost: merge in %s: %w", name, ErrNotFound)
	}
	l := h.lock(name)
	l.Lock()
	defer l.Unlock()
	dir := h.Dir(name)
	baseSHA, err := h.git(ctx, dir, nil, "rev-parse", "--verify", "refs/heads/"+base+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("githost: merge in %s: base branch %q: %w", name, base, err)
	}
	headSHA, err := h.git(ctx, dir, nil, "rev-parse", "--verify", "refs/heads/"+head+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("githost: merge in %s: head branch %q: %w", name, head, err)
	}
	if _, err := h.git(ctx, dir, nil, "merge-base", "--is-ancestor", headSHA, baseSHA); err == nil {
		return baseSHA, nil
	}
	tree, err := h.git(ctx, dir, nil, "merge-tree", "--write-tree", "--no-messages", baseSHA, headSHA)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return "", fmt.Errorf("githost: merge %s into %s in %s: %w", head, base, name, ErrMergeConflict)
		}
		return "", fmt.Errorf("githost: merge in %s: %w", name, err)
	}
	tree, _, _ = strings.Cut(tree, "\n")
	sha, err := h.git(ctx, dir, strings.NewReader(msg), "commit-tree", tree, "-p", baseSHA, "-p", headSHA)
	if err != nil {
		return "", fmt.Errorf("githost: merge in %s: %w", name, err)
	}
	if _, err := h.git(ctx, dir, nil, "update-ref", "-m", "merge "+head, "refs/heads/"+base, sha, baseSHA); err != nil {
		return "", fmt.Errorf("githost: merge in %s: %w", name, err)
	}
	h.notify(name, []RefUpdate{{Name: "refs/heads/" + base, Old: baseSHA, New: sha}})
	return sha, nil
}
