package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/preview"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// Webhook fixtures the preview tests adapt (see testdata/preview/README.md).
const (
	prFixtureDir      = "../../../shared/fixtures/github-webhooks/pull_request/"
	commentFixtureDir = "../../../shared/fixtures/github-webhooks/issue_comment/"
)

// previewConfig is the harness config with the preview handlers wired.
func (h *harness) previewConfig(name string) Config {
	cfg := h.config(name)
	cfg.Handlers = map[string]Handler{
		events.KindPullRequest:  HandlePreviewPR,
		events.KindIssueComment: PreviewCommands().Handle,
	}
	return cfg
}

// openPR commits files on branch of repo name and opens a PR of it into main on the
// stand-in; it returns the PR number and the head commit.
func (h *harness) openPR(name, branch string, files map[string][]byte) (int, string) {
	h.t.Helper()
	sha := h.pushBranch(name, branch, 0, files)
	pr, err := h.forge.CreatePR(context.Background(), forge.Repo{Owner: owner, Name: name},
		forge.NewPR{Title: "change " + name, Head: branch, Base: githost.DefaultBranch})
	if err != nil {
		h.t.Fatal(err)
	}
	h.gh.BranchPushed(owner, name, branch, sha)
	return pr.GetNumber(), sha
}

// pushBranch commits files on branch and tells the stand-in, so the PR's head moves.
func (h *harness) pushBranch(name, branch string, _ int, files map[string][]byte) string {
	h.t.Helper()
	sha, err := h.host.Commit(context.Background(), name, branch, files, "pr change")
	if err != nil {
		h.t.Fatal(err)
	}
	h.gh.BranchPushed(owner, name, branch, sha)
	return sha
}

