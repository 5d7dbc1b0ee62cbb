package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/events/eventstest"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
)

// Paths relative to this package: the module root is two folders up, shared/ is its sibling.
const (
	pushFixture    = "../../../shared/fixtures/github-webhooks/push/with-new-branch.payload.json"
	tagPushFixture = "../../../shared/fixtures/github-webhooks/push/payload.json"
	exampleApps    = "../../examples/apps"
	owner          = "local"
)

// harness is the real parts a pipeline test runs against: an embedded nats-server, a git
// host over smart HTTP and the GitHub stand-in, both on one loopback listener.
type harness struct {
	t        testing.TB
	dir      string
	host     *githost.Host
	gh       *standin.Server
	srv      *httptest.Server
	js       jetstream.JetStream
	forge    *forge.Client
	env      *envrepo.Repo // a reader of the env repo, with its own clone
	envSeed  string        // the env repo's first commit
	delivery atomic.Int64
	// envPushed, when set, is called with the new head after every push to the env repo.
	envPushed atomic.Pointer[func(sha string)]
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	dir := t.TempDir()
	js := eventstest.JetStream(t, dir)
	h := &harness{t: t, dir: dir, js: js}
	host, err := githost.New(filepath.Join(dir, "git"), githost.WithLogger(quietLogger()),
		githost.WithOnPush(func(repo string, ups []githost.RefUpdate) {
			f := h.envPushed.Load()
			if f == nil || strings.TrimSuffix(repo, ".git") != "env" {
				return
			}
			for _, u := range ups {
				if u.Name == "refs/heads/main" {
					(*f)(u.New)
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	gh, err := standin.New(standin.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", host)
	mux.Handle("/api/v3/", gh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	fc, err := forge.New(forge.Config{BaseURL: srv.URL + "/api/v3/", Token: "test-token", Logger: quietLogger(),
		Retry: forge.RetryPolicy{MaxAttempts: 3, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}})
	if err != nil {
		t.Fatal(err)
	}
	h.host, h.gh, h.srv, h.forge = host, gh, srv, fc
	h.seedRules(nil)
	if h.envSeed, err = host.Seed("env", map[string][]byte{"README.md": []byte("env repo\n")}, "seed"); err != nil {
		t.Fatal(err)
	}
	if h.env, err = envrepo.Open(envrepo.Config{URL: h.gitURL("env"), Dir: filepath.Join(dir, "env-reader")}); err != nil {
		t.Fatal(err)
	}
	return h
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (h *harness) gitURL(name string) string { return githost.URL(h.srv.URL, name) }

// rulesFiles is testdata/rules with the env repo URL pointing at this host; edit changes
// files before they are committed.
func (h *harness) rulesFiles(edit func(map[string][]byte)) map[string][]byte {
	files := map[string][]byte{}
	err := fs.WalkDir(os.DirFS("testdata/rules"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("testdata/rules", p))
		files[p] = []byte(strings.ReplaceAll(string(b), "ENV_REPO_URL", h.gitURL("env")))
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if edit != nil {
		edit(files)
	}
	return files
}

func (h *harness) seedRules(edit func(map[string][]byte)) string {
	sha, err := h.host.Seed("rules", h.rulesFiles(edit), "rules")
	if err != nil {
		h.t.Fatal(err)
	}
	return sha
}

// config is a pipeline config for this harness; tests adjust it.
func (h *harness) config(name string) Config {
	return Config{
		DataDir:        filepath.Join(h.dir, "bot-"+name),
		Workers:        4,
		RulesURL:       h.gitURL("rules"),
		RulesRepo:      owner + "/rules",
		GitURLTemplate: h.srv.URL + "/git/{name}.git",
		Forge:          h.forge,
		GitAuth: func(ctx context.Context) (transport.AuthMethod, error) {
			a, err := h.forge.GitAuth(ctx)
			if err != nil {
				return nil, err
			}
			return a, nil
		},
		AckWait:    10 * time.Second,
		MaxDeliver: 5,
		Backoff:    func(int) time.Duration { return 20 * time.Millisecond },
		LeaseTTL:   5 * time.Second,
		Logger:     quietLogger(),
	}
}

// running is a started Pipeline.
type running struct {
	p    *Pipeline
	stop func()
}

func (h *harness) start(cfg Config, prepare ...func(*Pipeline)) *running {
	h.t.Helper()
	p, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range prepare {
		f(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, h.js) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("Run: %v", err)
			}
		})
	}
	h.t.Cleanup(stop)
	return &running{p: p, stop: stop}
}

// jobs counts the jobs of kind with one of the outcomes (all outcomes when none given).
func (r *running) jobs(kind string, outcomes ...string) int {
	if len(outcomes) == 0 {
		outcomes = []string{OutcomeDeployed, OutcomeUnchanged, OutcomeIgnored, OutcomeSuperseded, OutcomeRetry, OutcomeFailed, OutcomeHandled}
	}
	n := 0.0
	for _, o := range outcomes {
		n += counterValue(r.p.metrics.jobs.WithLabelValues(kind, o))
	}
	return int(n)
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// settled counts the jobs of kind that finished for good (not retried).
func (r *running) settled(kind string) int {
	return r.jobs(kind, OutcomeDeployed, OutcomeUnchanged, OutcomeIgnored, OutcomeSuperseded, OutcomeFailed, OutcomeHandled)
}

// commitApp commits files as the whole tree of the app repo's main and returns the commit.
func (h *harness) commitApp(name string, files map[string][]byte) string {
	h.t.Helper()
	if !h.host.Exists(name) {
		sha, err := h.host.Seed(name, files, "first")
		if err != nil {
			h.t.Fatal(err)
		}
		return sha
	}
	sha, err := h.host.Commit(context.Background(), name, githost.DefaultBranch, files, "change")
	if err != nil {
		h.t.Fatal(err)
	}
	return sha
}

// testApp is the Score file of testdata/app.score.yaml for app name at version.
func testApp(name, version string) map[string][]byte {
	b, err := os.ReadFile("testdata/app.score.yaml")
	if err != nil {
		panic(err)
	}
	s := strings.ReplaceAll(strings.ReplaceAll(string(b), "APP", name), "VERSION", version)
	return map[string][]byte{"score.yaml": []byte(s)}
}

// pushPayload is the octokit push fixture (a push creating master on Codertocat/Hello-World)
// rewritten to a push of before..after on main of local/<name> on this host.
func (h *harness) pushPayload(fixture, name, before, after string) []byte {
	h.t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		h.t.Fatalf("%v (the shared/ folder must sit beside the repo)", err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		h.t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"] = name, owner+"/"+name
	repo["clone_url"] = h.gitURL(name)
	repo["default_branch"] = githost.DefaultBranch
	repo["owner"].(map[string]any)["login"] = owner
	repo["owner"].(map[string]any)["name"] = owner
	if after != "" {
		p["ref"] = "refs/heads/" + githost.DefaultBranch
		p["before"], p["after"] = before, after
		p["created"], p["deleted"] = before == githost.ZeroSHA, false
		if hc, ok := p["head_commit"].(map[string]any); ok {
			hc["id"] = after
		}
	}
	out, err := json.Marshal(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// publish stores a webhook on SCOREBOT_EVENTS the way intake does.
func (h *harness) publish(kind string, payload []byte) string {
	h.t.Helper()
	delivery := fmt.Sprintf("delivery-%d", h.delivery.Add(1))
	ev, err := events.Normalize(kind, delivery, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := events.EncodeEnvelope(ev, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	msg := &nats.Msg{Subject: events.Subject(ev), Data: data, Header: nats.Header{
		events.HeaderKind: []string{ev.Kind}, events.HeaderRepo: []string{ev.Repo}, events.HeaderDelivery: []string{ev.Delivery},
	}}
	if _, err := h.js.PublishMsg(context.Background(), msg, jetstream.WithMsgID(delivery), jetstream.WithExpectStream(events.StreamEvents)); err != nil {
		h.t.Fatal(err)
	}
	return delivery
}

// push commits and publishes the push of one app at once.
func (h *harness) push(name string, files map[string][]byte) string {
	before, _ := h.host.Head(context.Background(), name, githost.DefaultBranch)
	if before == "" {
		before = githost.ZeroSHA
	}
	sha := h.commitApp(name, files)
	h.publish(events.KindPush, h.pushPayload(pushFixture, name, before, sha))
	return sha
}

// envLog is the env repo's history after the seed commit, newest first, read from the
// bare repo on disk (so a test's injected HTTP faults do not hit it).
func (h *harness) envLog() []envrepo.CommitInfo {
	h.t.Helper()
	out, err := exec.Command("git", "-C", h.host.Dir("env"), "log", "--format=%H%x00%P%x00%B%x1e", "main").Output()
	if err != nil {
		h.t.Fatalf("git log: %v", err)
	}
	var log []envrepo.CommitInfo
	for _, rec := range strings.Split(string(out), "\x1e") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\x00", 3)
		if len(f) < 3 {
			continue
		}
		if f[0] == h.envSeed {
			return log
		}
		log = append(log, envrepo.CommitInfo{Hash: f[0], Parents: strings.Fields(f[1]), Message: f[2]})
	}
	h.t.Fatalf("env repo history lost its seed commit %s", h.envSeed)
	return nil
}

func (h *harness) envFile(p string) string {
	h.t.Helper()
	files, err := h.env.ReadTree(context.Background(), p)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(files[p])
}

// waitFor polls cond until it holds, failing the test after a bounded deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a bounded wait, not a synchronisation
	}
}
