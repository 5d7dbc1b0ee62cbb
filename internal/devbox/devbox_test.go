package devbox_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/events"
)

func TestSeededRepos(t *testing.T) {
	sb, _ := startSandbox(t, "", nil)
	if !strings.HasPrefix(sb.Addr(), "127.0.0.1:") || strings.HasSuffix(sb.Addr(), ":0") {
		t.Fatalf("Addr = %q, want the real loopback address", sb.Addr())
	}
	repos, err := sb.Git().Repos()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(repos, ","), "demo-app,env,rules"; got != want {
		t.Fatalf("repos = %s, want %s", got, want)
	}
	app := clone(t, sb, devbox.RepoApp)
	if _, err := os.Stat(filepath.Join(app, "score.yaml")); err != nil {
		t.Fatalf("demo-app has no score.yaml: %v", err)
	}
	rules := clone(t, sb, devbox.RepoRules)
	platform, err := os.ReadFile(filepath.Join(rules, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "url: " + sb.CloneURL(devbox.RepoEnv); !strings.Contains(string(platform), want) {
		t.Fatalf("rules platform.yaml does not point at the sandbox's env repo (%s):\n%s", want, platform)
	}
	if !strings.Contains(string(platform), "# The platform file") {
		t.Errorf("rewriting envRepo.url lost the comments:\n%s", platform)
	}
	clone(t, sb, devbox.RepoEnv)
}

func TestListenMustBeLoopback(t *testing.T) {
	_, err := devbox.Start(context.Background(), devbox.Config{DataDir: t.TempDir(), Listen: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("Start on 0.0.0.0: err = %v, want a refusal naming 127.0.0.1", err)
	}
}

// A git push over real smart HTTP becomes a signed push webhook on the bot's stream, and a new
// bare repo created under the data dir is served and reported the same way.
func TestPushBecomesWebhook(t *testing.T) {
	sb, hooks := startSandbox(t, "", nil)
	wt := clone(t, sb, devbox.RepoApp)
	before := gitRun(t, wt, "rev-parse", "HEAD")
	sha := commitFile(t, wt, "score.yaml", readFile(t, filepath.Join(wt, "score.yaml"))+"# edited\n", "Edit score.yaml")
	gitRun(t, wt, "push", "-q", "origin", "main")

	// The push returned: its webhook was delivered already.
	pushes := hooks.find("push", "", "local/demo-app")
	if len(pushes) != 1 {
		t.Fatalf("push webhooks = %d, want 1", len(pushes))
	}
	ev := findEvent(t, sb.JetStream(), pushes[0].ID)
	want := events.Event{Kind: "push", Repo: "local/demo-app", Ref: "refs/heads/main", Branch: "main", Before: before, After: sha,
		RepoCloneURL: sb.CloneURL(devbox.RepoApp), DefaultBranch: "main", Sender: devbox.DefaultUser}
	if ev.Kind != want.Kind || ev.Repo != want.Repo || ev.Ref != want.Ref || ev.Branch != want.Branch || ev.Before != want.Before ||
		ev.After != want.After || ev.RepoCloneURL != want.RepoCloneURL || ev.DefaultBranch != want.DefaultBranch || ev.Sender != want.Sender {
		t.Fatalf("stored event = %+v\nwant %+v", ev, want)
	}

	// A new branch: created, with only its own commit listed.
	gitRun(t, wt, "checkout", "-q", "-b", "feature")
	commitFile(t, wt, "README.md", "hello\n", "Add README")
	gitRun(t, wt, "push", "-q", "origin", "feature")
	if got := hooks.find("push", "", "local/demo-app"); len(got) != 2 || !strings.Contains(string(got[1].Payload), `"created":true`) ||
		!strings.Contains(string(got[1].Payload), `"added":["README.md"]`) {
		t.Fatalf("new-branch push webhook wrong: %d pushes; last %s", len(got), got[len(got)-1].Payload)
	}

	// Deleting the branch: deleted, no head commit.
	gitRun(t, wt, "push", "-q", "origin", ":feature")
	if got := hooks.find("push", "", "local/demo-app"); len(got) != 3 || !strings.Contains(string(got[2].Payload), `"deleted":true`) ||
		!strings.Contains(string(got[2].Payload), `"head_commit":null`) {
		t.Fatalf("branch deletion push webhook wrong: %d pushes; last %s", len(got), got[len(got)-1].Payload)
	}

	// A repo nobody seeded, created under the data dir, is served and reported too.
	if err := sb.Git().Create("newapp"); err != nil {
		t.Fatal(err)
	}
	nw := clone(t, sb, "newapp")
	commitFile(t, nw, "score.yaml", "apiVersion: score.dev/v1b1\nmetadata:\n  name: newapp\ncontainers:\n  main:\n    image: nginx\n", "First")
	gitRun(t, nw, "push", "-q", "origin", "HEAD:main")
	if got := hooks.find("push", "", "local/newapp"); len(got) != 1 {
		t.Fatalf("push webhooks for local/newapp = %d, want 1", len(got))
	}
}

// Local pull requests: open → pull_request opened on the stream; push to its branch →
// synchronize; comment → issue_comment with issue.pull_request; merge → a real merge in the
// bare repo and closed with merged true; close → closed with merged false.
func TestPullRequests(t *testing.T) {
	sb, hooks := startSandbox(t, "", nil)
	ctx := context.Background()
	wt := clone(t, sb, devbox.RepoApp)
	gitRun(t, wt, "checkout", "-q", "-b", "feature")
	first := commitFile(t, wt, "feature.txt", "one\n", "Feature one")
	gitRun(t, wt, "push", "-q", "origin", "feature")

	cl, err := devbox.NewClient(sb.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := cl.OpenPR(ctx, devbox.RepoApp, "feature", "", "")
	if err != nil {
		t.Fatal(err)
	}
	// The PR's web address (html_url) leads to it on the sandbox's page.
	assertLinksTo(t, sb.URL(), "/local/demo-app/pull/"+strconv.Itoa(n), "demo-app-pull-"+strconv.Itoa(n))
	assertLinksTo(t, sb.URL(), "/local/demo-app/issues/"+strconv.Itoa(n), "demo-app-pull-"+strconv.Itoa(n))
	assertLinksTo(t, sb.URL(), "/local/demo-app/runs/7", "demo-app")
	opened := hooks.find("pull_request", "opened", "local/demo-app")
	if len(opened) != 1 {
		t.Fatalf("pull_request opened webhooks = %d, want 1", len(opened))
	}
	ev := findEvent(t, sb.JetStream(), opened[0].ID)
	if ev.Kind != "pull_request" || ev.Action != "opened" || ev.PRNumber != n || ev.PRHead == nil || ev.PRHead.SHA != first || ev.PRBase.Ref != "main" {
		t.Fatalf("stored opened event = %+v (head %+v)", ev, ev.PRHead)
	}

	second := commitFile(t, wt, "feature.txt", "two\n", "Feature two")
	gitRun(t, wt, "push", "-q", "origin", "feature")
	syncs := hooks.find("pull_request", "synchronize", "local/demo-app")
	if len(syncs) != 1 {
		t.Fatalf("synchronize webhooks = %d, want 1", len(syncs))
	}
	if ev := findEvent(t, sb.JetStream(), syncs[0].ID); ev.PRHead.SHA != second {
		t.Fatalf("synchronize head = %s, want %s", ev.PRHead.SHA, second)
	}

	if _, err := cl.Comment(ctx, devbox.RepoApp, n, "/scorebot help"); err != nil {
		t.Fatal(err)
	}
	comments := hooks.find("issue_comment", "created", "local/demo-app")
	if len(comments) != 1 {
		t.Fatalf("issue_comment webhooks = %d, want 1", len(comments))
	}
	if ev := findEvent(t, sb.JetStream(), comments[0].ID); ev.CommentBody != "/scorebot help" || ev.PRNumber != n || ev.CommentAuthor != devbox.DefaultUser {
		t.Fatalf("stored comment event = %+v", ev)
	}

	mergeSHA, err := cl.MergePR(ctx, devbox.RepoApp, n)
	if err != nil {
		t.Fatal(err)
	}
	main, err := sb.Git().Head(ctx, devbox.RepoApp, "main")
	if err != nil {
		t.Fatal(err)
	}
	if main != mergeSHA {
		t.Fatalf("main = %s after merge, want the merge commit %s", main, mergeSHA)
	}
	gitRun(t, wt, "fetch", "-q", "origin")
	gitRun(t, wt, "merge-base", "--is-ancestor", second, "origin/main") // fails the test if not merged
	closed := hooks.find("pull_request", "closed", "local/demo-app")
	if len(closed) != 1 {
		t.Fatalf("closed webhooks = %d, want 1", len(closed))
	}
	if ev := findEvent(t, sb.JetStream(), closed[0].ID); !ev.Merged || ev.MergeCommitSHA != mergeSHA {
		t.Fatalf("closed event = %+v, want merged with %s", ev, mergeSHA)
	}
	if got := hooks.find("push", "", "local/demo-app"); !strings.Contains(string(got[len(got)-1].Payload), `"after":"`+mergeSHA+`"`) {
		t.Fatalf("no push webhook for the merge into main")
	}

	// Close without merging.
	gitRun(t, wt, "checkout", "-q", "-b", "other", "origin/main")
	commitFile(t, wt, "other.txt", "x\n", "Other")
	gitRun(t, wt, "push", "-q", "origin", "other")
	n2, err := cl.OpenPR(ctx, devbox.RepoApp, "other", "main", "Other")
	if err != nil {
		t.Fatal(err)
	}
	if n2 != n+1 {
		t.Fatalf("second PR number = %d, want %d", n2, n+1)
	}
	if err := cl.ClosePR(ctx, devbox.RepoApp, n2); err != nil {
		t.Fatal(err)
	}
	closed = hooks.find("pull_request", "closed", "local/demo-app")
	if len(closed) != 2 || strings.Contains(string(closed[1].Payload), `"merged":true`) {
		t.Fatalf("close without merge: %d closed webhooks, last merged", len(closed))
	}
	if h, _ := sb.Git().Head(ctx, devbox.RepoApp, "main"); h != mergeSHA {
		t.Fatalf("closing a PR moved main")
	}
}

// A second start on the same data dir resumes repos, pull requests and the stream; --reset
// starts afresh.
func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sb, _ := startSandbox(t, dir, nil)
	wt := clone(t, sb, devbox.RepoApp)
	gitRun(t, wt, "checkout", "-q", "-b", "feature")
	sha := commitFile(t, wt, "feature.txt", "one\n", "Feature")
	gitRun(t, wt, "push", "-q", "origin", "feature")
	cl, err := devbox.NewClient(sb.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := cl.OpenPR(ctx, devbox.RepoApp, "feature", "main", "")
	if err != nil {
		t.Fatal(err)
	}
	stored := len(streamEvents(t, sb.JetStream()))
	if err := sb.Stop(); err != nil {
		t.Fatal(err)
	}

	sb2, _ := startSandbox(t, dir, nil)
	if h, _ := sb2.Git().Head(ctx, devbox.RepoApp, "feature"); h != sha {
		t.Fatalf("after restart feature = %q, want %s", h, sha)
	}
	if pr, ok := sb2.GitHub().PullRequest(devbox.Owner, devbox.RepoApp, n); !ok || pr.State != "open" || pr.HeadSHA != sha {
		t.Fatalf("after restart PR #%d = %+v, %v", n, pr, ok)
	}
	if got := len(streamEvents(t, sb2.JetStream())); got != stored {
		t.Fatalf("after restart the stream holds %d events, want %d", got, stored)
	}
	// The rules repo points at the new address (port 0 picked another one).
	rules := clone(t, sb2, devbox.RepoRules)
	if !strings.Contains(readFile(t, filepath.Join(rules, "platform.yaml")), "url: "+sb2.CloneURL(devbox.RepoEnv)) {
		t.Fatalf("after restart the rules repo does not point at %s", sb2.CloneURL(devbox.RepoEnv))
	}
	if err := sb2.Stop(); err != nil {
		t.Fatal(err)
	}

	sb3, err := devbox.Start(ctx, devbox.Config{DataDir: dir, Listen: "127.0.0.1:0", Reset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sb3.Stop()
	if h, _ := sb3.Git().Head(ctx, devbox.RepoApp, "feature"); h != "" {
		t.Fatalf("after --reset feature = %q, want none", h)
	}
	if _, ok := sb3.GitHub().PullRequest(devbox.Owner, devbox.RepoApp, n); ok {
		t.Fatalf("after --reset PR #%d still exists", n)
	}
	if got := len(streamEvents(t, sb3.JetStream())); got != 0 {
		t.Fatalf("after --reset the stream holds %d events", got)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A comment on a commit (`bot dev comment --commit`) → commit_comment created, stored with
// the commented commit; a short sha is refused before anything is sent.
func TestCommitComment(t *testing.T) {
	sb, hooks := startSandbox(t, "", nil)
	ctx := context.Background()
	head, err := sb.Git().Head(ctx, devbox.RepoApp, "main")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := devbox.NewClient(sb.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := cl.CommentOnCommit(ctx, devbox.RepoApp, head, "/scorebot promote staging")
	if err != nil {
		t.Fatal(err)
	}
	got := hooks.find("commit_comment", "created", "local/demo-app")
	if len(got) != 1 {
		t.Fatalf("commit_comment webhooks = %d, want 1", len(got))
	}
	ev := findEvent(t, sb.JetStream(), got[0].ID)
	if ev.Kind != "commit_comment" || ev.CommitID != head || ev.CommentID != id || ev.CommentBody != "/scorebot promote staging" || ev.CommentAuthor != devbox.DefaultUser {
		t.Fatalf("stored commit comment event = %+v", ev)
	}
	if _, err := cl.CommentOnCommit(ctx, devbox.RepoApp, head[:7], "hi"); err == nil || !strings.Contains(err.Error(), "full 40-character sha") {
		t.Fatalf("short sha: %v, want a request for the full sha", err)
	}
	if n := len(hooks.find("commit_comment", "created", "local/demo-app")); n != 1 {
		t.Fatalf("commit_comment webhooks after the refused comment = %d, want 1", n)
	}
}

// assertLinksTo checks that path on the sandbox redirects to the page's element id, and that
// the page has that element.
func assertLinksTo(t *testing.T, base, path, id string) {
	t.Helper()
	noFollow := &http.Client{Timeout: httpClient.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/#"+id {
		t.Fatalf("GET %s = %d to %q, want 302 to /#%s", path, resp.StatusCode, loc, id)
	}
	page, err := httpGet(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `id="`+id+`"`) {
		t.Fatalf("the page has no element %q for %s", id, path)
	}
}