// prPayload is the octokit pull_request fixture of action (synchronize for opened and
// ready_for_review, which have no fixture of their own) rewritten to PR number of
// local/<name> from branch at sha.
func (h *harness) prPayload(action, name string, number int, branch, sha string, merged bool) []byte {
	h.t.Helper()
	fixture := map[string]string{"closed": "closed.payload.json", "reopened": "reopened.payload.json", "opened": "opened.payload.json"}[action]
	if fixture == "" {
		fixture = "synchronize.payload.json"
	}
	var p map[string]any
	readJSON(h.t, prFixtureDir+fixture, &p)
	p["action"], p["number"] = action, number
	h.rewriteRepo(p["repository"].(map[string]any), name)
	pr := p["pull_request"].(map[string]any)
	pr["number"], pr["merged"] = number, merged
	if action == "closed" {
		pr["state"] = "closed"
	} else {
		pr["state"] = "open"
	}
	head := pr["head"].(map[string]any)
	head["ref"], head["sha"], head["label"] = branch, sha, owner+":"+branch
	h.rewriteRepo(head["repo"].(map[string]any), name)
	base := pr["base"].(map[string]any)
	base["ref"] = githost.DefaultBranch
	h.rewriteRepo(base["repo"].(map[string]any), name)
	if action == "synchronize" {
		p["after"] = sha
	}
	out, err := json.Marshal(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// commentPayload is the octokit issue_comment created fixture rewritten to a comment on PR
// number of local/<name> (the fixture's issue gains the pull_request link GitHub sets on PR
// comments).
func (h *harness) commentPayload(name string, number int, id int64, user, body string) []byte {
	h.t.Helper()
	var p map[string]any
	readJSON(h.t, commentFixtureDir+"created.payload.json", &p)
	h.rewriteRepo(p["repository"].(map[string]any), name)
	issue := p["issue"].(map[string]any)
	issue["number"] = number
	issue["pull_request"] = map[string]any{"url": fmt.Sprintf("%s/api/v3/repos/%s/%s/pulls/%d", h.srv.URL, owner, name, number)}
	c := p["comment"].(map[string]any)
	c["id"], c["body"] = id, body
	c["user"].(map[string]any)["login"] = user
	p["sender"].(map[string]any)["login"] = user
	out, err := json.Marshal(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) rewriteRepo(repo map[string]any, name string) {
	repo["name"], repo["full_name"] = name, owner+"/"+name
	repo["clone_url"] = h.gitURL(name)
	repo["default_branch"] = githost.DefaultBranch
	repo["owner"].(map[string]any)["login"] = owner
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (the shared/ folder must sit beside the repo)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// previewComments are the comments on PR number that carry the preview marker.
func (h *harness) previewComments(name string, number int) []string {
	var out []string
	for _, c := range h.gh.Comments(owner, name, number) {
		if strings.Contains(c.Body, preview.Marker) {
			out = append(out, c.Body)
		}
	}
	return out
}

// commentPosts counts the comment-creating requests the stand-in answered.
func (h *harness) commentPosts() int {
	n := 0
	for _, r := range h.gh.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/comments") {
			n++
		}
	}
	return n
}

func TestPreviewFivePushesOneComment(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.previewConfig("a"))
	h.push("shop", testApp("shop", "1"))
	waitFor(t, "the deploy", func() bool { return len(h.envLog()) == 1 })

	number, sha := h.openPR("shop", "feature", testApp("shop", "2"))
	shas := []string{sha}
	for v := 3; v <= 6; v++ {
		shas = append(shas, h.pushBranch("shop", "feature", number, testApp("shop", fmt.Sprint(v))))
	}
	h.publish(events.KindPullRequest, h.prPayload("opened", "shop", number, "feature", shas[0], false))
	for _, s := range shas[1:] {
		h.publish(events.KindPullRequest, h.prPayload("synchronize", "shop", number, "feature", s, false))
	}
	waitFor(t, "five PR jobs", func() bool { return r.settled(events.KindPullRequest) == 5 })

	comments := h.previewComments("shop", number)
	if len(comments) != 1 {
		t.Fatalf("%d preview comments, want 1", len(comments))
	}
	last := shas[len(shas)-1]
	body := comments[0]
	for _, want := range []string{"Head <code>" + last[:7] + "</code>", "-        image: ghcr.io/acme/shop:1", "+        image: ghcr.io/acme/shop:6", "| development | 0 |"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	if n := h.commentPosts(); n != 1 {
		t.Errorf("%d comments created, want 1 (edits preferred)", n)
	}
	runs := h.gh.CheckRuns(owner, "shop", last)
	if len(runs) != 1 || runs[0].Name != PreviewCheckName || runs[0].Conclusion != "success" {
		t.Errorf("check runs on the last head: %+v", runs)
	}
	for _, s := range shas[:len(shas)-1] {
		if runs := h.gh.CheckRuns(owner, "shop", s); len(runs) != 0 {
			t.Errorf("superseded head %s got a preview check run", s[:7])
		}
	}

	// Merged: the same comment says the preview is outdated.
	h.publish(events.KindPullRequest, h.prPayload("closed", "shop", number, "feature", last, true))
	waitFor(t, "the outdated banner", func() bool {
		c := h.previewComments("shop", number)
		return len(c) == 1 && strings.Contains(c[0], "Preview outdated (merged)")
	})
	if n := h.commentPosts(); n != 1 {
		t.Errorf("%d comments created, want 1", n)
	}
}

func TestPreviewBrokenScoreThenFixed(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.previewConfig("a"))
	h.commitApp("shop", testApp("shop", "1"))
	broken := testApp("shop", "2")
	broken["score.yaml"] = []byte(strings.Replace(string(broken["score.yaml"]), "type: postgres", "type: no-such-type", 1))
	number, sha := h.openPR("shop", "feature", broken)
	h.publish(events.KindPullRequest, h.prPayload("opened", "shop", number, "feature", sha, false))
	waitFor(t, "the error comment", func() bool { return len(h.previewComments("shop", number)) == 1 })
	// The check run follows the comment: wait for the job to finish before reading it.
	waitFor(t, "the first PR job", func() bool { return r.settled(events.KindPullRequest) == 1 })
	body := h.previewComments("shop", number)[0]
	for _, want := range []string{"❌ error", "cannot render", "no-such-type"} {
		if !strings.Contains(body, want) {
			t.Errorf("error comment lacks %q:\n%s", want, body)
		}
	}
	if runs := h.gh.CheckRuns(owner, "shop", sha); len(runs) != 1 || runs[0].Conclusion != "failure" {
		t.Errorf("check runs on the broken head: %+v", runs)
	}

	fixed := h.pushBranch("shop", "feature", number, testApp("shop", "3"))
	h.publish(events.KindPullRequest, h.prPayload("synchronize", "shop", number, "feature", fixed, false))
	waitFor(t, "two PR jobs", func() bool { return r.settled(events.KindPullRequest) == 2 })
	comments := h.previewComments("shop", number)
	if len(comments) != 1 {
		t.Fatalf("%d preview comments, want 1", len(comments))
	}
	if strings.Contains(comments[0], "❌") || !strings.Contains(comments[0], "+        image: ghcr.io/acme/shop:3") {
		t.Errorf("fixed push not previewed:\n%s", comments[0])
	}
	// Nothing is deployed yet: every object is added, and no secret value shows.
	if !strings.Contains(comments[0], "| development | ") || strings.Contains(comments[0], "password: ") && !strings.Contains(comments[0], "<redacted>") {
		t.Errorf("unexpected comment:\n%s", comments[0])
	}
}

func TestPreviewCommandNeedsWritePermission(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.previewConfig("a"))
	h.commitApp("shop", testApp("shop", "1"))
	number, _ := h.openPR("shop", "feature", testApp("shop", "2"))

	stranger := h.clientAs("stranger")
	c, _, err := stranger.Issues.CreateComment(context.Background(), owner, "shop", number, &github.IssueComment{Body: github.String("/scorebot preview")})
	if err != nil {
		t.Fatal(err)
	}
	h.publish(events.KindIssueComment, h.commentPayload("shop", number, c.GetID(), "stranger", "/scorebot preview"))
	waitFor(t, "the refusal", func() bool { return r.settled(events.KindIssueComment) == 1 })
	var refusal string
	for _, cm := range h.gh.Comments(owner, "shop", number) {
		if strings.Contains(cm.Body, "Sorry @stranger") {
			refusal = cm.Body
		}
		if cm.ID == c.GetID() && (len(cm.Reactions) != 1 || cm.Reactions[0].Content != CommandReaction) {
			t.Errorf("command not acknowledged: %+v", cm.Reactions)
		}
	}
	if refusal == "" || !strings.Contains(refusal, "write access") {
		t.Errorf("no polite refusal in %+v", h.gh.Comments(owner, "shop", number))
	}
	if n := len(h.previewComments("shop", number)); n != 0 {
		t.Errorf("a refused command posted %d previews", n)
	}

	// The repo owner may; help is open to everyone.
	cm, _, err := h.clientAs(owner).Issues.CreateComment(context.Background(), owner, "shop", number, &github.IssueComment{Body: github.String("/scorebot preview development")})
	if err != nil {
		t.Fatal(err)
	}
	h.publish(events.KindIssueComment, h.commentPayload("shop", number, cm.GetID(), owner, "/scorebot preview development"))
	h.publish(events.KindIssueComment, h.commentPayload("shop", number, c.GetID(), "stranger", "/scorebot help"))
	waitFor(t, "the preview and the help", func() bool { return r.settled(events.KindIssueComment) == 3 })
	if n := len(h.previewComments("shop", number)); n != 1 {
		t.Fatalf("%d previews, want 1", n)
	}
	if body := h.previewComments("shop", number)[0]; strings.Contains(body, "| staging |") {
		t.Errorf("preview development shows staging:\n%s", body)
	}
	help := false
	for _, cm := range h.gh.Comments(owner, "shop", number) {
		help = help || strings.Contains(cm.Body, "`/scorebot preview [env]`")
	}
	if !help {
		t.Error("no help reply")
	}
}

