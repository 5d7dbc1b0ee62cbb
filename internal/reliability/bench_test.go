package reliability

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// scaleEnv=1 runs the scale benchmarks (they take minutes and a whole cluster).
const scaleEnv = "SCOREBOT_SCALE"

func skipUnlessScale(b *testing.B) {
	if os.Getenv(scaleEnv) != "1" {
		b.Skipf("scale benchmark: set %s=1 (see docs/benchmarks.md, Scale)", scaleEnv)
	}
}

// BenchmarkClusterPushRate sends push webhooks (signed, round-robin to three bot processes
// on a three-node NATS cluster) at rising paced rates and measures, per step, how long the
// queue takes to drain after the last one. The commits are made before the timed phase
// (prepareChains); per event the generator only points main at the next prepared commit and
// POSTs the webhook, so the ceiling found is the bots' (and the git host's), not the
// generator's. A step is rate × SCOREBOT_SCALE_STEP_SECONDS events (default 8 s, between
// 100 and 4,000 events). The ramp stops at the first step that does not drain, drains in more
// than max(3 × the first step's drain, 2 s), or has an event not answered 202. One run; use
// -benchtime=1x.
func BenchmarkClusterPushRate(b *testing.B) {
	skipUnlessScale(b)
	const repos = 50
	senders := 32
	if s := os.Getenv("SCOREBOT_SCALE_SENDERS"); s != "" {
		var err error
		if senders, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	rates := []int{25, 50, 100, 200, 400, 800, 1600}
	if s := os.Getenv("SCOREBOT_SCALE_RATES"); s != "" {
		rates = nil
		for _, f := range splitComma(s) {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			rates = append(rates, n)
		}
	}
	stepSeconds := 8
	if s := os.Getenv("SCOREBOT_SCALE_STEP_SECONDS"); s != "" {
		var err error
		if stepSeconds, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	stepEvents := func(rate int) int { return min(max(rate*stepSeconds, 100), 4000) }
	total := 0
	for _, r := range rates {
		total += stepEvents(r)
	}
	dir := b.TempDir()
	cluster := startNATSCluster(b, dir)
	w := newWorld(b, dir)
	w.seedRules("pg.db.svc")
	ctx := context.Background()
	prep := time.Now()
	chains := w.prepareChains(ctx, b, repos, total/repos+1)
	b.Logf("prepared %d commits in %d app repos in %.1fs", repos*(total/repos+1), repos, time.Since(prep).Seconds())
	bs := w.startBots(b, 3, cluster.URL, 3, false)
	nc, err := nats.Connect(cluster.URL, nats.MaxReconnects(-1))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2 * senders, MaxIdleConnsPerHost: senders}}
	drained := func(timeout time.Duration) bool {
		return waitUntil(timeout, func() bool {
			q, err := readQueue(ctx, js)
			return err == nil && q.Pending == 0 && q.AckPending == 0 && len(w.stale(b, "development")) == 0
		})
	}
	// The first deploy of every repo (version 0) is not part of the ramp.
	for r, c := range chains {
		if out, _ := deliver(ctx, client, bs, r, fmt.Sprintf("scale-base-%d", r),
			w.pushPayload(c.repo, githost.ZeroSHA, c.base)); out == "" {
			b.Fatalf("the first push of %s was not accepted", c.repo)
		}
	}
	if !drained(3 * time.Minute) {
		b.Fatal("the first deploy of every app repo did not drain in 3m")
	}
	var firstDrain time.Duration
	intake, handled := 0.0, 0.0 // the best 202 rate and events handled per second of a step
	next := 0
	pos := make([]int, repos) // commits of each chain pushed so far
	b.ResetTimer()
	for range b.N {
		for _, rate := range rates {
			n := stepEvents(rate)
			envBefore := len(w.envHistory(b))
			mBefore := scrapeBots(ctx, client, bs)
			exitsBefore := botExits(bs)
			stepCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			queues := make([]chan int, senders)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failed, accepted int
			var lastAnswer time.Time
			for s := range senders {
				queues[s] = make(chan int, n)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range queues[s] {
						r := i % repos
						c := chains[r]
						before := c.base
						if pos[r] > 0 {
							before = c.commits[pos[r]-1]
						}
						after := c.commits[pos[r]]
						pos[r]++ // a repo is only ever handled by sender r % senders
						out := ""
						if err := w.moveMain(c.repo, after); err == nil {
							out, _ = deliver(stepCtx, client, bs, i, fmt.Sprintf("scale-%d", i),
								w.pushPayload(c.repo, before, after))
						}
						mu.Lock()
						if out == "" {
							failed++
						} else {
							accepted++
						}
						lastAnswer = time.Now()
						mu.Unlock()
					}
				}()
			}
			start := time.Now()
			interval := time.Second / time.Duration(rate)
			for k := range n {
				// Pacing of an open-loop load generator, not a synchronisation.
				time.Sleep(time.Until(start.Add(time.Duration(k) * interval)))
				queues[(next%repos)%senders] <- next
				next++
			}
			dispatched := time.Since(start)
			for _, q := range queues {
				close(q)
			}
			wg.Wait()
			cancel()
			sent := lastAnswer.Sub(start)
			drainStart := time.Now()
			ok := drained(3 * time.Minute)
			drain := time.Since(drainStart)
			deploys := len(w.envHistory(b)) - envBefore
			m := scrapeBots(ctx, client, bs)
			restarts := botExits(bs) - exitsBefore
			if firstDrain == 0 {
				firstDrain = max(drain, time.Millisecond)
			}
			limit := max(3*firstDrain, 2*time.Second)
			b.Logf("rate %4d/s: %d events dispatched in %.1fs, answered in %.1fs (%.1f/s), 202 %d (%.1f/s), not accepted %d; "+
				"drained=%v in %.2fs (%.1f events/s handled from the first event to drained); env commits %d, superseded %.0f, deferred %.0f, jobs %s; bot restarts %d; load %s",
				rate, n, dispatched.Seconds(), sent.Seconds(), float64(n)/sent.Seconds(), accepted,
				float64(accepted)/sent.Seconds(), failed, ok, drain.Seconds(), float64(n)/(sent+drain).Seconds(), deploys,
				m.superseded-mBefore.superseded, m.jobs["deferred"]-mBefore.jobs["deferred"],
				jobsDelta(mBefore, m), restarts, loadAvg())
			if !ok || drain > limit || failed > 0 {
				b.Logf("stopping: drain %.2fs over the limit %.2fs, drained=%v, not accepted %d", drain.Seconds(), limit.Seconds(), ok, failed)
				break
			}
			intake = max(intake, float64(accepted)/sent.Seconds())
			handled = max(handled, float64(n)/(sent+drain).Seconds())
		}
	}
	b.ReportMetric(intake, "intake-202/s")
	b.ReportMetric(handled, "handled-events/s")
	for _, p := range bs.procs {
		if n := p.unexpectedExits(); n > 0 {
			b.Logf("%s exited on its own %d times (restarted)", p.name, n)
		}
	}
}

