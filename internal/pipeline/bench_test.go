package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// BenchmarkPushToEnvCommit measures a push event stored on the stream → the env-repo commit
// pushed to the local git host (seen by the host's push hook), one app, one worker busy.
// Settle is off: back-to-back pushes of one branch would otherwise count as a burst.
func BenchmarkPushToEnvCommit(b *testing.B) {
	h := newHarness(b)
	pushed := make(chan string, 64)
	f := func(sha string) { pushed <- sha }
	h.envPushed.Store(&f)
	cfg := h.config("bench")
	cfg.Settle = -1
	h.start(cfg)
	wait := func() {
		select {
		case <-pushed:
		case <-time.After(time.Minute):
			b.Fatal("no env commit within a minute")
		}
	}
	h.push("demo", testApp("demo", "0")) // first fetch and clone, not measured
	wait()
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		before, _ := h.host.Head(b.Context(), "demo", "main")
		sha := h.commitApp("demo", testApp("demo", fmt.Sprint(i+1)))
		payload := h.pushPayload(pushFixture, "demo", before, sha)
		b.StartTimer()
		start := time.Now()
		h.publish(events.KindPush, payload)
		wait()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}

// BenchmarkHundredPushesOneBranch pushes 100 commits to one branch as fast as the git host
// takes them (each push published at once), then waits until the env repo holds the last
// one; it reports how many env commits that took (target: at most 3).
func BenchmarkHundredPushesOneBranch(b *testing.B) {
	h := newHarness(b)
	r := h.start(h.config("bench"))
	maxCommits, settled := 0, 0
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("burst%d", i)
		start := time.Now()
		var last string
		for v := range 100 {
			last = h.push(name, testApp(name, fmt.Sprint(v)))
		}
		pushing := time.Since(start)
		settled += 100
		waitFor(b, "the burst to settle", func() bool { return r.settled(events.KindPush) == settled })
		prov := h.envFile(envtree.ProvenancePath("", "development", name))
		if !strings.Contains(prov, last) {
			b.Fatalf("env repo does not hold the last commit %s:\n%s", last, prov)
		}
		commits := 0
		for _, c := range h.envLog() {
			if strings.HasPrefix(c.Message, "deploy "+name+" to ") {
				commits++
			}
		}
		maxCommits = max(maxCommits, commits)
		b.ReportMetric(pushing.Seconds(), "push-s")
	}
	b.ReportMetric(float64(maxCommits), "env-commits")
}
