package pipeline

import (
	"context"
	"testing"

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