func botExits(bs *bots) int {
	n := 0
	for _, p := range bs.procs {
		n += p.unexpectedExits()
	}
	return n
}

// jobsDelta is the jobs finished between two scrapes by outcome, sorted by outcome.
func jobsDelta(before, after botCounters) string {
	var outs []string
	for o := range after.jobs {
		outs = append(outs, o)
	}
	sort.Strings(outs)
	var parts []string
	for _, o := range outs {
		if d := after.jobs[o] - before.jobs[o]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s=%.0f", o, d))
		}
	}
	return strings.Join(parts, ",")
}

// loadAvg is the 1-minute load average of the machine (Linux), for the record.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// BenchmarkRulesChangeRerender measures a rules push re-rendering and committing every app
// of an env repo holding apps apps in three environments (development, staging,
// production, all committed directly), with one in-process pipeline. The env repo is seeded
// by rendering every app with the old rules; the clock runs from the rules push being
// stored to the third re-render commit. One run; use -benchtime=1x.
func BenchmarkRulesChangeRerender(b *testing.B) {
	skipUnlessScale(b)
	apps := 1000
	if s := os.Getenv("SCOREBOT_SCALE_APPS"); s != "" {
		var err error
		if apps, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	s := newSingleB(b, apps)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		before, err := s.host.Head(ctx, "rules", githost.DefaultBranch)
		if err != nil {
			b.Fatal(err)
		}
		host := fmt.Sprintf("pg-%d.db.svc", time.Now().UnixNano())
		after := s.seedRules(host)
		start := time.Now()
		s.publishRaw(b, "rules", before, after)
		ok := waitUntil(10*time.Minute, func() bool {
			n := 0
			for _, c := range s.envHistory(b) {
				if c.Trailers[pipeline.TrailerRulesCommit] == after && c.Trailers[pipeline.TrailerSourceCommit] == "" {
					n++
				}
			}
			return n == 3
		})
		elapsed := time.Since(start)
		if !ok {
			b.Fatalf("re-render of %d apps x 3 environments not committed after %v", apps, elapsed)
		}
		b.ReportMetric(elapsed.Seconds(), "s/rerender")
		b.Logf("%d apps x 3 environments re-rendered and committed in %.1fs", apps, elapsed.Seconds())
	}
}

// newSingleB seeds apps app repos and an env repo holding all of them rendered in three
// environments, and starts one pipeline that commits re-renders to every environment.
func newSingleB(b *testing.B, apps int) *single {
	b.Helper()
	s := newSingle(b, "")
	rulesDir := filepath.Join(b.TempDir(), "rules")
	rulesSHA, err := s.host.Head(context.Background(), "rules", githost.DefaultBranch)
	if err != nil {
		b.Fatal(err)
	}
	files := s.rulesFiles("pg.db.svc")
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(rulesDir, p)), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rulesDir, p), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	rs, err := rules.Load(os.DirFS(rulesDir))
	if err != nil {
		b.Fatal(err)
	}
	tree := map[string][]byte{"README.md": []byte("env repo\n")}
	for i := range apps {
		name := fmt.Sprintf("app-%04d", i)
		sha, err := s.host.Seed(name, appFiles(name, 1), "first")
		if err != nil {
			b.Fatal(err)
		}
		for _, env := range []string{"development", "staging", "production"} {
			out, err := render.Render(render.Input{Rules: rs, Env: env, AppID: name,
				Files:      []render.ScoreFile{{Path: "score.yaml", Data: appFiles(name, 1)["score.yaml"]}},
				Provenance: render.Provenance{SourceRepo: owner + "/" + name, SourceCommit: sha, RulesCommit: rulesSHA}})
			if err != nil {
				b.Fatal(err)
			}
			maps.Copy(tree, out.Files)
		}
	}
	if _, err := s.host.Seed("env", tree, fmt.Sprintf("%d apps in 3 environments", apps)); err != nil {
		b.Fatal(err)
	}
	s.startCfg(b, func(c *pipeline.Config) { c.DirectCommitPromotedEnvs = true; c.Workers = 4 })
	return s
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