// clientAs is a go-github client acting as user on the stand-in.
func (h *harness) clientAs(user string) *github.Client {
	h.t.Helper()
	c, err := forge.New(forge.Config{BaseURL: h.srv.URL + "/api/v3/", Token: forge.Secret("as:" + user), Logger: quietLogger()})
	if err != nil {
		h.t.Fatal(err)
	}
	return c.GitHub()
}

// deployDirect renders apps (testApp at version 1) for envs with the test rules and commits
// them to the env repo in one commit, as deploys and promotions would have.
func (h *harness) deployDirect(apps []string, envs []string) {
	h.t.Helper()
	all := map[string]map[string][]byte{}
	for _, app := range apps {
		all[app] = testApp(app, "1")
	}
	h.deployApps(nil, all, envs)
}

// deployDirectFiles is deployDirect of one app's files, with the three-environment rules.
func (h *harness) deployDirectFiles(app string, files map[string][]byte, envs []string) {
	h.deployApps(threeEnvRules, map[string]map[string][]byte{app: files}, envs)
}

// deployApps commits each app's files to its repo, renders them for envs with the test rules
// (edited by edit) and commits the renders to the env repo in one commit.
func (h *harness) deployApps(edit func(map[string][]byte), apps map[string]map[string][]byte, envs []string) {
	h.t.Helper()
	ctx := context.Background()
	rulesHead, _ := h.host.Head(ctx, "rules", "main")
	rs, err := rules.Load(mapFS(h.rulesFiles(edit)))
	if err != nil {
		h.t.Fatal(err)
	}
	names := make([]string, 0, len(apps))
	for app := range apps {
		names = append(names, app)
	}
	slices.Sort(names)
	var changes []envrepo.Change
	for _, app := range names {
		files := apps[app]
		sha := h.commitApp(app, files)
		var scores []render.ScoreFile
		paths := make([]string, 0, len(files))
		for p := range files {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			scores = append(scores, render.ScoreFile{Path: p, Data: files[p]})
		}
		for _, env := range envs {
			out, err := render.Render(render.Input{Rules: rs, Env: env, AppID: app, Files: scores,
				Provenance: render.Provenance{SourceRepo: owner + "/" + app, SourceCommit: sha, RulesCommit: rulesHead}})
			if err != nil {
				h.t.Fatal(err)
			}
			changes = append(changes, envrepo.Change{Owned: out.Owned, Files: out.Files})
		}
	}
	if _, err := h.env.Apply(ctx, envrepo.Message{Subject: "deploy test apps"}, changes...); err != nil {
		h.t.Fatal(err)
	}
}

