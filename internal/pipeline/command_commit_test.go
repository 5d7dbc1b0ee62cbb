package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
)

// standardBot is a pipeline as `bot serve` wires it (Standard), except that a deploy does not
// open the next promotion PR by itself: the commands under test are what opens it.
func (h *promoHarness) standardBot(name string) *Pipeline {
	h.t.Helper()
	cfg := Config{
		DataDir: filepath.Join(h.dir, "bot-"+name), RulesURL: githost.URL(h.url, "rules"), RulesRepo: promoOwner + "/rules",
		GitURLTemplate: h.url + "/git/{name}.git", Forge: h.forge, Logger: quietLogger(), LeaseTTL: 5 * time.Second,
		AfterDeploy: func(context.Context, *Pipeline, *Job, string, string, string) error { return nil },
	}
	Standard(&cfg)
	p, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := p.setup(context.Background(), h.js); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// commitComment comments body on commit sha of the shop as user, through the stand-in's REST
// API, then runs every webhook the stand-in sent through the intake's Normalize and p's
// dispatch, as the consumer would (the bot's own answers come back as commit comments too and
// must be ignored), until none is left. It returns the comment's id.
func (h *promoHarness) commitComment(p *Pipeline, user, sha, body string) int64 {
	h.t.Helper()
	ctx := context.Background()
	as, err := forge.New(forge.Config{BaseURL: h.url + "/api/v3/", Token: forge.Secret("as:" + user), Logger: quietLogger()})
	if err != nil {
		h.t.Fatal(err)
	}
	cm, err := as.CreateCommitComment(ctx, forge.Repo{Owner: promoOwner, Name: "shop"}, sha, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for {
		h.mu.Lock()
		batch := h.emitted
		h.emitted = nil
		h.mu.Unlock()
		if len(batch) == 0 {
			return cm.ID
		}
		for _, e := range batch {
			ev, err := events.Normalize(e.event, "", e.payload)
			if errors.Is(err, events.ErrIgnored) {
				continue
			}
			if err != nil {
				h.t.Fatalf("normalize emitted %s: %v", e.event, err)
			}
			if _, err := p.handle(ctx, h.job(ev)); err != nil {
				h.t.Fatalf("handle %s %s: %v", e.event, ev.Action, err)
			}
		}
	}
}

// commitReply is the bot's answer of kind on commit sha ("" when there is none).
func (h *promoHarness) commitReply(sha, kind string) string {
	marker := "<!-- scorebot:reply " + kind + " -->"
	var found []standin.Comment
	for _, c := range h.gh.CommitComments(promoOwner, "shop", sha) {
		if strings.Contains(c.Body, marker) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return ""
	case 1:
		return found[0].Body
	}
	h.t.Fatalf("%d answers %q on %s, want one edited in place", len(found), kind, sha[:7])
	return ""
}

// TestPromoteFromCommitComment: `/scorebot promote staging` in a comment on the app commit
// deployed to development opens the staging promotion PR when a writer asks, and is refused
// with an answer on the commit (and no PR) when a reader asks; the command's sha defaults to
// the commented commit; preview says it works on PRs only. Every comment goes through the
// stand-in's commit comment API, its commit_comment webhook, Normalize and the Standard
// dispatch table.
func TestPromoteFromCommitComment(t *testing.T) {
	h := newPromoHarness(t, false)
	ctx := context.Background()
	p := h.standardBot("one")

	sha1 := h.commitApp("ghcr.io/acme/shop-web:1.4.2")
	job := h.job(&events.Event{Kind: events.KindPush, Repo: promoOwner + "/shop", RepoCloneURL: githost.URL(h.url, "shop"),
		DefaultBranch: "main", Ref: "refs/heads/main", Branch: "main", After: sha1})
	if outcome, err := p.handle(ctx, job); err != nil || outcome != OutcomeDeployed {
		t.Fatalf("push %s: outcome %s, err %v", sha1[:7], outcome, err)
	}
	if prs := h.openPRs(); len(prs) != 0 {
		t.Fatalf("open PRs after the deploy = %+v, want none before the command", prs)
	}

	// A reader: acknowledged, refused on the commit, nothing opened.
	id := h.commitComment(p, "mallory", sha1, "/scorebot promote staging")
	if got := h.commitReply(sha1, "refused mallory"); !strings.Contains(got, "needs write access") {
		t.Errorf("reader's promote not refused on the commit: %q", got)
	}
	if prs := h.openPRs(); len(prs) != 0 {
		t.Fatalf("reader's promote opened %+v", prs)
	}
	if !h.reacted(sha1, id) {
		t.Error("the reader's command was not acknowledged with a reaction")
	}

	// preview needs a PR.
	h.commitComment(p, promoOwner, sha1, "/scorebot preview")
	if got := h.commitReply(sha1, "preview"); !strings.Contains(got, "works on pull requests only") {
		t.Errorf("preview on a commit: %q", got)
	}

	// A commit that development does not run: refused with the reason, nothing opened.
	sha2 := h.commitApp("ghcr.io/acme/shop-web:1.5.0")
	h.commitComment(p, promoOwner, sha2, "/scorebot promote staging")
	if got := h.commitReply(sha2, "promote staging"); !strings.Contains(got, "refused") || !strings.Contains(got, "development runs local/shop@"+sha1[:7]) {
		t.Errorf("promote of an undeployed commit not refused with a reason: %q", got)
	}
	if prs := h.openPRs(); len(prs) != 0 {
		t.Fatalf("promote of an undeployed commit opened %+v", prs)
	}

	// A writer, on the deployed commit: the staging promotion PR, answered on the commit.
	id = h.commitComment(p, promoOwner, sha1, "/scorebot promote staging")
	prs := h.openPRs()
	if len(prs) != 1 || prs[0].Head != promoStaged || !strings.Contains(prs[0].Title, sha1[:7]) {
		t.Fatalf("open PRs = %+v, want the staging promotion of %s", prs, sha1[:7])
	}
	if web := h.file(promoStaged, webFile("staging")); !strings.Contains(web, "pg.staging.example.internal") {
		t.Errorf("staging promotion not rendered with staging's rules:\n%s", web)
	}
	if got := h.commitReply(sha1, "promote staging"); !strings.Contains(got, "opened") || !strings.Contains(got, "#"+strconv.Itoa(prs[0].Number)) {
		t.Errorf("writer's promote answer on the commit: %q", got)
	}
	if !h.reacted(sha1, id) {
		t.Error("the writer's command was not acknowledged with a reaction")
	}

	// help lists the commands, and says which work on PRs only.
	h.commitComment(p, "mallory", sha1, "/scorebot help")
	if got := h.commitReply(sha1, "help"); !strings.Contains(got, "`/scorebot promote <env> [<sha>]`") || !strings.Contains(got, "(PRs only)") {
		t.Errorf("help on a commit: %q", got)
	}
	if n := len(h.gh.Comments(promoOwner, "shop", 7)) + len(h.gh.Comments(promoOwner, "shop", 0)); n != 0 {
		t.Errorf("%d answers went to PR conversations", n)
	}
}

func (h *promoHarness) reacted(sha string, id int64) bool {
	for _, c := range h.gh.CommitComments(promoOwner, "shop", sha) {
		if c.ID == id {
			return len(c.Reactions) == 1 && c.Reactions[0].Content == CommandReaction
		}
	}
	return false
}
