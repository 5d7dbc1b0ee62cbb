package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/rules"
)

func mapFS(files map[string][]byte) fstest.MapFS {
	m := fstest.MapFS{}
	for p, b := range files {
		m[p] = &fstest.MapFile{Data: b}
	}
	return m
}

func trailer(msg, key string) string {
	for _, line := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	return ""
}

func TestPushDeploysOnce(t *testing.T) {
	h := newHarness(t)
	blog, err := os.ReadFile(path.Join(exampleApps, "blog", "score.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"score.yaml": blog, "README.md": []byte("blog\n")}
	r := h.start(h.config("a"))
	sha := h.push("blog", files)

	waitFor(t, "the deploy commit", func() bool { return len(h.envLog()) == 1 })
	c := h.envLog()[0]
	if want := "deploy blog to development from local/blog@" + sha[:7]; !strings.HasPrefix(c.Message, want+"\n") {
		t.Errorf("commit message %q, want subject %q", c.Message, want)
	}
	for key, want := range map[string]string{TrailerSourceRepo: "local/blog", TrailerSourceCommit: sha, TrailerDelivery: "delivery-1"} {
		if got := trailer(c.Message, key); got != want {
			t.Errorf("trailer %s = %q, want %q", key, got, want)
		}
	}
	rulesHead, _ := h.host.Head(context.Background(), "rules", "main")
	if got := trailer(c.Message, TrailerRulesCommit); got != rulesHead {
		t.Errorf("rules trailer %q, want %q", got, rulesHead)
	}

	// The env tree is exactly what render gives for these inputs.
	rs, err := rules.Load(mapFS(h.rulesFiles(nil)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(render.Input{Rules: rs, Env: "development", AppID: "blog",
		Files:      []render.ScoreFile{{Path: "score.yaml", Data: blog}},
		Provenance: render.Provenance{SourceRepo: "local/blog", SourceCommit: sha, RulesCommit: rulesHead}})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := h.env.ReadTree(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	delete(tree, "README.md")
	if !maps.EqualFunc(tree, out.Files, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("env tree %v\nwant %v", slices.Sorted(maps.Keys(tree)), slices.Sorted(maps.Keys(out.Files)))
	}

	// GitHub: pending then success on the app commit, a Deployment to development.
	waitFor(t, "the success status", func() bool {
		st := h.gh.Statuses(owner, "blog", sha)
		return len(st) > 0 && st[len(st)-1].State == "success"
	})
	st := h.gh.Statuses(owner, "blog", sha)
	if st[0].State != "pending" || !strings.Contains(st[len(st)-1].TargetURL, c.Hash) {
		t.Errorf("statuses %+v: want pending first and the env commit %s in the last target URL", st, c.Hash)
	}
	deps := h.gh.Deployments(owner, "blog")
	if len(deps) != 1 || deps[0].Environment != "development" || deps[0].SHA != sha {
		t.Fatalf("deployments %+v", deps)
	}
	if s := deps[0].Statuses; len(s) == 0 || s[len(s)-1].State != "success" {
		t.Errorf("deployment statuses %+v", s)
	}

	// The same push again (GitHub's redeliver button: a new delivery id) commits nothing.
	h.publish(events.KindPush, h.pushPayload(pushFixture, "blog", githost.ZeroSHA, sha))
	// A tag deletion from the fixture as it is is ignored.
	h.publish(events.KindPush, h.pushPayload(tagPushFixture, "blog", "", ""))
	waitFor(t, "both jobs", func() bool { return r.settled(events.KindPush) == 3 })
	if n := r.jobs(events.KindPush, OutcomeUnchanged); n != 1 {
		t.Errorf("unchanged jobs = %d, want 1", n)
	}
	if n := r.jobs(events.KindPush, OutcomeIgnored); n != 1 {
		t.Errorf("ignored jobs = %d, want 1", n)
	}
	if n := len(h.envLog()); n != 1 {
		t.Errorf("%d env commits after the redelivery, want 1", n)
	}
}

func TestInvalidScoreIsReportedAndDeadLettered(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.config("a"))
	files := testApp("broken", "1")
	files["score.yaml"] = []byte(strings.Replace(string(files["score.yaml"]), "type: postgres", "type: nosuchdb", 1))
	sha := h.push("broken", files)

	waitFor(t, "the failure status", func() bool {
		st := h.gh.Statuses(owner, "broken", sha)
		return len(st) > 0 && st[len(st)-1].State == "failure"
	})
	st := h.gh.Statuses(owner, "broken", sha)
	if d := st[len(st)-1].Description; !strings.Contains(d, "nosuchdb") {
		t.Errorf("failure description %q does not name the resource type", d)
	}
	waitFor(t, "the job to settle", func() bool { return r.settled(events.KindPush) == 1 })
	if n := r.jobs(events.KindPush, OutcomeFailed); n != 1 {
		t.Errorf("failed jobs = %d, want 1 (no retry loop)", n)
	}
	if n := len(h.envLog()); n != 0 {
		t.Errorf("%d env commits, want none", n)
	}
	dlq := dlqMessages(t, h)
	if len(dlq) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dlq))
	}
	if reason := dlq[0].Header.Get(HeaderDLQReason); !strings.Contains(reason, "nosuchdb") {
		t.Errorf("dead-letter reason %q", reason)
	}
	if dlq[0].Subject != "scorebot.dlq.push.local.broken" {
		t.Errorf("dead-letter subject %q", dlq[0].Subject)
	}
	info := consumerInfo(t, h)
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer still holds the message: %+v", info)
	}
}

