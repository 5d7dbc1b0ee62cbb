package standin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// obj is a JSON object; encoding/json writes map keys sorted, so answers are byte-stable.
type obj = map[string]any

// urls builds the url fields GitHub returns, from the public root (scheme://host).
type urls struct{ root string }

func (u urls) api(format string, a ...any) string {
	return u.root + "/api/v3" + fmt.Sprintf(format, a...)
}
func (u urls) html(format string, a ...any) string {
	return u.root + fmt.Sprintf(format, a...)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nodeID(kind string, id int64) string { return fmt.Sprintf("SI_%s_%d", kind, id) }

func userType(login string) string {
	if strings.HasSuffix(login, "[bot]") {
		return "Bot"
	}
	return "User"
}

// userJSON is GitHub's simple-user. Callers hold s.mu.
func (s *Server) userJSON(u urls, login string) obj {
	id := s.userID(login)
	api := u.api("/users/%s", login)
	return obj{
		"login": login, "id": id, "node_id": nodeID("U", id), "type": userType(login), "site_admin": false,
		"avatar_url": u.html("/avatars/%s", login), "gravatar_id": "", "url": api, "html_url": u.html("/%s", login),
		"followers_url": api + "/followers", "following_url": api + "/following{/other_user}",
		"gists_url": api + "/gists{/gist_id}", "starred_url": api + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/subscriptions", "organizations_url": api + "/orgs",
		"repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
	}
}

// UserJSON is GitHub's simple-user for login, with the id the stand-in gives that login in
// its answers and webhooks; `bot dev` puts it in the push webhooks it emits.
func (s *Server) UserJSON(login string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userJSON(s.eventURLs(""), login)
}

// PushRepositoryJSON is the repository object of a push webhook for owner/name: the
// stand-in's repository (same id, owner and URLs) in the form GitHub's push event gives it:
// url is the HTML address, created_at and pushed_at are Unix seconds.
func (s *Server) PushRepositoryJSON(owner, name string, pushedAt time.Time) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.eventURLs("")
	r := s.repoJSON(u, owner, name)
	r["url"] = u.html("/%s/%s", owner, name)
	r["created_at"], r["pushed_at"] = int64(0), pushedAt.Unix()
	r["master_branch"], r["stargazers"], r["custom_properties"] = r["default_branch"], 0, obj{}
	return r
}

// repoJSON is GitHub's repository (a superset of minimal-repository). Callers hold s.mu.
func (s *Server) repoJSON(u urls, owner, name string) obj {
	full := owner + "/" + name
	api := u.api("/repos/%s", full)
	id := s.userID("repo:" + full)
	epoch := ts(time.Unix(0, 0))
	return obj{
		"id": id, "node_id": nodeID("R", id), "name": name, "full_name": full, "private": false,
		"owner": s.userJSON(u, owner), "html_url": u.html("/%s", full), "description": nil, "fork": false,
		"url": api, "archive_url": api + "/{archive_format}{/ref}", "assignees_url": api + "/assignees{/user}",
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
		"clone_url": u.html("/git/%s.git", name), "git_url": u.html("/git/%s.git", name), "ssh_url": u.html("/git/%s.git", name),
		"svn_url": u.html("/%s", full), "mirror_url": nil, "homepage": nil, "language": nil,
		"default_branch": "main", "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0,
		"stargazers_count": 0, "watchers": 0, "watchers_count": 0, "size": 0,
		"has_downloads": false, "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
		"has_discussions": false, "archived": false, "disabled": false, "license": nil, "visibility": "public",
		"is_template": false, "topics": []string{}, "allow_forking": true, "web_commit_signoff_required": false,
		"pushed_at": epoch, "created_at": epoch, "updated_at": epoch,
	}
}

