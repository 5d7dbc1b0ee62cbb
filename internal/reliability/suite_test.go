package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Environment variables of the suite.
const (
	// fullEnv=1 runs the full-size suite (1,000 webhooks over 50 repos); default: reduced.
	fullEnv = "SCOREBOT_FAULT_FULL"
	// seedEnv fixes the seed of the fault schedule (default: from the clock, logged).
	seedEnv = "SCOREBOT_FAULT_SEED"
)

// suiteSize is how big a run is.
type suiteSize struct {
	Repos, Events          int
	BotKills, NATSRestarts int
	Senders                int
	DrainLimit             time.Duration
}

var (
	// NATSRestarts >= len(natsFaults): every kind of NATS fault runs at least once.
	reducedSize = suiteSize{Repos: 8, Events: 80, BotKills: 1, NATSRestarts: 3, Senders: 4, DrainLimit: 4 * time.Minute}
	fullSize    = suiteSize{Repos: 50, Events: 1000, BotKills: 3, NATSRestarts: 6, Senders: 8, DrainLimit: 10 * time.Minute}
)

// Report is what a run measured; docs/reliability.md records it.
type Report struct {
	Seed           uint64 `json:"seed"`
	Repos          int    `json:"repos"`
	Events         int    `json:"events"`
	Accepted       int    `json:"accepted_202"`
	AnsweredDup    int    `json:"answered_duplicate"`
	NotAccepted    int    `json:"not_accepted"`
	FailedAttempts int    `json:"failed_attempts"`
	BotKills       int    `json:"bot_kills"`
	BotRestarts    int    `json:"bot_restarts"`
	BotCrashes     int    `json:"bot_exits_on_their_own"` // restarted by the harness, as Kubernetes would
	NATSStops      int    `json:"nats_stops"`             // all kinds below
	NATSSigterms   int    `json:"nats_sigterm"`
	NATSSigkills   int    `json:"nats_sigkill"`
	NATSLostStores int    `json:"nats_sigkill_lost_store"`
	NATSRestarts   int    `json:"nats_restarts"`
	// NATSCatchUpMax is the longest a restarted node took to be current again (every
	// stream and consumer replica current, its copy at the leader's last sequence).
	NATSCatchUpMax          float64 `json:"nats_catch_up_max_seconds"`
	NATSLostStoreCatchUpMax float64 `json:"nats_lost_store_catch_up_max_seconds"`
	Lost                    int     `json:"lost"`
	// KVDiverged counts restarts after which a KV bucket's copy on the node stayed behind
	// its leader's by a constant offset (seen with nats-server 2.9.10; see copiesCheck).
	KVDiverged int `json:"kv_copies_diverged_after_restart"`
	// CopiesDiffer is how many streams' copies differ between the nodes after the drain.
	CopiesDiffer    int     `json:"streams_whose_copies_differ"`
	Duplicated      int     `json:"duplicated_env_commits"`
	NonLinear       int     `json:"non_linear_commits"`
	EnvCommits      int     `json:"env_commits"`
	DeadLettered    uint64  `json:"dead_lettered"`
	Stale           int     `json:"stale_repos"`
	CredentialLeaks int     `json:"credential_leaks"`
	SendSeconds     float64 `json:"send_seconds"`
	DrainSeconds    float64 `json:"drain_seconds"`
}

// action is one fault at an event index.
type action struct {
	at   int
	kind string // kill-bot, start-bot, one of natsFaults, start-nats
	node int
}

func schedule(rng *rand.Rand, size suiteSize) []action {
	var acts []action
	window := func() (int, int) {
		at := size.Events/10 + rng.IntN(size.Events*7/10)
		return at, at + 1 + rng.IntN(max(size.Events/10, 2))
	}
	for range size.BotKills {
		a, b := window()
		n := rng.IntN(3)
		acts = append(acts, action{a, "kill-bot", n}, action{b, "start-bot", n})
	}
	// NATS faults get disjoint slots of the same span, so none overlaps another (one node
	// down at a time) and none is skipped; their kinds cycle through natsFaults from a seeded
	// offset, so every kind runs once NATSRestarts >= len(natsFaults).
	lo, slot := size.Events/10, size.Events*7/10/max(size.NATSRestarts, 1)
	first := rng.IntN(len(natsFaults))
	for k := range size.NATSRestarts {
		a := lo + k*slot + rng.IntN(max(slot/2, 1))
		b := a + 1 + rng.IntN(max(min(size.Events/10, slot/2-1), 1))
		n := rng.IntN(3)
		acts = append(acts, action{a, natsFaults[(first+k)%len(natsFaults)], n}, action{b, "start-nats", n})
	}
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].at < acts[j].at })
	return acts
}