func dlqMessages(t *testing.T, h *harness) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := h.js.Stream(ctx, events.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func consumerInfo(t *testing.T, h *harness) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := h.js.Consumer(context.Background(), events.StreamEvents, ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestEightAppsFourWorkers(t *testing.T) {
	h := newHarness(t)
	var names []string
	for i := range 8 {
		name := fmt.Sprintf("app%d", i)
		names = append(names, name)
		h.commitApp(name, testApp(name, "1"))
	}
	// All eight events are in the stream before the workers start, so they run at once.
	for _, name := range names {
		head, _ := h.host.Head(context.Background(), name, "main")
		h.publish(events.KindPush, h.pushPayload(pushFixture, name, githost.ZeroSHA, head))
	}
	cfg := h.config("a")
	cfg.Workers = 4
	r := h.start(cfg)
	waitFor(t, "eight jobs", func() bool { return r.settled(events.KindPush) == 8 })
	log := h.envLog()
	if len(log) != 8 {
		t.Fatalf("%d env commits, want 8", len(log))
	}
	parent := h.envSeed
	for i := len(log) - 1; i >= 0; i-- {
		if len(log[i].Parents) != 1 || log[i].Parents[0] != parent {
			t.Fatalf("history not linear at %s: parents %v, want [%s]", log[i].Hash, log[i].Parents, parent)
		}
		parent = log[i].Hash
	}
	for _, name := range names {
		if h.envFile(envtree.AppDir("", "development", name)+"/deployment-"+name+".yaml") == "" {
			t.Errorf("app %s missing from the env repo", name)
		}
	}
}

func TestCrashBetweenPushAndAck(t *testing.T) {
	h := newHarness(t)
	cfg := h.config("first")
	cfg.AckWait = time.Second // the redelivery after the crash comes after AckWait
	crashed := make(chan struct{})
	first := h.start(cfg, func(p *Pipeline) {
		p.afterApply = func(*Job) bool { close(crashed); return true }
	})
	h.push("demo", testApp("demo", "1"))
	<-crashed
	first.stop()
	if n := len(h.envLog()); n != 1 {
		t.Fatalf("%d env commits after the crash, want 1", n)
	}
	// A fresh process (own data dir) picks up the unacknowledged event.
	cfg2 := h.config("second")
	cfg2.AckWait = cfg.AckWait
	second := h.start(cfg2)
	waitFor(t, "the redelivered job", func() bool { return second.settled(events.KindPush) == 1 })
	if n := second.jobs(events.KindPush, OutcomeUnchanged); n != 1 {
		t.Errorf("redelivery outcome: unchanged = %d, want 1", n)
	}
	if n := len(h.envLog()); n != 1 {
		t.Errorf("%d env commits after the redelivery, want 1", n)
	}
}

func TestOutOfOrderPushesNewerWins(t *testing.T) {
	h := newHarness(t)
	c1 := h.commitApp("demo", testApp("demo", "1"))
	c2 := h.commitApp("demo", testApp("demo", "2"))
	// GitHub delivered the second push first.
	h.publish(events.KindPush, h.pushPayload(pushFixture, "demo", c1, c2))
	h.publish(events.KindPush, h.pushPayload(pushFixture, "demo", githost.ZeroSHA, c1))
	r := h.start(h.config("a"))
	waitFor(t, "both jobs", func() bool { return r.settled(events.KindPush) == 2 })
	if n := r.jobs(events.KindPush, OutcomeSuperseded); n != 1 {
		t.Errorf("superseded = %d, want 1", n)
	}
	if got := counterValue(r.p.metrics.superseded); got != 1 {
		t.Errorf("superseded metric = %v", got)
	}
	dep := h.envFile(envtree.AppDir("", "development", "demo") + "/deployment-demo.yaml")
	if !strings.Contains(dep, "ghcr.io/acme/demo:2") {
		t.Errorf("env repo holds\n%s\nwant image demo:2", dep)
	}
	if prov := h.envFile(envtree.ProvenancePath("", "development", "demo")); !strings.Contains(prov, c2) {
		t.Errorf("provenance names another commit than %s:\n%s", c2, prov)
	}
}

func TestRulesPushRerenders(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.config("a"))
	h.push("alpha", testApp("alpha", "1"))
	h.push("beta", testApp("beta", "1"))
	waitFor(t, "two deploys", func() bool { return len(h.envLog()) == 2 })
	if _, err := r.p.PromotionState(context.Background()); err != nil { // fills the bucket
		t.Fatal(err)
	}

	before, _ := h.host.Head(context.Background(), "rules", "main")
	after := h.seedRules(func(files map[string][]byte) {
		p := "definitions/resources.yaml"
		files[p] = []byte(strings.Replace(string(files[p]), "host: pg.db.svc", "host: pg-v2.db.svc", 1))
	})
	h.publish(events.KindPush, h.pushPayload(pushFixture, "rules", before, after))
	waitFor(t, "the re-render commit", func() bool { return len(h.envLog()) == 3 })
	c := h.envLog()[0]
	if want := "rerender development for rules local/rules@" + after[:7] + ": alpha, beta"; !strings.HasPrefix(c.Message, want+"\n") {
		t.Errorf("message %q, want subject %q", c.Message, want)
	}
	for _, app := range []string{"alpha", "beta"} {
		dep := h.envFile(envtree.AppDir("", "development", app) + "/deployment-" + app + ".yaml")
		if !strings.Contains(dep, "pg-v2.db.svc") {
			t.Errorf("%s not re-rendered:\n%s", app, dep)
		}
		if prov := h.envFile(envtree.ProvenancePath("", "development", app)); !strings.Contains(prov, after) {
			t.Errorf("%s provenance does not name rules %s", app, after)
		}
	}
	waitFor(t, "the rules status", func() bool {
		st := h.gh.Statuses(owner, "rules", after)
		return len(st) > 0 && st[len(st)-1].State == "success"
	})
	// The stored promotion state (the status page's) names the new rules commit.
	state, err := r.p.PromotionState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"alpha", "beta"} {
		if st := promoFind(state, app, "development"); st.RulesCommit != after {
			t.Errorf("%s state = %+v, want rules %s", app, st, after[:7])
		}
	}
	// A later app push uses the new rules without fetching them again.
	h.push("gamma", testApp("gamma", "1"))
	waitFor(t, "the gamma deploy", func() bool { return len(h.envLog()) == 4 })
	if dep := h.envFile(envtree.AppDir("", "development", "gamma") + "/deployment-gamma.yaml"); !strings.Contains(dep, "pg-v2.db.svc") {
		t.Errorf("gamma rendered with old rules:\n%s", dep)
	}
}

