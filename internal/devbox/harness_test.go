package devbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge/ghspec"
)

// webhooks records every webhook a sandbox delivered, for assertions and the honesty check.
type webhooks struct {
	mu  sync.Mutex
	all []devbox.Delivery
}

func (w *webhooks) add(d devbox.Delivery) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, d)
}

func (w *webhooks) list() []devbox.Delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]devbox.Delivery(nil), w.all...)
}

// find returns the deliveries of event (and action, when not empty) for repo.
func (w *webhooks) find(event, action, repo string) []devbox.Delivery {
	var out []devbox.Delivery
	for _, d := range w.list() {
		if d.Event == event && (action == "" || d.Action == action) && d.Repo == repo {
			out = append(out, d)
		}
	}
	return out
}

// startSandbox runs a sandbox on 127.0.0.1:0 in dir (a fresh temp dir when empty), checks on
// cleanup that it stops cleanly and that every webhook it sent validates against GitHub's
// webhooks description and was accepted by the intake.
func startSandbox(t *testing.T, dir string, workers func(context.Context, devbox.Bot) error) (*devbox.Sandbox, *webhooks) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	hooks := &webhooks{}
	sb, err := devbox.Start(context.Background(), devbox.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Workers: workers, OnWebhook: hooks.add,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		// Stop is idempotent: a test may have stopped the sandbox already.
		if err := sb.Stop(); err != nil {
			t.Errorf("stop sandbox: %v", err)
		}
		checkWebhooks(t, hooks.list())
	})
	return sb, hooks
}

func checkWebhooks(t *testing.T, all []devbox.Delivery) {
	t.Helper()
	for _, d := range all {
		if err := ghspec.ValidateWebhook(d.Event, d.Payload); err != nil {
			t.Errorf("webhook %s %s (%s) does not validate against GitHub's webhooks description: %v\n%s", d.Event, d.Action, d.ID, err, d.Payload)
		}
		if d.Status != 202 && d.Status != 200 {
			t.Errorf("webhook %s %s (%s): intake answered %d %s", d.Event, d.Action, d.ID, d.Status, d.Err)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// gitRun runs the real git client with a fixed identity and no user or system config.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "protocol.version=2", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HOME="+home, "XDG_CONFIG_HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Dev Eloper", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev Eloper", "GIT_COMMITTER_EMAIL=dev@example.com")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// clone clones local repo name into a temp dir and returns the worktree.
func clone(t *testing.T, sb *devbox.Sandbox, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	gitRun(t, filepath.Dir(dir), "clone", sb.CloneURL(name), dir)
	return dir
}

// commitFile writes path in the worktree, commits it and returns the commit.
func commitFile(t *testing.T, wt, path, content, msg string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(wt, path)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wt, path), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, wt, "add", path)
	gitRun(t, wt, "commit", "-q", "-m", msg)
	return gitRun(t, wt, "rev-parse", "HEAD")
}

// streamEvents reads every event the intake stored, oldest first.
func streamEvents(t *testing.T, js jetstream.JetStream) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.StreamEvents)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []events.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		env, err := events.DecodeEnvelope(m.Data)
		if err != nil {
			t.Fatalf("decode message %d: %v", seq, err)
		}
		out = append(out, env.Event)
	}
	return out
}

// findEvent returns the stored event with delivery id.
func findEvent(t *testing.T, js jetstream.JetStream, delivery string) events.Event {
	t.Helper()
	for _, ev := range streamEvents(t, js) {
		if ev.Delivery == delivery {
			return ev
		}
	}
	t.Fatalf("delivery %s not on stream %s", delivery, events.StreamEvents)
	return events.Event{}
}

// eventually polls cond until it holds or the bounded deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		// Polling a condition with a bounded deadline; the tick only spaces the polls.
		<-time.After(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := httpGet(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(resp, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, resp)
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func httpGet(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