func TestFaultSuite(t *testing.T) {
	size := reducedSize
	if os.Getenv(fullEnv) == "1" {
		size = fullSize
	} else if testing.Short() {
		t.Skip("fault suite: not in -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(seedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
	}
	t.Logf("fault schedule seed %d (rerun with %s=%d)", seed, seedEnv, seed)
	rep := runSuite(t, size, seed)
	b, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("fault suite report:\n%s", b)
	if p := os.Getenv("SCOREBOT_FAULT_REPORT"); p != "" {
		_ = os.WriteFile(p, append(b, '\n'), 0o644)
	}
	for i, n := range []int{rep.NATSSigterms, rep.NATSSigkills, rep.NATSLostStores} {
		if n == 0 {
			t.Errorf("NATS fault %s never ran (%d NATS faults scheduled)", natsFaults[i], size.NATSRestarts)
		}
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.NonLinear != 0 || rep.Stale != 0 || rep.CredentialLeaks != 0 {
		t.Fatalf("fault suite failed: lost %d, duplicated %d, non-linear %d, stale %d, leaks %d, dead-lettered %d",
			rep.Lost, rep.Duplicated, rep.NonLinear, rep.Stale, rep.CredentialLeaks, rep.DeadLettered)
	}
	// With KV_scorebot-locks diverged between the nodes (nats-server 2.9.10, see
	// copiesCheck), a job kept finding its repo's lease taken for all its deliveries and was
	// dead-lettered; on the pinned release neither may happen.
	if rep.KVDiverged > 0 {
		t.Errorf("%d NATS restarts left a KV bucket's copy diverged from its leader's", rep.KVDiverged)
	}
	if rep.DeadLettered > 0 {
		t.Errorf("%d events dead-lettered", rep.DeadLettered)
	}
}

func runSuite(t *testing.T, size suiteSize, seed uint64) Report {
	ctx, cancel := context.WithTimeout(context.Background(), size.DrainLimit+10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	rep := Report{Seed: seed, Repos: size.Repos, Events: size.Events}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	cluster := startNATSCluster(t, dir)
	w := newWorld(t, dir)
	w.seedRules("pg.db.svc")
	bs := w.startBots(t, 3, cluster.URL, 3, false)
	defer func() {
		if keep := os.Getenv("SCOREBOT_FAULT_LOGS"); keep != "" {
			for _, p := range append(append([]*proc{}, bs.procs...), cluster.nodes...) {
				if b, err := os.ReadFile(p.log); err == nil {
					_ = os.WriteFile(filepath.Join(keep, filepath.Base(p.log)), b, 0o644)
				}
			}
		}
		if t.Failed() {
			t.Logf("process logs are in %s (kept while the test runs; SCOREBOT_FAULT_LOGS=DIR keeps copies; rerun with the seed to reproduce)", dir)
			for _, p := range append(append([]*proc{}, bs.procs...), cluster.nodes...) {
				tail(t, p.log, 15)
			}
		}
	}()

	nc, err := nats.Connect(cluster.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	// Senders: repo r always goes to sender r%Senders, so one repo's commits and their
	// webhooks leave in order, as GitHub sends them.
	type job struct {
		i    int
		repo string
	}
	var (
		mu        sync.Mutex
		completed int // webhooks answered (or given up on)
		accepted  = map[string]bool{}
		version   = map[string]int{}
	)
	client := &http.Client{Timeout: 15 * time.Second}
	queues := make([]chan job, size.Senders)
	var wg sync.WaitGroup
	for s := range size.Senders {
		queues[s] = make(chan job, 8)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queues[s] {
				mu.Lock()
				version[j.repo]++
				v := version[j.repo]
				mu.Unlock()
				_, body, err := w.commit(ctx, j.repo, v)
				if err != nil {
					t.Errorf("commit %s: %v", j.repo, err)
					mu.Lock()
					completed++
					mu.Unlock()
					continue
				}
				delivery := fmt.Sprintf("rel-%d-%06d", seed, j.i)
				outcome, fails := deliver(ctx, client, bs, j.i, delivery, body)
				mu.Lock()
				completed++
				rep.FailedAttempts += fails
				switch outcome {
				case "":
					rep.NotAccepted++
				case "duplicate":
					rep.AnsweredDup++
					accepted[delivery] = true
				default:
					accepted[delivery] = true
				}
				mu.Unlock()
			}
		}()
	}

	acts := schedule(rng, size)
	t.Logf("fault schedule: %v", acts)
	natsDown, natsDownKind := -1, ""
	run := func(a action) {
		switch a.kind {
		case "kill-bot":
			running := 0
			for _, p := range bs.procs {
				if p.running() {
					running++
				}
			}
			if !bs.procs[a.node].running() || running < 2 {
				return
			}
			bs.procs[a.node].signal(t, syscall.SIGKILL)
			rep.BotKills++
		case "start-bot":
			if !bs.procs[a.node].running() {
				bs.procs[a.node].start(t)
				rep.BotRestarts++
			}
		case natsSigterm, natsSigkill, natsLostStore:
			if natsDown >= 0 {
				return // one node at a time: two down is a lost quorum, not this test
			}
			// The previous restart must have caught up, or this fault takes the quorum.
			for i := range cluster.nodes {
				cluster.waitHealthy(t, i, 2*time.Minute)
			}
			cluster.fault(t, a.node, a.kind)
			natsDown, natsDownKind = a.node, a.kind
			rep.NATSStops++
			switch a.kind {
			case natsSigterm:
				rep.NATSSigterms++
			case natsSigkill:
				rep.NATSSigkills++
			case natsLostStore:
				rep.NATSLostStores++
			}
		case "start-nats":
			if natsDown == a.node {
				cluster.nodes[a.node].start(t)
				natsDown = -1
				rep.NATSRestarts++
				t.Logf("event %d: %s %d (after %s)", a.at, a.kind, a.node+1, natsDownKind)
				// Before the next fault, the node is current again (after a lost store: it
				// has caught up from its peers). Traffic keeps flowing meanwhile: the
				// senders work through their queues.
				took, diverged := cluster.waitCaughtUp(t, js, a.node, 2*time.Minute)
				d := took.Seconds()
				rep.NATSCatchUpMax = max(rep.NATSCatchUpMax, d)
				if natsDownKind == natsLostStore {
					rep.NATSLostStoreCatchUpMax = max(rep.NATSLostStoreCatchUpMax, d)
				}
				t.Logf("nats-%d current %.1fs after its restart", a.node+1, d)
				if diverged != "" {
					rep.KVDiverged++
					t.Logf("nats-%d: KV copy diverged after its restart (%s): %s, still so after %v (see copiesCheck)",
						a.node+1, natsDownKind, diverged, kvSettle)
				}
				return
			}
		}
		t.Logf("event %d: %s %d", a.at, a.kind, a.node+1)
	}

	start := time.Now()
	next := 0
	for i := range size.Events {
		for next < len(acts) && acts[next].at <= i {
			// A fault lands while webhooks are in flight: once the events before it have
			// been answered, with the senders' queues still full.
			// Bounded: a fault that stalls delivery must not keep the next one (the restart)
			// from happening.
			waitUntil(30*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return completed >= i-2*size.Senders
			})
			run(acts[next])
			next++
		}
		r := i % size.Repos
		queues[r%size.Senders] <- job{i: i, repo: appName(r)}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	for ; next < len(acts); next++ {
		run(acts[next])
	}
	rep.SendSeconds = time.Since(start).Seconds()
	rep.Accepted = len(accepted)

	// Drain: the consumer has nothing pending and every repo's head is in the env repo.
	drainStart := time.Now()
	deadline := drainStart.Add(size.DrainLimit)
	var q queueState
	var stale []string
	progress := drainStart
	for {
		qctx, qcancel := context.WithTimeout(ctx, 10*time.Second)
		q, err = readQueue(qctx, js)
		qcancel()
		if err == nil && q.Pending == 0 && q.AckPending == 0 {
			if stale = w.stale(t, "development"); len(stale) == 0 {
				break
			}
		}
		if time.Since(progress) > 15*time.Second { // a slow drain says where it is
			progress = time.Now()
			t.Logf("draining for %.0fs: queue %+v (err %v), stale repos %v", time.Since(drainStart).Seconds(), q, err, w.stale(t, "development"))
		}
		if time.Now().After(deadline) {
			t.Errorf("not drained after %v: queue %+v (err %v), stale repos %v", size.DrainLimit, q, err, stale)
			break
		}
		time.Sleep(250 * time.Millisecond) // polling interval of a bounded wait
	}
	rep.DrainSeconds = time.Since(drainStart).Seconds()
	for _, p := range bs.procs {
		rep.BotCrashes += p.unexpectedExits()
	}
	rep.Stale = len(stale)
	rep.DeadLettered = q.DLQMsgs

	// Every node's copy of every stream is the same (the lost-store node's too): bounded, as
	// a follower may still be applying the last writes. The events stream must agree; the
	// pipeline's KV buckets are reported in a subtest (see copiesCheck).
	var diffs []copyDiff
	waitUntil(20*time.Second, func() bool {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		d, err := cluster.copiesAgree(cctx)
		if err != nil {
			diffs = []copyDiff{{Stream: "?", States: err.Error()}}
			return false
		}
		diffs = d
		return len(d) == 0
	})
	rep.CopiesDiffer = len(diffs)
	copiesCheck(t, diffs)

	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	stored, err := storedDeliveries(sctx, js)
	scancel()
	if err != nil {
		t.Fatalf("read stored deliveries: %v", err)
	}
	for d := range accepted {
		if !stored[d] {
			rep.Lost++
			t.Errorf("delivery %s was answered 202 and is not on the stream", d)
		}
	}
	hist := checkHistory(w.envHistory(t))
	rep.EnvCommits, rep.Duplicated, rep.NonLinear = hist.Commits, hist.Duplicated, len(hist.NonLinear)
	leaks := credentialLeaks(t, w.host.Dir("env"), webhookSecret, githubToken)
	rep.CredentialLeaks = len(leaks)
	for _, l := range leaks {
		t.Error(l)
	}
	return rep
}

// deliver POSTs one signed webhook, round-robin from bot i%n, moving to the next bot on a
// refused connection or a 5xx, the way a redelivery would (same delivery id). It returns the
// outcome of the 202 ("" if none within the bound) and the failed attempts.
func deliver(ctx context.Context, c *http.Client, bs *bots, i int, delivery string, body []byte) (string, int) {
	fails := 0
	deadline := time.Now().Add(3 * time.Minute)
	for attempt := 0; time.Now().Before(deadline) && !ctxDone(ctx); attempt++ {
		b := (i + attempt) % len(bs.listen)
		req, err := webhookRequest(ctx, bs.url(b), delivery, body)
		if err != nil {
			return "", fails
		}
		resp, err := c.Do(req)
		if err == nil {
			var out struct {
				Outcome string `json:"outcome"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return out.Outcome, fails
			}
		}
		fails++
		// Pacing of retries against a bot that is down; not a synchronisation.
		time.Sleep(min(time.Duration(attempt+1)*50*time.Millisecond, time.Second))
	}
	return "", fails
}

// tail logs the last n lines of a process log.
func tail(t testing.TB, path string, n int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("--- %s (last %d lines)\n%s", filepath.Base(path), len(lines), strings.Join(lines, "\n"))
}

// waitUntil polls cond until it holds or timeout passes; it reports whether it held.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a bounded wait
	}
	return true
}

// copiesCheck fails the test when the nodes' copies of a stream differ: for the events
// stream (or the dead letters) that is an event lost, or one the cluster never agreed to;
// for a KV bucket, leases or records the nodes disagree on.
//
// Debian's nats-server 2.9.10 failed this: after a node was stopped and then SIGKILLed
// shortly after its restart, an emptied KV_scorebot-locks copy on that node could end at a
// higher last sequence than the other two (0 messages, seq 184..183 against 178..177),
// nats-io/nats-server#4174 (2.9.x unsupported; replica consistency checks came with #5362).
// The suite runs the release go.mod pins (buildNATSServer), which passes.
func copiesCheck(t *testing.T, diffs []copyDiff) {
	t.Helper()
	for _, d := range diffs {
		t.Errorf("the nodes' copies of stream %s differ: %s", d.Stream, d.States)
	}
}
