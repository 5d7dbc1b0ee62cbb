package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/events"
)

// The bot's own env-repo commits come back as push webhooks (the App is installed on the env
// repo): they must be ignored, not reported as an app without Score files.
func TestPushToEnvRepoIsIgnored(t *testing.T) {
	h := newHarness(t)
	r := h.start(h.config("a"))
	sha := h.push("blog", testApp("blog", "1"))
	waitFor(t, "the deploy commit", func() bool { return len(h.envLog()) == 1 })

	envHead, err := h.host.Head(context.Background(), "env", "main")
	if err != nil {
		t.Fatal(err)
	}
	h.publish(events.KindPush, h.pushPayload(pushFixture, "env", h.envSeed, envHead))
	waitFor(t, "both pushes to settle", func() bool { return r.settled(events.KindPush) == 2 })

	if n := r.jobs(events.KindPush, OutcomeIgnored); n != 1 {
		t.Errorf("ignored pushes = %d, want 1 (the env repo's)", n)
	}
	if st := h.gh.Statuses(owner, "env", envHead); len(st) != 0 {
		t.Errorf("the env repo's commit got statuses %+v, want none", st)
	}
	if n := len(dlqMessages(t, h)); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	if st := h.gh.Statuses(owner, "blog", sha); len(st) == 0 || st[len(st)-1].State != "success" {
		t.Errorf("app statuses %+v, want success last", st)
	}
}

// A lease left by a bot that died lives LeaseTTL: the waits of a busy message must outlast it
// before its deliveries run out, or the event is dead-lettered for nothing.
func TestBusyDelaysOutlastAnOrphanedLease(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), RulesURL: "http://127.0.0.1:1/git/rules.git"}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.busyDelay(1); d != 500*time.Millisecond {
		t.Errorf("first busy delay %v, want 500ms", d)
	}
	var total time.Duration
	for n := uint64(1); n < uint64(p.cfg.MaxDeliver); n++ {
		d := p.busyDelay(n)
		if d > p.cfg.LeaseTTL {
			t.Errorf("delay %v on delivery %d exceeds the lease TTL %v", d, n, p.cfg.LeaseTTL)
		}
		total += d
	}
	if total <= 2*p.cfg.LeaseTTL {
		t.Errorf("busy waits over %d deliveries add up to %v, want more than twice the lease TTL %v",
			p.cfg.MaxDeliver, total, p.cfg.LeaseTTL)
	}
}
