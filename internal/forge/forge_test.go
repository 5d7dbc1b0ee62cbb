package forge_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/ghspec"
	"github.com/scorebot/scorebot/internal/forge/standin"
)

var demo = forge.Repo{Owner: "local", Name: "demo-app"}

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
)

// recorder keeps every exchange between the client and the stand-in, as on the wire.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	ex   []ghspec.Exchange
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	r.next.ServeHTTP(rec, req)
	// Recorded before the client has its answer, so a test that reads the exchanges after its
	// last call returns sees every one.
	r.mu.Lock()
	r.ex = append(r.ex, ghspec.Exchange{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery,
		RequestHeader: req.Header.Clone(), RequestBody: body, Status: rec.Code, ResponseHeader: rec.Header().Clone(),
		ResponseBody: rec.Body.Bytes()})
	r.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (r *recorder) exchanges() []ghspec.Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ghspec.Exchange(nil), r.ex...)
}

// fakeClock is the stand-in's clock and the retry transport's: sleeping advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type env struct {
	srv   *standin.Server
	http  *httptest.Server
	rec   *recorder
	clock *fakeClock
	c     *forge.Client
	hooks *hookLog
}

type hookLog struct {
	mu     sync.Mutex
	events []emitted
	merges []string
}

type emitted struct {
	event   string
	payload []byte
}

func (h *hookLog) Events() []emitted {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]emitted(nil), h.events...)
}

// start runs a stand-in on loopback and a token client against it.
func start(t *testing.T, opts standin.Options) *env {
	t.Helper()
	clock := newClock()
	opts.Now = clock.Now
	opts.Logger = slog.New(slog.DiscardHandler)
	srv, err := standin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &hookLog{}
	srv.Emit = func(event string, payload []byte) {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		hooks.events = append(hooks.events, emitted{event, payload})
	}
	srv.HeadOf = func(owner, repo, branch string) (string, error) {
		switch branch {
		case "main":
			return sha1, nil
		case "never-pushed":
			return "", nil
		}
		return sha2, nil
	}
	srv.Merge = func(owner, repo, base, head, message string) (string, error) {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		hooks.merges = append(hooks.merges, owner+"/"+repo+":"+head+"->"+base)
		return "3333333333333333333333333333333333333333", nil
	}
	rec := &recorder{next: srv}
	mux := http.NewServeMux()
	mux.Handle("/api/v3/", rec)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	c, err := forge.New(forge.Config{BaseURL: hs.URL + "/api/v3/", Token: "as:scorebot[bot]", Logger: slog.New(slog.DiscardHandler),
		Retry: forge.RetryPolicy{Sleep: clock.Sleep, Now: clock.Now, Jitter: func(d time.Duration) time.Duration { return d }}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, http: hs, rec: rec, clock: clock, c: c, hooks: hooks}
}

func ghComment(body string) *github.IssueComment {
	return &github.IssueComment{Body: github.String(body)}
}
