package devbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
)

// obj is a JSON object; encoding/json writes map keys sorted, so payloads are byte-stable.
type obj = map[string]any

// maxPushCommits is how many commits GitHub lists in a push webhook.
const maxPushCommits = 20

// webhookURLs builds the url fields of payloads from the sandbox root.
type webhookURLs struct{ root string }

func (u webhookURLs) html(format string, a ...any) string { return u.root + fmt.Sprintf(format, a...) }

// pushPayload renders a ref update of a local repo as GitHub's push webhook.
func pushPayload(ctx context.Context, gh *standin.Server, gitDir, root, repo, pusher string, up githost.RefUpdate, now time.Time) ([]byte, error) {
	u := webhookURLs{root: root}
	created, deleted := up.Old == githost.ZeroSHA, up.New == githost.ZeroSHA
	commits := []obj{}
	var head any
	forced := false
	if !deleted {
		shas, err := newCommits(ctx, gitDir, up)
		if err != nil {
			return nil, err
		}
		for _, sha := range shas {
			c, err := commitJSON(ctx, u, gitDir, repo, sha, true)
			if err != nil {
				return nil, err
			}
			commits = append(commits, c)
		}
		h, err := commitJSON(ctx, u, gitDir, repo, up.New, len(shas) > 0 && shas[len(shas)-1] == up.New)
		if err != nil {
			return nil, err
		}
		head = h
		if !created {
			// A push that is not a fast-forward is a forced one.
			if _, err := git(ctx, gitDir, "merge-base", "--is-ancestor", up.Old, up.New); err != nil {
				forced = true
			}
		}
	}
	payload := obj{
		"ref": up.Name, "before": up.Old, "after": up.New,
		"created": created, "deleted": deleted, "forced": forced, "base_ref": nil,
		"compare":     u.html("/%s/%s/compare/%s...%s", Owner, repo, up.Old[:12], up.New[:12]),
		"commits":     commits,
		"head_commit": head,
		"repository":  gh.PushRepositoryJSON(Owner, repo, now),
		"pusher":      obj{"name": pusher, "email": pusher + "@users.noreply.scorebot.invalid"},
		"sender":      gh.UserJSON(pusher),
	}
	return json.Marshal(payload)
}

// newCommits lists the commits a push brought, oldest first (at most the newest 20): those
// reachable from the new head and not from the old one, or, for a new ref, from no other ref.
func newCommits(ctx context.Context, gitDir string, up githost.RefUpdate) ([]string, error) {
	args := []string{"rev-list", "--reverse", fmt.Sprintf("--max-count=%d", maxPushCommits), up.New}
	if up.Old != githost.ZeroSHA {
		args = append(args, "^"+up.Old)
	} else {
		out, err := git(ctx, gitDir, "for-each-ref", "--format=%(objectname) %(refname)")
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			sha, ref, ok := strings.Cut(line, " ")
			if ok && ref != up.Name && sha != up.New {
				args = append(args, "^"+sha)
			}
		}
	}
	out, err := git(ctx, gitDir, args...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// commitJSON is a commit as push webhooks list it.
func commitJSON(ctx context.Context, u webhookURLs, gitDir, repo, sha string, distinct bool) (obj, error) {
	const sep = "\x1f"
	out, err := git(ctx, gitDir, "show", "-s", "--format=%H"+sep+"%T"+sep+"%an"+sep+"%ae"+sep+"%aI"+sep+"%cn"+sep+"%ce"+sep+"%P"+sep+"%B", sha)
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(out, sep, 9)
	if len(f) != 9 {
		return nil, fmt.Errorf("git show %s: unexpected output", sha)
	}
	diff := []string{"diff-tree", "-r", "--name-status", "--no-commit-id", "--root", sha}
	if parents := strings.Fields(f[7]); len(parents) > 0 {
		// A merge lists what it brought to its first parent, as GitHub does.
		diff = []string{"diff-tree", "-r", "--name-status", parents[0], sha}
	}
	changes, err := git(ctx, gitDir, diff...)
	if err != nil {
		return nil, err
	}
	added, removed, modified := []string{}, []string{}, []string{}
	for _, line := range strings.Split(changes, "\n") {
		status, path, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		switch status[:1] {
		case "A":
			added = append(added, path)
		case "D":
			removed = append(removed, path)
		default:
			modified = append(modified, path)
		}
	}
	return obj{
		"id": f[0], "tree_id": f[1], "distinct": distinct,
		"message": strings.TrimRight(f[8], "\n"), "timestamp": f[4],
		"url":    u.html("/%s/%s/commit/%s", Owner, repo, f[0]),
		"author": obj{"name": f[2], "email": f[3]}, "committer": obj{"name": f[5], "email": f[6]},
		"added": added, "removed": removed, "modified": modified,
	}, nil
}

func git(ctx context.Context, gitDir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(cmd.Environ(), "GIT_DIR="+gitDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s in %s: %w: %s", args[0], gitDir, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
