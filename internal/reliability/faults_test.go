package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/events/eventstest"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/pipeline"
)

// logBuffer collects a pipeline's log lines, safe for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) has(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Contains(b.buf.Bytes(), []byte(s))
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// single is one in-process pipeline on an embedded NATS server, against the world's git
// host and GitHub stand-in: the setting for the fault tests that need no cluster.
type single struct {
	*world
	js      jetstream.JetStream
	logs    *logBuffer
	dataDir string
	waits   *waitLog // the waits the GitHub client was asked to make
	n       int
}

// waitLog records the sleeps of forge's retry policy (none is really slept).
type waitLog struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *waitLog) sleep(ctx context.Context, d time.Duration) error {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
	return ctx.Err()
}

func (l *waitLog) all() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.d...)
}

func newSingle(t testing.TB, dataDir string, hostOpts ...githost.Option) *single {
	t.Helper()
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			t.Logf("pipeline log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	})
	dir := t.TempDir()
	w := newWorldWith(t, dir, hostOpts...)
	w.seedRules("pg.db.svc")
	js := eventstest.JetStream(t, dir)
	if dataDir == "" {
		dataDir = filepath.Join(dir, "bot")
	}
	s := &single{world: w, js: js, logs: logs, dataDir: dataDir, waits: &waitLog{}}
	return s
}

// start runs the pipeline until the test ends or stop is called.
func (s *single) start(t testing.TB) (stop func()) { return s.startCfg(t, nil) }

// startCfg runs the pipeline, its config changed by edit, until the test ends or stop is
// called.
func (s *single) startCfg(t testing.TB, edit func(*pipeline.Config)) (stop func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fc, err := forge.New(forge.Config{BaseURL: s.srv.URL + "/api/v3/", Token: githubToken, Logger: log,
		Retry: forge.RetryPolicy{MaxAttempts: 4, Sleep: s.waits.sleep}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{
		DataDir: s.dataDir, Workers: 2, RulesURL: s.gitURL("rules"), RulesRepo: owner + "/rules",
		GitURLTemplate: s.srv.URL + "/git/{name}.git", Forge: fc,
		AckWait: 10 * time.Second, MaxDeliver: 200, LeaseTTL: 5 * time.Second,
		Backoff: func(int) time.Duration { return 100 * time.Millisecond },
		Logger:  log,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, s.js) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("pipeline Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// push commits the next version of app and publishes its webhook as intake would.
func (s *single) push(t testing.TB, app string) string {
	t.Helper()
	return s.pushVersion(t, app, s.n+1)
}

// pushVersion commits version of app (a new commit even when the files are the same as
// an earlier version's) and publishes its webhook.
func (s *single) pushVersion(t testing.TB, app string, version int) string {
	t.Helper()
	sha, body, err := s.commit(context.Background(), app, version)
	if err != nil {
		t.Fatal(err)
	}
	s.publish(t, body)
	return sha
}

// publishRaw publishes the push of before..after on repo name (already made).
func (s *single) publishRaw(t testing.TB, name, before, after string) {
	t.Helper()
	s.publish(t, s.pushPayload(name, before, after))
}

// publish stores a push webhook body on the stream as intake would.
func (s *single) publish(t testing.TB, body []byte) {
	t.Helper()
	s.n++
	delivery := fmt.Sprintf("fault-%d", s.n)
	ev, err := events.Normalize(events.KindPush, delivery, body)
	if err != nil {
		t.Fatal(err)
	}
	data, err := events.EncodeEnvelope(ev, body)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: events.Subject(ev), Data: data, Header: nats.Header{
		events.HeaderKind: []string{ev.Kind}, events.HeaderRepo: []string{ev.Repo}, events.HeaderDelivery: []string{ev.Delivery},
	}}
	if _, err := s.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(delivery)); err != nil {
		t.Fatal(err)
	}
}

// deployed reports whether app's folder in development holds commit.
func (s *single) deployed(t testing.TB, app, commit string) bool {
	return s.deployedSources(t, "development", []string{app})[app] == commit
}

// waitFor polls cond until it holds, failing after a bounded deadline.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a bounded wait
	}
}

func TestGitServerErrorsThenSuccess(t *testing.T) {
	s := newSingle(t, "")
	s.host.FailNext(8)
	s.start(t)
	sha := s.push(t, "web")
	waitFor(t, "the deploy after the git server's 500s", time.Minute, func() bool { return s.deployed(t, "web", sha) })
	if !s.logs.has("500") {
		t.Fatalf("no retried 500 in the logs:\n%s", s.logs)
	}
}

func TestGitServerHangsThenSuccess(t *testing.T) {
	s := newSingle(t, "", githost.WithHoldLimit(2*time.Second))
	release := s.host.Hold()
	defer release()
	s.start(t)
	sha := s.push(t, "web")
	// The server hangs: requests wait, then are answered 503; the job retries with backoff.
	waitFor(t, "a request held by the hanging git server", time.Minute, func() bool { return s.host.Waiting() > 0 })
	waitFor(t, "a failed and retried job", time.Minute, func() bool { return s.logs.has("job failed, retrying") })
	release()
	waitFor(t, "the deploy after the git server recovered", time.Minute, func() bool { return s.deployed(t, "web", sha) })
}

func TestGitHubSecondaryRateLimitHonoured(t *testing.T) {
	s := newSingle(t, "")
	s.gh.FailNext(1, http.StatusForbidden, "7")
	s.start(t)
	sha := s.push(t, "web")
	waitFor(t, "the deploy", time.Minute, func() bool { return s.deployed(t, "web", sha) })
	waitFor(t, "the success status on the app commit", time.Minute, func() bool {
		st := s.gh.Statuses(owner, "web", sha)
		return len(st) > 0 && st[len(st)-1].State == "success"
	})
	var limited bool
	for _, r := range s.gh.Requests() {
		limited = limited || r.Status == http.StatusForbidden
	}
	if !limited {
		t.Fatal("the stand-in never answered 403")
	}
	found := false
	for _, d := range s.waits.all() {
		found = found || d == 7*time.Second
	}
	if !found {
		t.Fatalf("Retry-After: 7 was not honoured: waits %v", s.waits.all())
	}
}

// fill writes a file that takes every free byte of the file system at dir.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Small writes fill what the big ones left.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	return p
}