func TestGitServerDownIsRetried(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.config("a"))
	h.host.FailNext(3)
	h.push("demo", testApp("demo", "1"))
	waitFor(t, "the deploy after retries", func() bool { return len(h.envLog()) == 1 })
	waitFor(t, "the job to settle", func() bool { return r.settled(events.KindPush) == 1 })
	if n := r.jobs(events.KindPush, OutcomeRetry); n == 0 {
		t.Errorf("no retry counted although the git server failed")
	}
	if n := len(dlqMessages(t, h)); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

func TestGitServerDownTooLongIsDeadLettered(t *testing.T) {
	h := newHarness(t)
	cfg := h.config("a")
	cfg.MaxDeliver = 2
	r := h.start(cfg)
	h.host.FailNext(1000)
	h.push("demo", testApp("demo", "1"))
	waitFor(t, "the job to give up", func() bool { return r.jobs(events.KindPush, OutcomeFailed) == 1 })
	h.host.FailNext(0)
	dlq := dlqMessages(t, h)
	if len(dlq) != 1 || !strings.Contains(dlq[0].Header.Get(HeaderDLQReason), "gave up after 2 deliveries") {
		t.Fatalf("dead letters %+v", dlq)
	}
	if n := counterValue(r.p.metrics.deadLetter.WithLabelValues("transient")); n != 1 {
		t.Errorf("dead-letter metric = %v", n)
	}
}