func (s *Server) commentJSON(u urls, owner, repo string, c *Comment) obj {
	api := u.api("/repos/%s/%s/issues/comments/%d", owner, repo, c.ID)
	counts := reactionRollup(api, c.Reactions)
	return obj{
		"id": c.ID, "node_id": nodeID("IC", c.ID), "url": api, "body": c.Body,
		"html_url":  u.html("/%s/%s/pull/%d#issuecomment-%d", owner, repo, c.Issue, c.ID),
		"issue_url": u.api("/repos/%s/%s/issues/%d", owner, repo, c.Issue),
		"user":      s.userJSON(u, c.User), "created_at": ts(c.CreatedAt), "updated_at": ts(c.UpdatedAt),
		"author_association": s.association(owner, repo, c.User), "reactions": counts, "performed_via_github_app": nil,
	}
}

// reactionRollup is GitHub's reaction-rollup of a comment whose API url is api.
func reactionRollup(api string, rs []Reaction) obj {
	counts := obj{"+1": 0, "-1": 0, "laugh": 0, "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0}
	for _, r := range rs {
		counts[r.Content] = counts[r.Content].(int) + 1
	}
	counts["total_count"] = len(rs)
	counts["url"] = api + "/reactions"
	return counts
}

// commitCommentJSON is GitHub's commit-comment, on the whole commit (no path or line).
// Callers hold s.mu.
func (s *Server) commitCommentJSON(u urls, owner, repo string, c *Comment) obj {
	api := u.api("/repos/%s/%s/comments/%d", owner, repo, c.ID)
	return obj{
		"id": c.ID, "node_id": nodeID("CC", c.ID), "url": api, "body": c.Body,
		"html_url":  u.html("/%s/%s/commit/%s#commitcomment-%d", owner, repo, c.CommitID, c.ID),
		"commit_id": c.CommitID, "path": nil, "position": nil, "line": nil,
		"user": s.userJSON(u, c.User), "created_at": ts(c.CreatedAt), "updated_at": ts(c.UpdatedAt),
		"author_association": s.association(owner, repo, c.User), "reactions": reactionRollup(api, c.Reactions),
	}
}

// association is GitHub's author_association. Callers hold s.mu.
func (s *Server) association(owner, repo, user string) string {
	switch {
	case user == owner:
		return "OWNER"
	case s.permission(owner, repo, user) != "read" && s.permission(owner, repo, user) != "none":
		return "COLLABORATOR"
	}
	return "NONE"
}

func (s *Server) reactionJSON(u urls, r Reaction) obj {
	return obj{"id": r.ID, "node_id": nodeID("RE", r.ID), "user": s.userJSON(u, r.User), "content": r.Content, "created_at": ts(r.CreatedAt)}
}

func (s *Server) statusJSON(u urls, owner, repo string, st *Status) obj {
	return obj{
		"id": st.ID, "node_id": nodeID("ST", st.ID), "url": u.api("/repos/%s/%s/statuses/%s", owner, repo, st.SHA),
		"avatar_url": nil, "state": st.State, "description": nullable(st.Description), "target_url": nullable(st.TargetURL),
		"context": st.Context, "created_at": ts(st.CreatedAt), "updated_at": ts(st.UpdatedAt), "creator": s.userJSON(u, st.Creator),
	}
}

func (s *Server) appJSON(u urls) obj {
	slug := s.opts.AppSlug
	id := s.opts.AppID
	if id == 0 {
		id = 1
	}
	return obj{
		"id": id, "slug": slug, "node_id": nodeID("A", id), "client_id": "Iv1.standin", "owner": s.userJSON(u, "local"), "name": slug,
		"description": nil, "external_url": u.html("/"), "html_url": u.html("/apps/%s", slug),
		"created_at": ts(time.Unix(0, 0)), "updated_at": ts(time.Unix(0, 0)),
		"permissions": obj{"checks": "write", "statuses": "write", "deployments": "write", "pull_requests": "write", "issues": "write", "contents": "write", "metadata": "read"},
		"events":      []string{"push", "pull_request", "issue_comment"},
	}
}

func (s *Server) checkRunJSON(u urls, owner, repo string, c *CheckRun) obj {
	var completed any
	if c.CompletedAt != nil {
		completed = ts(*c.CompletedAt)
	}
	return obj{
		"id": c.ID, "node_id": nodeID("CR", c.ID), "head_sha": c.HeadSHA, "name": c.Name, "external_id": c.ExternalID,
		"url":      u.api("/repos/%s/%s/check-runs/%d", owner, repo, c.ID),
		"html_url": u.html("/%s/%s/runs/%d", owner, repo, c.ID), "details_url": nullable(c.DetailsURL),
		"status": c.Status, "conclusion": nullable(c.Conclusion), "started_at": ts(c.StartedAt), "completed_at": completed,
		"output": obj{"title": nullable(c.Title), "summary": nullable(c.Summary), "text": nullable(c.Text),
			"annotations_count": 0, "annotations_url": u.api("/repos/%s/%s/check-runs/%d/annotations", owner, repo, c.ID)},
		"check_suite": obj{"id": c.ID}, "app": s.appJSON(u), "pull_requests": []any{},
	}
}

func (s *Server) deploymentJSON(u urls, owner, repo string, d *Deployment) obj {
	api := u.api("/repos/%s/%s/deployments/%d", owner, repo, d.ID)
	var payload any = obj{}
	if len(d.Payload) > 0 {
		_ = json.Unmarshal(d.Payload, &payload)
	}
	return obj{
		"id": d.ID, "node_id": nodeID("DE", d.ID), "url": api, "sha": d.SHA, "ref": d.Ref, "task": d.Task,
		"environment": d.Environment, "original_environment": d.Environment, "description": nullable(d.Description),
		"payload": payload, "creator": s.userJSON(u, d.Creator), "created_at": ts(d.CreatedAt), "updated_at": ts(d.UpdatedAt),
		"statuses_url": api + "/statuses", "repository_url": u.api("/repos/%s/%s", owner, repo),
		"transient_environment": d.Transient, "production_environment": d.Production,
	}
}

func (s *Server) deploymentStatusJSON(u urls, owner, repo string, d *Deployment, ds DeploymentStatus) obj {
	api := u.api("/repos/%s/%s/deployments/%d", owner, repo, d.ID)
	return obj{
		"id": ds.ID, "node_id": nodeID("DS", ds.ID), "url": fmt.Sprintf("%s/statuses/%d", api, ds.ID), "state": ds.State,
		"creator": s.userJSON(u, ds.Creator), "description": ds.Description, "environment": d.Environment,
		"target_url": ds.LogURL, "log_url": ds.LogURL, "environment_url": ds.EnvironmentURL,
		"deployment_url": api, "repository_url": u.api("/repos/%s/%s", owner, repo),
		"created_at": ts(ds.CreatedAt), "updated_at": ts(ds.UpdatedAt),
	}
}

func (s *Server) prJSON(u urls, p *PullRequest) obj {
	owner, repo := p.Owner, p.Repo
	api := u.api("/repos/%s/%s/pulls/%d", owner, repo, p.Number)
	issue := u.api("/repos/%s/%s/issues/%d", owner, repo, p.Number)
	html := u.html("/%s/%s/pull/%d", owner, repo, p.Number)
	statuses := u.api("/repos/%s/%s/statuses/%s", owner, repo, p.HeadSHA)
	link := func(h string) obj { return obj{"href": h} }
	ref := func(branch, sha string) obj {
		return obj{"label": owner + ":" + branch, "ref": branch, "sha": sha, "user": s.userJSON(u, owner), "repo": s.repoJSON(u, owner, repo)}
	}
	var mergedBy any
	if p.MergedBy != "" {
		mergedBy = s.userJSON(u, p.MergedBy)
	}
	var mergeable any = true
	state := "clean"
	if p.State != "open" {
		mergeable, state = nil, "unknown"
	}
	return obj{
		"id": p.ID, "node_id": nodeID("PR", p.ID), "number": p.Number, "url": api, "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issue,
		"commits_url": api + "/commits", "review_comments_url": api + "/comments",
		"review_comment_url": u.api("/repos/%s/%s/pulls/comments{/number}", owner, repo),
		"comments_url":       issue + "/comments", "statuses_url": statuses,
		"state": p.State, "locked": false, "title": p.Title, "body": nullable(p.Body), "draft": p.Draft,
		"user": s.userJSON(u, p.User), "labels": []any{}, "milestone": nil, "assignee": nil, "assignees": []any{},
		"requested_reviewers": []any{}, "requested_teams": []any{},
		"created_at": ts(p.CreatedAt), "updated_at": ts(p.UpdatedAt), "closed_at": tsPtr(p.ClosedAt), "merged_at": tsPtr(p.MergedAt),
		"merge_commit_sha": nullable(p.MergeCommitSHA), "merged": p.Merged, "merged_by": mergedBy,
		"mergeable": mergeable, "rebaseable": mergeable, "mergeable_state": state, "maintainer_can_modify": false,
		"head": ref(p.Head, p.HeadSHA), "base": ref(p.Base, p.BaseSHA),
		"_links": obj{"self": link(api), "html": link(html), "issue": link(issue), "comments": link(issue + "/comments"),
			"review_comments": link(api + "/comments"), "review_comment": link(u.api("/repos/%s/%s/pulls/comments{/number}", owner, repo)),
			"commits": link(api + "/commits"), "statuses": link(statuses)},
		"author_association": s.association(owner, repo, p.User), "auto_merge": nil, "active_lock_reason": nil,
		"comments": s.commentCount(owner, repo, p.Number), "review_comments": 0, "commits": 1,
		"additions": 0, "deletions": 0, "changed_files": 0,
	}
}

func (s *Server) commentCount(owner, repo string, number int) int {
	n := 0
	for _, c := range s.repo(owner, repo).Comments {
		if c.Issue == number {
			n++
		}
	}
	return n
}

// issueJSON is the issue view of a pull request, as in issue_comment webhooks.
func (s *Server) issueJSON(u urls, owner, repo string, number int) obj {
	r := s.repo(owner, repo)
	p := r.pr(number)
	issue := u.api("/repos/%s/%s/issues/%d", owner, repo, number)
	o := obj{
		"id": int64(number), "node_id": nodeID("I", int64(number)), "number": number, "url": issue,
		"repository_url": u.api("/repos/%s/%s", owner, repo), "labels_url": issue + "/labels{/name}",
		"comments_url": issue + "/comments", "events_url": issue + "/events",
		"html_url": u.html("/%s/%s/issues/%d", owner, repo, number), "title": "", "user": s.userJSON(u, owner),
		"labels": []any{}, "state": "open", "locked": false, "assignee": nil, "assignees": []any{}, "milestone": nil,
		"comments": s.commentCount(owner, repo, number), "created_at": ts(time.Unix(0, 0)), "updated_at": ts(time.Unix(0, 0)),
		"closed_at": nil, "author_association": "OWNER", "active_lock_reason": nil, "body": nil,
		"reactions":    obj{"url": issue + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "confused": 0, "heart": 0, "hooray": 0, "eyes": 0, "rocket": 0},
		"timeline_url": issue + "/timeline", "performed_via_github_app": nil, "state_reason": nil,
	}
	if p != nil {
		html := u.html("/%s/%s/pull/%d", owner, repo, number)
		o["id"], o["node_id"] = p.ID, nodeID("I", p.ID)
		o["title"], o["body"], o["state"] = p.Title, nullable(p.Body), p.State
		o["user"] = s.userJSON(u, p.User)
		o["author_association"] = s.association(owner, repo, p.User)
		o["created_at"], o["updated_at"], o["closed_at"] = ts(p.CreatedAt), ts(p.UpdatedAt), tsPtr(p.ClosedAt)
		o["html_url"] = html
		o["draft"] = p.Draft
		o["pull_request"] = obj{"url": u.api("/repos/%s/%s/pulls/%d", owner, repo, number), "html_url": html,
			"diff_url": html + ".diff", "patch_url": html + ".patch", "merged_at": tsPtr(p.MergedAt)}
	}
	return o
}
