package reliability

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

// BenchmarkClusterPushRate sends push webhooks (real commits, signed, round-robin to three
// bot processes on a three-node NATS cluster) at rising paced rates, each step for
// stepEvents events, and measures how long the queue takes to drain after the last one.
// The sustained rate is the highest step whose drain stayed under a few seconds. One run;
// use -benchtime=1x.
func BenchmarkClusterPushRate(b *testing.B) {
	skipUnlessScale(b)
	const repos, stepEvents, senders = 50, 200, 8
	rates := []int{5, 10, 20, 40, 80}
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
	dir := b.TempDir()
	cluster := startNATSCluster(b, dir)
	w := newWorld(b, dir)
	w.seedRules("pg.db.svc")
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
	ctx := context.Background()
	client := &http.Client{Timeout: 15 * time.Second}
	var mu sync.Mutex
	version := map[string]int{}
	sustained := 0.0
	next := 0
	b.ResetTimer()
	for range b.N {
		for _, rate := range rates {
			queues := make([]chan int, senders)
			var wg sync.WaitGroup
			var failed int
			for s := range senders {
				queues[s] = make(chan int, stepEvents)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range queues[s] {
						repo := appName(i % repos)
						mu.Lock()
						version[repo]++
						v := version[repo]
						mu.Unlock()
						_, body, err := w.commit(ctx, repo, v)
						if err == nil {
							var out string
							out, _ = deliver(ctx, client, bs, i, fmt.Sprintf("scale-%d", i), body)
							if out == "" {
								err = fmt.Errorf("not accepted")
							}
						}
						if err != nil {
							mu.Lock()
							failed++
							mu.Unlock()
						}
					}
				}()
			}
			start := time.Now()
			tick := time.NewTicker(time.Second / time.Duration(rate))
			for range stepEvents {
				<-tick.C
				queues[(next%repos)%senders] <- next
				next++
			}
			tick.Stop()
			for _, q := range queues {
				close(q)
			}
			wg.Wait()
			sent := time.Since(start)
			drainStart := time.Now()
			drained := waitUntil(5*time.Minute, func() bool {
				q, err := readQueue(ctx, js)
				return err == nil && q.Pending == 0 && q.AckPending == 0 && len(w.stale(b, "development")) == 0
			})
			drain := time.Since(drainStart)
			achieved := float64(stepEvents) / sent.Seconds()
			b.Logf("rate %3d/s: sent %d in %.1fs (%.1f/s), %d not accepted, drained=%v in %.2fs",
				rate, stepEvents, sent.Seconds(), achieved, failed, drained, drain.Seconds())
			if !drained || drain > 5*time.Second || failed > 0 {
				break
			}
			sustained = achieved
		}
	}
	b.ReportMetric(sustained, "sustained-events/s")
	for _, p := range bs.procs {
		if n := p.unexpectedExits(); n > 0 {
			b.Logf("%s exited on its own %d times (restarted)", p.name, n)
		}
	}
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
