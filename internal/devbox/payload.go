package devbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os/exec"
	"strings"
	"time"

	"github.com/scorebot/scorebot/internal/githost"
)

// obj is a JSON object; encoding/json writes map keys sorted, so payloads are byte-stable.
type obj = map[string]any

// maxPushCommits is how many commits GitHub lists in a push webhook.
const maxPushCommits = 20

// webhookURLs builds the url fields of payloads from the sandbox root.
type webhookURLs struct{ root string }

func (u webhookURLs) api(format string, a ...any) string {
	return u.root + "/api/v3" + fmt.Sprintf(format, a...)
}

func (u webhookURLs) html(format string, a ...any) string { return u.root + fmt.Sprintf(format, a...) }

// stableID is a positive id derived from a name, so a login or repo keeps its id across runs.
func stableID(kind, name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(kind + ":" + name))
	return int64(h.Sum32()&0x7fffffff) + 1
}

func (u webhookURLs) user(login string) obj {
	id := stableID("user", login)
	api := u.api("/users/%s", login)
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return obj{
		"login": login, "id": id, "node_id": fmt.Sprintf("DEV_U_%d", id), "type": typ, "site_admin": false,
		"avatar_url": u.html("/avatars/%s", login), "gravatar_id": "", "url": api, "html_url": u.html("/%s", login),
		"followers_url": api + "/followers", "following_url": api + "/following{/other_user}",
		"gists_url": api + "/gists{/gist_id}", "starred_url": api + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs",
		"repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
	}
}

// repository is the repository object of a push webhook (timestamps as Unix seconds there).
func (u webhookURLs) repository(name string, pushedAt time.Time) obj {
	full := Owner + "/" + name
	api := u.api("/repos/%s", full)
	id := stableID("repo", full)
	clone := githost.URL(u.root, name)
	return obj{
		"id": id, "node_id": fmt.Sprintf("DEV_R_%d", id), "name": name, "full_name": full, "private": false,
		"owner": u.user(Owner), "html_url": u.html("/%s", full), "description": nil, "fork": false,
		"url": u.html("/%s", full), "archive_url": api + "/{archive_format}{/ref}", "assignees_url": api + "/assignees{/user}",
		"blobs_url": api + "/git/blobs{/sha}", "branches_url": api + "/branches{/branch}",
		"collaborators_url": api + "/collaborators{/collaborator}", "comments_url": api + "/comments{/number}",
		"commits_url": api + "/commits{/sha}", "compare_url": api + "/compare/{base}...{head}",
		"contents_url": api + "/contents/{+path}", "contributors_url": api + "/contributors",
		"deployments_url": api + "/deployments", "downloads_url": api + "/downloads", "events_url": api + "/events",
		"forks_url": api + "/forks", "git_commits_url": api + "/git/commits{/sha}", "git_refs_url": api + "/git/refs{/sha}",
		"git_tags_url": api + "/git/tags{/sha}", "hooks_url": api + "/hooks",
		"issue_comment_url": api + "/issues/comments{/number}", "issue_events_url": api + "/issues/events{/number}",
		"issues_url": api + "/issues{/number}", "keys_url": api + "/keys{/key_id}", "labels_url": api + "/labels{/name}",
		"languages_url": api + "/languages", "merges_url": api + "/merges", "milestones_url": api + "/milestones{/number}",
		"notifications_url": api + "/notifications{?since,all,participating}", "pulls_url": api + "/pulls{/number}",
		"releases_url": api + "/releases{/id}", "stargazers_url": api + "/stargazers", "statuses_url": api + "/statuses/{sha}",
		"subscribers_url": api + "/subscribers", "subscription_url": api + "/subscription", "tags_url": api + "/tags",
		"teams_url": api + "/teams", "trees_url": api + "/git/trees{/sha}",
		"clone_url": clone, "git_url": clone, "ssh_url": clone, "svn_url": u.html("/%s", full),
		"mirror_url": nil, "homepage": nil, "language": nil, "license": nil,
		"default_branch": githost.DefaultBranch, "master_branch": githost.DefaultBranch,
		"forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0,
		"stargazers": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0, "size": 0,
		"has_downloads": false, "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
		"has_discussions": false, "archived": false, "disabled": false, "visibility": "public",
		"is_template": false, "topics": []string{}, "allow_forking": true, "web_commit_signoff_required": false,
		"custom_properties": obj{},
		"created_at":        int64(0), "updated_at": time.Unix(0, 0).UTC().Format(time.RFC3339), "pushed_at": pushedAt.Unix(),
	}
}

// pushPayload renders a ref update of a local repo as GitHub's push webhook.
func pushPayload(ctx context.Context, gitDir, root, repo, pusher string, up githost.RefUpdate, now time.Time) ([]byte, error) {
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
		"repository":  u.repository(repo, now),
		"pusher":      obj{"name": pusher, "email": pusher + "@users.noreply.scorebot.invalid"},
		"sender":      u.user(pusher),
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