func TestPreviewRulesPRStagingPostgres(t *testing.T) {
	h := newHarness(t)
	apps := []string{"alpha", "beta", "gamma"}
	h.deployDirect(apps, []string{"development", "staging"})
	r := h.start(h.previewConfig("a"))

	// The PR adds a postgres definition for staging only.
	files := h.rulesFiles(func(files map[string][]byte) {
		files["definitions/staging.yaml"] = []byte(`- id: pg-staging
  type: postgres
  criteria:
    - env_id: staging
  outputs: |
    host: pg.staging.svc
    port: 5432
    name: app
    username: app
    password: {{ encodeSecretRef "pg" "password" }}
  secretOutputs: [password]
`)
	})
	number, sha := h.openPR("rules", "pg-staging", files)
	h.publish(events.KindPullRequest, h.prPayload("opened", "rules", number, "pg-staging", sha, false))
	waitFor(t, "the rules PR job", func() bool { return r.settled(events.KindPullRequest) == 1 })
	comments := h.previewComments("rules", number)
	if len(comments) != 1 {
		t.Fatalf("%d preview comments, want 1", len(comments))
	}
	body := comments[0]
	if os.Getenv("PREVIEW_DUMP") != "" {
		_ = os.WriteFile(os.Getenv("PREVIEW_DUMP"), []byte(body), 0o644)
	}
	for _, app := range apps {
		if !strings.Contains(body, "| "+app+" | staging | 0 | 1 |") {
			t.Errorf("comment does not list %s in staging:\n%s", app, body)
		}
		if strings.Contains(body, "| "+app+" | development |") {
			t.Errorf("comment lists %s in development", app)
		}
	}
	if !strings.Contains(body, "+              value: pg.staging.svc") && !strings.Contains(body, "pg.staging.svc") {
		t.Errorf("diff does not show the new host:\n%s", body)
	}
	if !strings.Contains(body, "pg-staging") {
		t.Errorf("match trace does not name the new definition:\n%s", body)
	}
}