// The seams later jobs use: Config.Handlers for other event kinds (here the octokit
// pull_request opened fixture, repository rewritten) and Config.AfterDeploy.
func TestHandlersAndAfterDeploy(t *testing.T) {
	h := newHarness(t)
	handled := make(chan *events.Event, 1)
	deployed := make(chan string, 1)
	cfg := h.config("a")
	cfg.Handlers = map[string]Handler{events.KindPullRequest: func(_ context.Context, _ *Pipeline, job *Job) error {
		handled <- job.Event
		return nil
	}}
	cfg.AfterDeploy = func(_ context.Context, _ *Pipeline, _ *Job, env, repo, commit string) error {
		deployed <- env + " " + repo + "@" + commit
		return nil
	}
	r := h.start(cfg)
	sha := h.push("demo", testApp("demo", "1"))
	if got, want := <-deployed, "development local/demo@"+sha; got != want {
		t.Errorf("AfterDeploy got %q, want %q", got, want)
	}
	h.publish(events.KindPullRequest, h.pushPayload("../../../shared/fixtures/github-webhooks/pull_request/opened.payload.json", "demo", "", ""))
	if ev := <-handled; ev.Repo != "local/demo" || ev.PRNumber == 0 {
		t.Errorf("handler got %+v", ev)
	}
	waitFor(t, "the pull_request job to settle", func() bool { return r.settled(events.KindPullRequest) == 1 })
	if n := r.jobs(events.KindPullRequest, OutcomeHandled); n != 1 {
		t.Errorf("handled = %d, want 1", n)
	}
}

// A rules push re-renders apps in environments reached by promotion only behind
// DirectCommitPromotedEnvs (promotion PRs take over there, issue 7).
func TestRulesPushPromotedEnvs(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("direct=%v", direct), func(t *testing.T) {
			h := newHarness(t)
			sha := h.commitApp("alpha", testApp("alpha", "1"))
			rulesHead, _ := h.host.Head(context.Background(), "rules", "main")
			rs, err := rules.Load(mapFS(h.rulesFiles(nil)))
			if err != nil {
				t.Fatal(err)
			}
			// alpha as a promotion would have put it in staging.
			out, err := render.Render(render.Input{Rules: rs, Env: "staging", AppID: "alpha",
				Files:      []render.ScoreFile{{Path: "score.yaml", Data: testApp("alpha", "1")["score.yaml"]}},
				Provenance: render.Provenance{SourceRepo: "local/alpha", SourceCommit: sha, RulesCommit: rulesHead}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.env.Apply(context.Background(), envrepo.Message{Subject: "promote alpha to staging"}, change(out)); err != nil {
				t.Fatal(err)
			}
			cfg := h.config("a")
			cfg.DirectCommitPromotedEnvs = direct
			r := h.start(cfg)
			after := h.seedRules(func(files map[string][]byte) {
				p := "definitions/resources.yaml"
				files[p] = []byte(strings.Replace(string(files[p]), "host: pg.db.svc", "host: pg-v2.db.svc", 1))
			})
			h.publish(events.KindPush, h.pushPayload(pushFixture, "rules", rulesHead, after))
			waitFor(t, "the rules job", func() bool { return r.settled(events.KindPush) == 1 })
			dep := h.envFile(envtree.AppDir("", "staging", "alpha") + "/deployment-alpha.yaml")
			if got := strings.Contains(dep, "pg-v2.db.svc"); got != direct {
				t.Errorf("staging re-rendered = %v, want %v", got, direct)
			}
			if n, want := len(h.envLog()), map[bool]int{false: 1, true: 2}[direct]; n != want {
				t.Errorf("%d env commits, want %d (the promotion, and the re-render when direct)", n, want)
			}
		})
	}
}