// logErrors logs the first log line holding marker: what an operator sees.
func logErrors(t *testing.T, logs *logBuffer, marker string) {
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, marker) {
			t.Logf("operator sees: %s", l)
			return
		}
	}
}

// corrupt overwrites every git object file (loose objects and packs) under dir.
func corrupt(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(p, string(filepath.Separator)+"objects"+string(filepath.Separator)) {
			n++
			return os.WriteFile(p, []byte("this is not a git object"), 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCorruptedGitCacheRecovers(t *testing.T) {
	for _, tc := range []struct {
		name, sub string
		live      bool // corrupted under the running process, not across a restart
	}{
		{"app and rules cache, restart", "gitcache", false},
		{"env repo clone, restart", "envrepos", false},
		{"env repo clone, live", "envrepos", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSingle(t, "")
			stop := s.start(t)
			first := s.push(t, "web")
			waitFor(t, "the first deploy", time.Minute, func() bool { return s.deployed(t, "web", first) })
			// The process stops (a crash, a full disk), its cache is damaged on disk, and a
			// new process starts on the same data dir; or the damage happens under it.
			if !tc.live {
				stop()
			}
			if n := corrupt(t, filepath.Join(s.dataDir, tc.sub)); n == 0 {
				t.Fatalf("no git object under %s to corrupt", tc.sub)
			}
			if !tc.live {
				s.start(t)
			}
			// The same commit again (a redelivery): the cache has it, so it is read from the
			// corrupted objects, not fetched.
			s.publishRaw(t, "web", githost.ZeroSHA, first)
			if tc.sub == "gitcache" {
				waitFor(t, "the corrupted cache to be fetched afresh", time.Minute, func() bool { return s.logs.has("fetching afresh") })
			}
			second := s.push(t, "web")
			waitFor(t, "the deploy after the cache was corrupted", time.Minute, func() bool { return s.deployed(t, "web", second) })
			logErrors(t, s.logs, "fetching afresh")
			hist := checkHistory(s.envHistory(t))
			if hist.Duplicated != 0 || len(hist.NonLinear) != 0 {
				t.Fatalf("env history after recovery: %+v", hist)
			}
		})
	}
}
