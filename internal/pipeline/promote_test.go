package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/events/eventstest"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/promotion"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// promoHarness runs promotion against real parts: embedded NATS, the git host over smart
// HTTP, the GitHub stand-in wired to it (merges happen in the bare repo, pushes update PR
// heads, webhooks are collected). Jobs run synchronously, in the test's goroutine: the
// consumer is the pipeline's own tests' business; here every step is deterministic.
type promoHarness struct {
	t     *testing.T
	dir   string
	host  *githost.Host
	gh    *standin.Server
	url   string
	js    jetstream.JetStream
	forge *forge.Client
	env   *envrepo.Repo // a reader with its own clone
	envGH forge.Repo

	merging atomic.Bool
	mu      sync.Mutex
	emitted []promoEmitted
	seq     uint64
}

type promoEmitted struct {
	event   string
	payload []byte
}

const promoOwner = "local"

func newPromoHarness(t *testing.T, autoMerge bool) *promoHarness {
	t.Helper()
	dir := t.TempDir()
	h := &promoHarness{t: t, dir: dir, envGH: forge.Repo{Owner: promoOwner, Name: "env"}}
	h.js = eventstest.JetStream(t, dir)
	var err error
	if h.gh, err = standin.New(standin.Options{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	h.host, err = githost.New(filepath.Join(dir, "git"), githost.WithLogger(quietLogger()),
		githost.WithOnPush(func(repo string, updates []githost.RefUpdate) {
			if h.merging.Load() {
				return // the stand-in's merge holds its lock and records the new base itself
			}
			for _, u := range updates {
				if b, ok := strings.CutPrefix(u.Name, "refs/heads/"); ok && strings.Trim(u.New, "0") != "" {
					h.gh.BranchPushed(promoOwner, repo, b, u.New)
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	h.gh.HeadOf = func(_, repo, branch string) (string, error) {
		return h.host.Head(context.Background(), repo, branch)
	}
	h.gh.Merge = func(_, repo, base, head, msg string) (string, error) {
		h.merging.Store(true)
		defer h.merging.Store(false)
		sha, err := h.host.Merge(repo, base, head, msg)
		if errors.Is(err, githost.ErrMergeConflict) {
			return "", fmt.Errorf("%w: %v", standin.ErrMergeConflict, err)
		}
		return sha, err
	}
	h.gh.Emit = func(event string, payload []byte) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.emitted = append(h.emitted, promoEmitted{event, payload})
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", h.host)
	mux.Handle("/api/v3/", promoWholeResponse(h.gh))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	if h.forge, err = forge.New(forge.Config{BaseURL: srv.URL + "/api/v3/", Token: "test-token", Logger: quietLogger(),
		Retry: forge.RetryPolicy{MaxAttempts: 2, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}}); err != nil {
		t.Fatal(err)
	}

	rules := map[string][]byte{}
	root := "../../examples/rules"
	err = fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "platform.yaml" {
			return err
		}
		rules[p], err = os.ReadFile(filepath.Join(root, p))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	platform := h.read("testdata/promotion/platform.yaml")
	platform = strings.ReplaceAll(platform, "ENV_REPO_URL", githost.URL(srv.URL, "env"))
	platform = strings.ReplaceAll(platform, "AUTO_MERGE", fmt.Sprint(autoMerge))
	rules["platform.yaml"] = []byte(platform)
	rules["definitions/postgres-staging.yaml"] = []byte(h.read("testdata/promotion/postgres-staging.yaml"))
	if _, err := h.host.Seed("rules", rules, "rules"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.host.Seed("env", map[string][]byte{"README.md": []byte("env repo\n")}, "seed"); err != nil {
		t.Fatal(err)
	}
	if h.env, err = envrepo.Open(envrepo.Config{URL: githost.URL(srv.URL, "env"), Dir: filepath.Join(dir, "env-reader")}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *promoHarness) read(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// bot is a pipeline bound to the harness's JetStream, with its own data dir.
func (h *promoHarness) bot(name string) *Pipeline {
	h.t.Helper()
	p, err := New(Config{
		DataDir: filepath.Join(h.dir, "bot-"+name), RulesURL: githost.URL(h.url, "rules"), RulesRepo: promoOwner + "/rules",
		GitURLTemplate: h.url + "/git/{name}.git", Forge: h.forge, Logger: quietLogger(), LeaseTTL: 5 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := p.setup(context.Background(), h.js); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// commitApp commits the shop example (with edit applied) to the app repo's main.
func (h *promoHarness) commitApp(image string) string {
	h.t.Helper()
	files := map[string][]byte{}
	for _, f := range []string{"score.yaml", "worker.score.yaml", "config.yaml"} {
		files[f] = []byte(h.read(filepath.Join("../../examples/apps/shop", f)))
	}
	files["score.yaml"] = []byte(strings.ReplaceAll(string(files["score.yaml"]), "ghcr.io/acme/shop-web:1.4.2", image))
	var sha string
	var err error
	if h.host.Exists("shop") {
		sha, err = h.host.Commit(context.Background(), "shop", "main", files, "change "+image)
	} else {
		sha, err = h.host.Seed("shop", files, "shop")
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return sha
}

func (h *promoHarness) job(ev *events.Event) *Job {
	h.mu.Lock()
	h.seq++
	seq := h.seq
	h.mu.Unlock()
	if ev.Delivery == "" {
		ev.Delivery = fmt.Sprintf("promo-delivery-%d", seq)
	}
	return &Job{Event: ev, Seq: seq, Delivered: 1, Log: quietLogger()}
}

// push deploys sha of the shop to development the way the consumer does, then runs the hook
// the deploy path calls after a successful deploy.
func (h *promoHarness) push(p *Pipeline, sha string) {
	h.t.Helper()
	ctx := context.Background()
	job := h.job(&events.Event{Kind: events.KindPush, Repo: promoOwner + "/shop", RepoCloneURL: githost.URL(h.url, "shop"),
		DefaultBranch: "main", Ref: "refs/heads/main", Branch: "main", After: sha})
	outcome, err := p.handle(ctx, job)
	if err != nil || (outcome != OutcomeDeployed && outcome != OutcomeUnchanged) {
		h.t.Fatalf("push %s: outcome %s, err %v", sha[:7], outcome, err)
	}
	if err := p.AfterDeploy(ctx, job, "development", promoOwner+"/shop", sha); err != nil {
		h.t.Fatalf("after deploy: %v", err)
	}
	h.settle(p)
}

// settle hands every webhook the stand-in emitted to p, as the consumer would, until none is
// left (a merge's closed event may lead to another PR, and so on).
func (h *promoHarness) settle(p *Pipeline) {
	h.t.Helper()
	for {
		h.mu.Lock()
		batch := h.emitted
		h.emitted = nil
		h.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, e := range batch {
			if e.event != events.KindPullRequest {
				continue
			}
			ev, err := events.Normalize(e.event, "", e.payload)
			if errors.Is(err, events.ErrIgnored) {
				continue // e.g. "edited": intake drops it
			}
			if err != nil {
				h.t.Fatalf("normalize emitted %s: %v", e.event, err)
			}
			if _, err := p.HandlePromotionPR(context.Background(), h.job(ev)); err != nil {
				h.t.Fatalf("handle %s %s: %v", e.event, ev.Action, err)
			}
		}
	}
}

func (h *promoHarness) openPRs() []standin.PullRequest {
	var out []standin.PullRequest
	for _, pr := range h.gh.PullRequests(promoOwner, "env") {
		if pr.State == "open" {
			out = append(out, pr)
		}
	}
	return out
}

func (h *promoHarness) file(branch, p string) string {
	h.t.Helper()
	var files map[string][]byte
	var err error
	if branch == "" {
		files, err = h.env.ReadTree(context.Background(), p)
	} else {
		files, err = h.env.ReadBranchTree(context.Background(), branch, p)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return string(files[p])
}

func (h *promoHarness) comment(p *Pipeline, author string, words ...string) string {
	h.t.Helper()
	job := h.job(&events.Event{Kind: events.KindIssueComment, Action: "created", Repo: promoOwner + "/shop", PRNumber: 7,
		CommentID: 1, CommentAuthor: author, CommentBody: "/scorebot " + strings.Join(words, " ")})
	if err := p.promotionCommand(context.Background(), job, words); err != nil {
		h.t.Fatalf("command %q: %v", words, err)
	}
	h.settle(p)
	marker := "<!-- scorebot:reply " + words[0] + " " + words[1] + " -->"
	for _, c := range h.gh.Comments(promoOwner, "shop", 7) {
		if strings.Contains(c.Body, marker) {
			return c.Body
		}
	}
	h.t.Fatalf("no answer to %q", words)
	return ""
}

// webFile is the shop's web Deployment in env.
func webFile(env string) string { return envtree.AppDir("", env, "shop") + "/deployment-web.yaml" }

const (
	promoStaged = promotion.PromotePrefix + "shop/staging"
	promoProd   = promotion.PromotePrefix + "shop/production"
)

func TestPromotionFlow(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.bot("one")

	// push → development deployed → promotion PR to staging, rendered with staging's rules.
	sha1 := h.commitApp("ghcr.io/acme/shop-web:1.4.2")
	h.push(p, sha1)
	devTree, err := h.env.ReadTree(ctx, envtree.AppDir("", "development", "shop"))
	if err != nil || len(devTree) == 0 {
		t.Fatalf("development not deployed: %v", err)
	}
	prs := h.openPRs()
	if len(prs) != 1 || prs[0].Head != promoStaged || prs[0].Base != "main" {
		t.Fatalf("open PRs = %+v, want one from %s", prs, promoStaged)
	}
	stagingPR := prs[0].Number
	web := h.file(promoStaged, webFile("staging"))
	if !strings.Contains(web, "pg.staging.example.internal") || !strings.Contains(web, "namespace: shop-staging") {
		t.Errorf("staging render does not use staging's postgres and namespace:\n%s", web)
	}
	if strings.Contains(h.file("", webFile("development")), "pg.staging.example.internal") {
		t.Error("development uses staging's database")
	}
	if !strings.Contains(prs[0].Body, "+          value: pg.staging.example.internal") && !strings.Contains(prs[0].Body, "pg.staging.example.internal") {
		t.Errorf("PR body has no diff with staging's database:\n%s", prs[0].Body)
	}
	if !strings.Contains(prs[0].Body, "/local/shop/commit/"+sha1) || !strings.Contains(prs[0].Title, sha1[:7]) {
		t.Errorf("PR does not link the source commit: %s\n%s", prs[0].Title, prs[0].Body)
	}
	if h.file("", webFile("staging")) != "" {
		t.Error("staging deployed before the merge")
	}
	if sts := h.gh.Statuses(promoOwner, "env", prs[0].HeadSHA); len(sts) != 1 || sts[0].Context != PromotionCheckContext || sts[0].State != "success" {
		t.Errorf("promotion head statuses = %+v, want %s success", sts, PromotionCheckContext)
	}

	// a newer push while the PR is open → the same PR, updated.
	sha2 := h.commitApp("ghcr.io/acme/shop-web:1.5.0")
	h.push(p, sha2)
	prs = h.openPRs()
	if len(prs) != 1 || prs[0].Number != stagingPR {
		t.Fatalf("after a newer push, open PRs = %+v, want #%d only", prs, stagingPR)
	}
	if !strings.Contains(prs[0].Title, sha2[:7]) || !strings.Contains(h.file(promoStaged, webFile("staging")), "shop-web:1.5.0") {
		t.Errorf("PR #%d not updated to %s: %s", stagingPR, sha2[:7], prs[0].Title)
	}
	if prs[0].HeadSHA != h.branchHead(promoStaged) {
		t.Errorf("PR head %s is not the branch head", prs[0].HeadSHA)
	}

	// promote via comment by a reader → refused by the /scorebot dispatch table with
	// promotion's commands added, nothing opened.
	cmds := PreviewCommands()
	maps.Copy(cmds, PromotionCommands())
	mallory, err := forge.New(forge.Config{BaseURL: h.url + "/api/v3/", Token: "as:mallory", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cm, _, err := mallory.GitHub().Issues.CreateComment(ctx, promoOwner, "shop", 8, &github.IssueComment{Body: github.String("/scorebot promote production")})
	if err != nil {
		t.Fatal(err)
	}
	readerJob := h.job(&events.Event{Kind: events.KindIssueComment, Action: "created", Repo: promoOwner + "/shop", PRNumber: 8,
		CommentID: cm.GetID(), CommentAuthor: "mallory", CommentBody: cm.GetBody()})
	if err := cmds.Handle(ctx, p, readerJob); err != nil {
		t.Fatal(err)
	}
	if cs := h.gh.Comments(promoOwner, "shop", 8); len(cs) != 2 || !strings.Contains(cs[1].Body, "needs write access") {
		t.Errorf("reader's /scorebot promote not refused by the dispatch table: %+v", cs)
	}
	// a promotion of a commit no longer in development → refused with the reason.
	if body := h.comment(p, promoOwner, "promote", "staging", sha1[:7]); !strings.Contains(body, "refused") || !strings.Contains(body, "development runs local/shop@"+sha2[:7]) {
		t.Errorf("stale promote not refused with a reason: %s", body)
	}
	if len(h.openPRs()) != 1 {
		t.Fatalf("open PRs after refused commands = %+v", h.openPRs())
	}

	// restart mid-flow: a new bot with a new data dir and the KV wiped continues from Git.
	before, err := p.PromotionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.js.DeleteKeyValue(ctx, BucketPromotions); err != nil {
		t.Fatal(err)
	}
	p = h.bot("two")
	after, err := p.PromotionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("state rebuilt from Git differs:\nbefore %+v\nafter  %+v", before, after)
	}
	if st := promoFind(after, "shop", "staging"); st.Pending == nil || st.Pending.PR != stagingPR || st.Pending.SourceCommit != sha2 {
		t.Errorf("staging state = %+v, want pending PR #%d of %s", st, stagingPR, sha2[:7])
	}

	// merge → staging deployed, a Deployment reported, the promotion PR to production opened.
	if _, err := h.forge.MergePR(ctx, h.envGH, stagingPR, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	if !strings.Contains(h.file("", webFile("staging")), "pg.staging.example.internal") {
		t.Fatal("staging not deployed by the merge")
	}
	if !promoHasDeployment(h.gh.Deployments(promoOwner, "shop"), sha2, "staging") {
		t.Errorf("no successful staging Deployment on %s: %+v", sha2[:7], h.gh.Deployments(promoOwner, "shop"))
	}
	prs = h.openPRs()
	if len(prs) != 1 || prs[0].Head != promoProd {
		t.Fatalf("after the staging merge, open PRs = %+v, want one from %s", prs, promoProd)
	}
	prodPR := prs[0].Number
	if web := h.file(promoProd, webFile("production")); !strings.Contains(web, "shop.pg.production.example.internal") {
		t.Errorf("production render does not use production's database:\n%s", web)
	}

	// the merged webhook again (a redelivery, here the derived fixture) → nothing new.
	ev, err := events.Normalize(events.KindPullRequest, "fixture", []byte(h.read("testdata/promotion/pull_request.closed-merged.json")))
	if err != nil || !ev.Merged || ev.PRHead.Ref != promoStaged {
		t.Fatalf("derived fixture: %+v, %v", ev, err)
	}
	if handled, err := p.HandlePromotionPR(ctx, h.job(ev)); !handled || err != nil {
		t.Fatalf("fixture: handled %v, err %v", handled, err)
	}
	h.settle(p)
	if prs := h.openPRs(); len(prs) != 1 || prs[0].Number != prodPR {
		t.Fatalf("after a redelivered merge, open PRs = %+v", prs)
	}

	// close unmerged → rejected, no further PR, not reopened by a later deploy of the same commit.
	closed := "closed"
	if _, _, err := h.forge.GitHub().PullRequests.Edit(ctx, promoOwner, "env", prodPR, &github.PullRequest{State: &closed}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	if len(h.openPRs()) != 0 {
		t.Fatalf("open PRs after the rejection = %+v", h.openPRs())
	}
	if h.branchHead(promotion.RejectedBranch("shop", "production")) == "" {
		t.Fatal("no rejected branch")
	}
	if err := p.AfterDeploy(ctx, h.job(&events.Event{Kind: events.KindPush}), "staging", promoOwner+"/shop", sha2); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	if len(h.openPRs()) != 0 {
		t.Fatalf("a rejected promotion was reopened: %+v", h.openPRs())
	}
	state, err := p.PromotionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := promoFind(state, "shop", "production"); st.Rejected == nil || st.Rejected.SourceCommit != sha2 || st.Rejected.PR != prodPR || st.Pending != nil {
		t.Errorf("production state = %+v, want rejected %s (PR #%d)", st, sha2[:7], prodPR)
	}
	if st := promoFind(state, "shop", "staging"); st.SourceCommit != sha2 || st.Pending != nil {
		t.Errorf("staging state = %+v, want %s deployed", st, sha2[:7])
	}
	if err := h.js.DeleteKeyValue(ctx, BucketPromotions); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := h.bot("three").PromotionState(ctx)
	if err != nil || !reflect.DeepEqual(rebuilt, state) {
		t.Errorf("rebuilt state differs (%v):\n%+v\n%+v", err, rebuilt, state)
	}

	// a third push: development runs sha3, a staging promotion of sha3 is open.
	sha3 := h.commitApp("ghcr.io/acme/shop-web:1.6.0")
	h.push(p, sha3)
	prs = h.openPRs()
	if len(prs) != 1 || prs[0].Head != promoStaged || !strings.Contains(prs[0].Title, sha3[:7]) {
		t.Fatalf("after a third push, open PRs = %+v", prs)
	}
	stagingOpen := prs[0]

	// rollback development to the first commit → a PR restoring the tree its deploy wrote.
	if body := h.comment(p, promoOwner, "rollback", "development", sha1[:7]); !strings.Contains(body, "Rollback of `shop` to **development**") {
		t.Fatalf("rollback answer: %s", body)
	}
	branch := promotion.RollbackBranch("shop", "development")
	restored, err := h.env.ReadBranchTree(ctx, branch, envtree.AppDir("", "development", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, devTree) {
		t.Errorf("rollback branch does not hold the first deploy's tree")
	}
	var rollbackPR *standin.PullRequest
	for _, pr := range h.openPRs() {
		if pr.Head == branch {
			rollbackPR = &pr
		}
	}
	if rollbackPR == nil || !strings.Contains(rollbackPR.Body, "shop-web:1.4.2") || !strings.Contains(rollbackPR.Title, sha1[:7]) {
		t.Fatalf("rollback PR = %+v", rollbackPR)
	}
	if body := h.comment(p, promoOwner, "rollback", "production"); !strings.Contains(body, "not deployed in production") {
		t.Errorf("rollback of an undeployed app: %s", body)
	}

	// merging the rollback → development runs the first commit again; the open staging
	// promotion of sha3 is refused (failing check and a comment), not merged, not closed.
	if _, err := h.forge.MergePR(ctx, h.envGH, rollbackPR.Number, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	if got, _ := h.env.ReadTree(ctx, envtree.AppDir("", "development", "shop")); !reflect.DeepEqual(got, devTree) {
		t.Error("development does not hold the first deploy's tree after the rollback merge")
	}
	if !promoHasDeployment(h.gh.Deployments(promoOwner, "shop"), sha1, "development") {
		t.Errorf("no development Deployment of %s after the rollback", sha1[:7])
	}
	if prs := h.openPRs(); len(prs) != 1 || prs[0].Number != stagingOpen.Number {
		t.Errorf("open PRs after the rollback merge = %+v", prs)
	}
	sts := h.gh.Statuses(promoOwner, "env", stagingOpen.HeadSHA)
	if len(sts) == 0 || sts[len(sts)-1].Context != PromotionCheckContext || sts[len(sts)-1].State != "failure" {
		t.Errorf("stale staging promotion not refused by status: %+v", sts)
	}
	if cs := h.gh.Comments(promoOwner, "env", stagingOpen.Number); len(cs) != 1 || !strings.Contains(cs[0].Body, "development no longer runs local/shop@"+sha3[:7]) {
		t.Errorf("stale staging promotion not refused by comment: %+v", cs)
	}
	state, err = p.PromotionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := promoFind(state, "shop", "development"); st.SourceCommit != sha1 {
		t.Errorf("development state after rollback = %+v, want %s", st, sha1[:7])
	}
}

func TestPromotionAutoMerge(t *testing.T) {
	h := newPromoHarness(t, true)
	p := h.bot("one")
	sha := h.commitApp("ghcr.io/acme/shop-web:2.0.0")
	h.push(p, sha)
	var staged *standin.PullRequest
	for _, pr := range h.gh.PullRequests(promoOwner, "env") {
		if pr.Head == promoStaged {
			staged = &pr
		}
	}
	if staged == nil || !staged.Merged || staged.MergedBy != standin.DefaultBot {
		t.Fatalf("staging promotion not merged by the bot: %+v", staged)
	}
	if !strings.Contains(h.file("", webFile("staging")), "shop-web:2.0.0") {
		t.Error("staging not deployed")
	}
	// production has no autoMerge: its PR waits for a person.
	if prs := h.openPRs(); len(prs) != 1 || prs[0].Head != promoProd || prs[0].Merged {
		t.Fatalf("open PRs = %+v, want the production promotion waiting", prs)
	}
}

func (h *promoHarness) branchHead(branch string) string {
	sha, err := h.host.Head(context.Background(), "env", branch)
	if err != nil {
		h.t.Fatal(err)
	}
	return sha
}

func promoFind(recs []promotion.Record, app, env string) promotion.Record {
	for _, r := range recs {
		if r.App == app && r.Env == env {
			return r
		}
	}
	return promotion.Record{}
}

func promoHasDeployment(deps []standin.Deployment, sha, env string) bool {
	for _, d := range deps {
		if d.SHA != sha || d.Environment != env || len(d.Statuses) == 0 {
			continue
		}
		if d.Statuses[len(d.Statuses)-1].State == "success" {
			return true
		}
	}
	return false
}

// promoWholeResponse answers only once next has returned. The stand-in emits a request's
// webhooks after its handler has written the response; a large response is flushed early,
// and go-github returns as soon as it has decoded the JSON, before the webhook is out.
func promoWholeResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestPromotionRulesChange: a rules push that changes staging's postgres reaches staging as
// one re-render PR (the hook rulesPush calls for environments reached by promotion), not as a
// direct commit; merging it applies the new rules.
func TestPromotionRulesChange(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.bot("one")
	sha := h.commitApp("ghcr.io/acme/shop-web:3.0.0")
	h.push(p, sha)
	stagingPR := h.openPRs()[0].Number
	if _, err := h.forge.MergePR(ctx, h.envGH, stagingPR, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)

	newRules := promoMoveStagingDatabase(t, h)
	lr, err := p.RulesAt(ctx, newRules)
	if err != nil {
		t.Fatal(err)
	}
	staging, _ := lr.Rules.Environment("staging")
	res, err := p.RerenderPromoted(ctx, h.job(&events.Event{Kind: events.KindPush}), lr, staging)
	if err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	var pr *standin.PullRequest
	for _, x := range h.openPRs() {
		if x.Head == promotion.RerenderBranch("staging") {
			pr = &x
		}
	}
	if pr == nil || pr.Number != res.PR || !strings.Contains(pr.Body, "+          value: pg2.staging.example.internal") || !strings.Contains(pr.Title, "shop") {
		t.Fatalf("re-render PR = %+v (result %+v)", pr, res)
	}
	if strings.Contains(h.file("", webFile("staging")), "pg2.") {
		t.Fatal("staging changed before the merge")
	}
	// the same rules again: the same PR, unchanged.
	again, err := p.RerenderPromoted(ctx, h.job(&events.Event{Kind: events.KindPush}), lr, staging)
	if err != nil || again.PR != res.PR || again.Opened {
		t.Fatalf("second re-render = %+v, %v", again, err)
	}
	if _, err := h.forge.MergePR(ctx, h.envGH, res.PR, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	if !strings.Contains(h.file("", webFile("staging")), "pg2.staging.example.internal") {
		t.Error("staging does not use the new rules after the merge")
	}
}

// promoMoveStagingDatabase commits a rules change moving staging's postgres to
// pg2.staging.example.internal and returns the rules commit.
func promoMoveStagingDatabase(t *testing.T, h *promoHarness) string {
	t.Helper()
	def, err := promoReadRepo(h, "rules", "definitions/postgres-staging.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := h.host.Commit(context.Background(), "rules", "main", promoRulesWith(t, h, strings.ReplaceAll(string(def),
		"pg.staging.example.internal", "pg2.staging.example.internal")), "move staging's database")
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// promoRulesWith is the rules repo's files with postgres-staging.yaml replaced.
func promoRulesWith(t *testing.T, h *promoHarness, stagingDef string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	root := "../../examples/rules"
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "platform.yaml" {
			return err
		}
		files[p], err = os.ReadFile(filepath.Join(root, p))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	platform, err := promoReadRepo(h, "rules", "platform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files["platform.yaml"] = platform
	files["definitions/postgres-staging.yaml"] = []byte(stagingDef)
	return files
}

// promoReadRepo reads one file at the head of a repo on the git host.
func promoReadRepo(h *promoHarness, repo, file string) ([]byte, error) {
	r, err := envrepo.Open(envrepo.Config{URL: githost.URL(h.url, repo), Dir: filepath.Join(h.dir, "read-"+repo)})
	if err != nil {
		return nil, err
	}
	files, err := r.ReadTree(context.Background(), file)
	if err != nil {
		return nil, err
	}
	return files[file], nil
}

// TestBotPRRebuiltWhenTheEnvBranchMoves: an open promotion into staging and a re-render PR
// for staging both rewrite the shop's files; once the re-render is merged, the promotion
// holds a render with the old rules and a preview diffed against the old files. The env push
// that follows builds it again on the new head (the new source with the new rules), and it
// merges. The production promotion, whose files the move did not touch, is left as it was.
func TestBotPRRebuiltWhenTheEnvBranchMoves(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.bot("one")
	p.cfg.PromotionPRs = true // as Standard sets it: a rules push opens re-render PRs
	h.push(p, h.commitApp("ghcr.io/acme/shop-web:3.0.0"))
	if _, err := h.forge.MergePR(ctx, h.envGH, h.openPRs()[0].Number, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p) // staging runs 3.0.0; the production promotion is open
	h.push(p, h.commitApp("ghcr.io/acme/shop-web:4.0.0"))
	prodHead := h.branchHead(promoProd)

	newRules := promoMoveStagingDatabase(t, h)
	if _, err := p.handle(ctx, h.job(&events.Event{Kind: events.KindPush, Repo: promoOwner + "/rules",
		RepoCloneURL: githost.URL(h.url, "rules"), DefaultBranch: "main", Ref: "refs/heads/main", Branch: "main",
		After: newRules})); err != nil {
		t.Fatalf("rules push: %v", err)
	}
	var promo, rerender int
	for _, pr := range h.openPRs() {
		switch pr.Head {
		case promoStaged:
			promo = pr.Number
		case promotion.RerenderBranch("staging"):
			rerender = pr.Number
		}
	}
	if promo == 0 || rerender == 0 || !strings.Contains(h.file(promoStaged, webFile("staging")), "shop-web:4.0.0") {
		var heads []string
		for _, pr := range h.openPRs() {
			heads = append(heads, pr.Head)
		}
		t.Fatalf("want an open promotion of 4.0.0 into staging and a re-render PR; open: %v", heads)
	}
	if _, err := h.forge.MergePR(ctx, h.envGH, rerender, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	if strings.Contains(h.file(promoStaged, webFile("staging")), "pg2.") {
		t.Fatal("the promotion changed before the env push")
	}

	envPush := func() string {
		t.Helper()
		outcome, err := p.handle(ctx, h.job(&events.Event{Kind: events.KindPush, Repo: promoOwner + "/env",
			RepoCloneURL: githost.URL(h.url, "env"), DefaultBranch: "main", Ref: "refs/heads/main", Branch: "main",
			After: h.branchHead("main")}))
		if err != nil {
			t.Fatalf("env push: %v", err)
		}
		return outcome
	}
	if got := envPush(); got != OutcomeHandled {
		t.Fatalf("env push outcome %s, want %s", got, OutcomeHandled)
	}
	web := h.file(promoStaged, webFile("staging"))
	if !strings.Contains(web, "shop-web:4.0.0") || !strings.Contains(web, "pg2.staging.example.internal") {
		t.Fatalf("promotion not rebuilt with the new rules:\n%s", web)
	}
	parent, err := exec.Command("git", "--git-dir", h.host.Dir("env"), "rev-parse", promoStaged+"^").Output()
	if got, want := strings.TrimSpace(string(parent)), h.branchHead("main"); err != nil || got != want {
		t.Errorf("promotion built on %q (%v), want the env branch's head %s", got, err, want)
	}
	for _, pr := range h.openPRs() {
		if pr.Number == promo && strings.Contains(pr.Body, "pg.staging.example.internal") {
			t.Errorf("the promotion's preview still diffs against the old database:\n%s", pr.Body)
		}
	}
	if got := h.branchHead(promoProd); got != prodHead {
		t.Errorf("the production promotion was touched (%s → %s)", prodHead[:7], got[:7])
	}
	if got := envPush(); got != OutcomeIgnored {
		t.Errorf("a second env push rebuilt again: %s", got)
	}
	if _, err := h.forge.MergePR(ctx, h.envGH, promo, forge.Merge{}); err != nil {
		t.Fatalf("the rebuilt promotion does not merge: %v", err)
	}
	h.settle(p)
	if web := h.file("", webFile("staging")); !strings.Contains(web, "shop-web:4.0.0") || !strings.Contains(web, "pg2.staging.example.internal") {
		t.Errorf("staging after the merge:\n%s", web)
	}
}

// TestRollbackReadsDeeperHistory: a rollback reads the env branch's recent history first and
// deeper only when the deploy it seeks is older; the result is the same either way.
func TestRollbackReadsDeeperHistory(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.bot("one")
	p.rollbackDepths = []int{1, 2, 0}
	dir := envtree.AppDir("", "development", "shop")
	var shas []string
	trees := map[string]map[string][]byte{}
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0", "4.0.0"} {
		sha := h.commitApp("ghcr.io/acme/shop-web:" + v)
		h.push(p, sha)
		tree, err := h.env.ReadTree(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		shas, trees[sha] = append(shas, sha), tree
	}
	for _, c := range []struct{ ask, want string }{
		{"", shas[2]},      // the deploy before the current one: one commit back
		{shas[0], shas[0]}, // three deploys back: past the first two depths
	} {
		res, err := p.Rollback(ctx, RollbackRequest{App: "shop", Env: "development", Commit: c.ask})
		if err != nil {
			t.Fatalf("rollback to %q: %v", c.ask, err)
		}
		if res.SourceCommit != c.want {
			t.Errorf("rollback to %q restored %s, want %s", c.ask, res.SourceCommit[:7], c.want[:7])
		}
		got, err := h.env.ReadBranchTree(ctx, res.Branch, dir)
		if err != nil || !reflect.DeepEqual(got, trees[c.want]) {
			t.Errorf("rollback to %q: the branch does not hold that deploy's files (%v)", c.ask, err)
		}
	}
	if _, err := p.Rollback(ctx, RollbackRequest{App: "shop", Env: "development", Commit: strings.Repeat("0", 40)}); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("rollback to a commit never deployed: %v, want ErrNothingToRollBack", err)
	}
}

// TestMergedPromotionClearsRejection: a promotion into production closed unmerged is
// recorded as rejected; once a person asks again and merges it, the record is removed, and
// so is the merged promotion's branch.
func TestMergedPromotionClearsRejection(t *testing.T) {
	h := newPromoHarness(t, true)
	ctx := context.Background()
	p := h.bot("one")
	h.push(p, h.commitApp("ghcr.io/acme/shop-web:2.0.0"))
	prs := h.openPRs()
	if len(prs) != 1 || prs[0].Head != promoProd {
		t.Fatalf("open PRs = %+v, want the production promotion", prs)
	}
	closed := "closed"
	if _, _, err := h.forge.GitHub().PullRequests.Edit(ctx, promoOwner, "env", prs[0].Number, &github.PullRequest{State: &closed}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	rejected := promotion.RejectedBranch("shop", "production")
	if h.branchHead(rejected) == "" {
		t.Fatal("no rejection recorded")
	}
	res, err := p.Promote(ctx, PromoteRequest{App: "shop", To: "production", Explicit: true, Job: h.job(&events.Event{Kind: events.KindIssueComment})})
	if err != nil || res.PR == 0 {
		t.Fatalf("promote again: %+v, %v", res, err)
	}
	if _, err := h.forge.MergePR(ctx, h.envGH, res.PR, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	h.settle(p)
	for _, b := range []string{rejected, promoProd} {
		if head := h.branchHead(b); head != "" {
			t.Errorf("%s still at %s after the promotion was merged", b, head[:7])
		}
	}
	state, err := p.PromotionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := promoFind(state, "shop", "production"); st.Rejected != nil || st.SourceCommit == "" {
		t.Errorf("production state = %+v, want deployed and no rejection", st)
	}
}

// TestPromoteBadInputErrors: a promotion to an unknown environment or of an app with a bad
// name says what was asked, the field and the fix, without a "promote: promote:" stutter.
func TestPromoteBadInputErrors(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.bot("one")
	for _, c := range []struct {
		app, to string
		want    []string
	}{
		{"shop", "qa", []string{"promote shop to qa: ", `"qa"`, "platform.yaml names"}},
		{"development", "development", []string{"promote development to development: ", "reach", "only environments with reach: promotion"}},
		{"Shop_1", "staging", []string{"promote to staging: ", `app "Shop_1" is not a DNS label`, "use lowercase letters"}},
	} {
		_, err := p.Promote(ctx, PromoteRequest{App: c.app, To: c.to, Explicit: true, Job: h.job(&events.Event{Kind: events.KindIssueComment})})
		if err == nil || !IsPermanent(err) {
			t.Fatalf("promote %s to %s: err = %v, want a permanent error", c.app, c.to, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("promote %s to %s: error lacks %q: %v", c.app, c.to, w, err)
			}
		}
		t.Log(err)
		if strings.Contains(err.Error(), "promote: ") {
			t.Errorf("stutter: %v", err)
		}
	}
}

// A deploy keeps the stored promotion state current by itself, not only when a promotion
// follows: here the deploy runs without the AfterDeploy step that would open one.
func TestDeployUpdatesPromotionState(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.bot("one")
	sha1 := h.commitApp("ghcr.io/acme/shop-web:1.5.0")
	h.push(p, sha1)
	state, err := p.PromotionState(ctx) // the bucket now holds every record
	if err != nil {
		t.Fatal(err)
	}
	if st := promoFind(state, "shop", "development"); st.SourceCommit != sha1 {
		t.Fatalf("development state = %+v, want %s", st, sha1[:7])
	}
	sha2 := h.commitApp("ghcr.io/acme/shop-web:1.6.0")
	job := h.job(&events.Event{Kind: events.KindPush, Repo: promoOwner + "/shop", RepoCloneURL: githost.URL(h.url, "shop"),
		DefaultBranch: "main", Ref: "refs/heads/main", Branch: "main", After: sha2})
	if outcome, err := p.handle(ctx, job); err != nil || outcome != OutcomeDeployed {
		t.Fatalf("push %s: outcome %s, err %v", sha2[:7], outcome, err)
	}
	state, err = p.PromotionState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := promoFind(state, "shop", "development"); st.SourceCommit != sha2 || st.SourceRepo != promoOwner+"/shop" {
		t.Errorf("development state after a deploy = %+v, want %s", st, sha2[:7])
	}
	if st := promoFind(state, "shop", "staging"); st.Pending == nil || st.Pending.SourceCommit != sha1 {
		t.Errorf("staging state = %+v, want the promotion of %s still pending", st, sha1[:7])
	}
}