// TestFirstLayoutMoves: an app as the layout before the shard folders put it
// (apps/<env>/<app>/, clusters/<env>/<app>.yaml) is found as deployed, and the next re-render
// moves it in one commit: the old paths go as the new ones come.
func TestFirstLayoutMoves(t *testing.T) {
	h := newHarness(t)
	h.start(h.config("a"))
	h.push("alpha", testApp("alpha", "1"))
	waitFor(t, "the deploy", func() bool { return len(h.envLog()) == 1 })

	ctx := context.Background()
	dir, ks := envtree.AppDir("", "development", "alpha"), envtree.KustomizationFile("", "development", "alpha")
	oldDir, oldKs := "apps/development/alpha", "clusters/development/alpha.yaml"
	cur, err := h.env.ReadTree(ctx, dir, ks)
	if err != nil || len(cur) == 0 {
		t.Fatalf("read alpha: %v (%d files)", err, len(cur))
	}
	first := map[string][]byte{}
	for p, b := range cur {
		if p == ks {
			first[oldKs] = bytes.ReplaceAll(b, []byte("./"+dir), []byte("./"+oldDir))
			continue
		}
		first[oldDir+strings.TrimPrefix(p, dir)] = b
	}
	if _, err := h.env.Apply(ctx, envrepo.Message{Subject: "alpha as the first layout wrote it"},
		envrepo.Change{Owned: envtree.OwnedPaths("", "development", "alpha"), Files: first}); err != nil {
		t.Fatal(err)
	}
	if h.envFile(envtree.LegacyProvenancePath("", "development", "alpha")) == "" || h.envFile(ks) != "" {
		t.Fatal("the env repo was not moved back to the first layout")
	}

	before, _ := h.host.Head(ctx, "rules", "main")
	after := h.seedRules(func(files map[string][]byte) {
		p := "definitions/resources.yaml"
		files[p] = []byte(strings.Replace(string(files[p]), "host: pg.db.svc", "host: pg-v2.db.svc", 1))
	})
	h.publish(events.KindPush, h.pushPayload(pushFixture, "rules", before, after))
	waitFor(t, "the re-render commit", func() bool { return len(h.envLog()) == 3 })
	if msg := h.envLog()[0].Message; !strings.Contains(msg, ": alpha\n") {
		t.Errorf("re-render commit %q does not list alpha", msg)
	}
	if dep := h.envFile(dir + "/deployment-alpha.yaml"); !strings.Contains(dep, "pg-v2.db.svc") {
		t.Errorf("alpha not re-rendered into %s:\n%s", dir, dep)
	}
	if !strings.Contains(h.envFile(ks), "path: ./"+dir+"\n") {
		t.Errorf("%s does not point at %s:\n%s", ks, dir, h.envFile(ks))
	}
	left, err := h.env.ReadTree(ctx, oldDir+"/", oldKs)
	if err != nil || len(left) != 0 {
		t.Errorf("first-layout paths left behind: %v %v", slices.Collect(maps.Keys(left)), err)
	}
}
