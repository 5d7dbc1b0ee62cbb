package forge_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
)

func TestRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		n, status  int
		retryAfter string
		wantSleeps []time.Duration
		wantErr    error
	}{
		{name: "403 secondary limit honours Retry-After", n: 2, status: 403, retryAfter: "7", wantSleeps: []time.Duration{7 * time.Second, 7 * time.Second}},
		{name: "429 honours Retry-After", n: 1, status: 429, retryAfter: "3", wantSleeps: []time.Duration{3 * time.Second}},
		{name: "403 secondary limit without Retry-After waits a minute", n: 1, status: 403, wantSleeps: []time.Duration{time.Minute}},
		{name: "5xx backs off then succeeds", n: 2, status: 500, wantSleeps: []time.Duration{time.Second, 2 * time.Second}},
		{name: "attempts are bounded", n: 10, status: 502, wantSleeps: []time.Duration{1, 2, 4, 8}, wantErr: forge.ErrTransient},
		{name: "a limit longer than MaxWait is returned", n: 1, status: 403, retryAfter: "3600", wantErr: forge.ErrRateLimited},
		{name: "a plain 404 is not retried", n: 1, status: 404, wantErr: forge.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, standinOpts())
			e.srv.FailNext(tt.n, tt.status, tt.retryAfter)
			err := e.c.SetStatus(ctx, demo, sha1, forge.Status{State: "success", Context: "scorebot/deploy"})
			if tt.wantErr == nil && err != nil {
				t.Fatalf("SetStatus: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetStatus error = %v, want %v", err, tt.wantErr)
			}
			want := tt.wantSleeps
			if tt.name == "attempts are bounded" {
				want = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
			}
			if got := e.clock.Sleeps(); !slices.Equal(got, want) {
				t.Errorf("sleeps = %v, want %v", got, want)
			}
			if tt.wantErr == nil && len(e.srv.Statuses(demo.Owner, demo.Name, sha1)) != 1 {
				t.Errorf("statuses = %v, want exactly one", e.srv.Statuses(demo.Owner, demo.Name, sha1))
			}
		})
	}
}

func TestRetryWaitsForRateLimitReset(t *testing.T) {
	clock := newClock()
	reset := clock.Now().Add(90 * time.Second)
	tries := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries++
		if tries == 1 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(reset.Unix()))
			http.Error(w, `{"message":"API rate limit exceeded"}`, http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":1}`)
	}))
	defer hs.Close()
	c, err := forge.New(forge.Config{BaseURL: hs.URL + "/api/v3/", Token: "t", Retry: forge.RetryPolicy{Sleep: clock.Sleep, Now: clock.Now},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(context.Background(), demo, sha1, forge.Status{State: "success", Context: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := clock.Sleeps(); !slices.Equal(got, []time.Duration{91 * time.Second}) {
		t.Errorf("sleeps = %v, want [1m31s]", got)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	e := start(t, standinOpts())
	e.srv.FailNext(5, 500, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.c.SetStatus(ctx, demo, sha1, forge.Status{State: "success", Context: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestStickyComment(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	pr, err := e.c.CreatePR(ctx, demo, forge.NewPR{Title: "t", Head: "feature", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	n := pr.GetNumber()
	// 120 other comments first, so the marker is found past the first page.
	for i := range 120 {
		if _, _, err := e.c.GitHub().Issues.CreateComment(ctx, demo.Owner, demo.Name, n, ghComment(fmt.Sprintf("chatter %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	const marker = "<!-- scorebot:preview -->"
	var firstID int64
	for i := 1; i <= 5; i++ {
		cm, created, err := e.c.UpsertComment(ctx, demo, n, marker, fmt.Sprintf("preview of push %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if created != (i == 1) {
			t.Errorf("push %d: created = %v", i, created)
		}
		if i == 1 {
			firstID = cm.ID
		} else if cm.ID != firstID {
			t.Errorf("push %d edited comment %d, want %d", i, cm.ID, firstID)
		}
	}
	var ours []standin.Comment
	for _, c := range e.srv.Comments(demo.Owner, demo.Name, n) {
		if strings.Contains(c.Body, marker) {
			ours = append(ours, c)
		}
	}
	if len(ours) != 1 || ours[0].Body != marker+"\npreview of push 5" {
		t.Fatalf("marked comments = %+v, want one with the last body", ours)
	}
	// The same body again sends no edit.
	before := len(e.srv.Requests())
	if _, _, err := e.c.UpsertComment(ctx, demo, n, marker, "preview of push 5"); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.srv.Requests()[before:] {
		if r.Method != http.MethodGet {
			t.Errorf("unchanged body sent %s %s", r.Method, r.Path)
		}
	}
}

func TestCommentTooLong(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	long := strings.Repeat("é", forge.MaxCommentLen+1) // characters, not bytes
	_, resp, err := e.c.GitHub().Issues.CreateComment(ctx, demo.Owner, demo.Name, 1, ghComment(long))
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("stand-in answered %v, %v; want 422", resp, err)
	}
	if _, _, err := e.c.GitHub().Issues.CreateComment(ctx, demo.Owner, demo.Name, 1, ghComment(long[:len(long)-2])); err != nil {
		t.Fatalf("a comment of exactly %d characters: %v", forge.MaxCommentLen, err)
	}
	if _, _, err := e.c.UpsertComment(ctx, demo, 2, "<!-- m -->", long); !errors.Is(err, forge.ErrValidation) {
		t.Fatalf("UpsertComment of a long body: %v, want ErrValidation", err)
	}
}

func TestPermissionLevels(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	for user, level := range map[string]string{"maintainer": "maintain", "writer": "write", "triager": "triage", "outsider": "none"} {
		if err := e.srv.SetPermission(demo.Owner, demo.Name, user, level); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		user, want string
		canWrite   bool
	}{
		{"local", "admin", true}, // the owner
		{"dev", "admin", true},   // the dev user
		{"maintainer", "write", true},
		{"writer", "write", true},
		{"triager", "read", false},
		{"stranger", "read", false},
		{"outsider", "none", false},
	}
	for _, tt := range tests {
		got, err := e.c.Permission(ctx, demo, tt.user)
		if err != nil || got != tt.want {
			t.Errorf("Permission(%s) = %q, %v; want %q", tt.user, got, err, tt.want)
		}
		can, err := e.c.CanWrite(ctx, demo, tt.user)
		if err != nil || can != tt.canWrite {
			t.Errorf("CanWrite(%s) = %v, %v; want %v", tt.user, can, err, tt.canWrite)
		}
	}
	if err := e.srv.SetPermission(demo.Owner, demo.Name, "x", "superuser"); err == nil {
		t.Error("an unknown level was accepted")
	}
}

func TestDeploymentFlow(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	id, err := e.c.CreateDeployment(ctx, demo, forge.Deployment{Ref: sha1, Environment: "dev", Description: "deploy demo-app"})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"queued", "in_progress", "success"} {
		if err := e.c.SetDeploymentStatus(ctx, demo, id, forge.DeploymentStatus{State: st, EnvironmentURL: "http://127.0.0.1/dev"}); err != nil {
			t.Fatal(err)
		}
	}
	deps := e.srv.Deployments(demo.Owner, demo.Name)
	if len(deps) != 1 || deps[0].SHA != sha1 || deps[0].Environment != "dev" || deps[0].Creator != "scorebot[bot]" {
		t.Fatalf("deployments = %+v", deps)
	}
	var states []string
	for _, s := range deps[0].Statuses {
		states = append(states, s.State)
	}
	if !slices.Equal(states, []string{"queued", "in_progress", "success"}) {
		t.Errorf("states = %v", states)
	}
	if err := e.c.SetDeploymentStatus(ctx, demo, id+100, forge.DeploymentStatus{State: "success"}); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("status of a missing deployment: %v, want ErrNotFound", err)
	}
	if err := e.c.SetDeploymentStatus(ctx, demo, id, forge.DeploymentStatus{State: "done"}); !errors.Is(err, forge.ErrValidation) {
		t.Errorf("unknown state: %v, want ErrValidation", err)
	}
}

func TestPullRequestLifecycle(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	pr, err := e.c.CreatePR(ctx, demo, forge.NewPR{Title: "t", Head: "feature", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetHead().GetSHA() != sha2 || pr.GetBase().GetSHA() != sha1 || pr.GetState() != "open" {
		t.Fatalf("pr = %+v", pr)
	}
	if _, err := e.c.CreatePR(ctx, demo, forge.NewPR{Title: "t", Head: "feature", Base: "main"}); !errors.Is(err, forge.ErrValidation) {
		t.Fatalf("duplicate PR: %v", err)
	}
	if _, err := e.c.CreatePR(ctx, demo, forge.NewPR{Title: "t", Head: "never-pushed", Base: "main"}); !errors.Is(err, forge.ErrValidation) {
		t.Fatalf("PR from a branch that does not exist: %v, want a validation error as GitHub gives", err)
	}
	newHead := "5555555555555555555555555555555555555555"
	e.srv.BranchPushed(demo.Owner, demo.Name, "feature", newHead)
	if _, err := e.c.MergePR(ctx, demo, pr.GetNumber(), forge.Merge{SHA: sha2}); err == nil {
		t.Fatal("merge with a stale head sha succeeded")
	}
	sha, err := e.c.MergePR(ctx, demo, pr.GetNumber(), forge.Merge{SHA: newHead})
	if err != nil || sha != "3333333333333333333333333333333333333333" {
		t.Fatalf("merge = %s, %v", sha, err)
	}
	got, err := e.c.GetPR(ctx, demo, pr.GetNumber())
	if err != nil || !got.GetMerged() || got.GetState() != "closed" || got.GetMergeCommitSHA() != sha {
		t.Fatalf("after merge: %+v, %v", got, err)
	}
	// Merged first by someone else: asking again at the same head is what we wanted, at
	// another head (or with none) it is GitHub's 405.
	if again, err := e.c.MergePR(ctx, demo, pr.GetNumber(), forge.Merge{SHA: newHead}); err != nil || again != sha {
		t.Fatalf("merge again at the merged head = %s, %v; want %s", again, err, sha)
	}
	if _, err := e.c.MergePR(ctx, demo, pr.GetNumber(), forge.Merge{SHA: sha2}); err == nil {
		t.Fatal("merge of a merged PR at another head succeeded")
	}
	if open, _ := e.c.ListPRs(ctx, demo, "open", "", ""); len(open) != 0 {
		t.Errorf("open PRs after merge: %d", len(open))
	}
	var actions []string
	for _, ev := range e.hooks.Events() {
		k, _ := keyOf(ev)
		actions = append(actions, k)
	}
	if want := []string{"pull_request/opened", "pull_request/synchronize", "pull_request/closed"}; !slices.Equal(actions, want) {
		t.Errorf("webhooks = %v, want %v", actions, want)
	}
	if want := []string{"local/demo-app:feature->main"}; !slices.Equal(e.hooks.merges, want) {
		t.Errorf("merges = %v", e.hooks.merges)
	}
}

func TestStandinPersists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := start(t, standin.Options{Dir: dir})
	if err := e.c.SetStatus(ctx, demo, sha1, forge.Status{State: "success", Context: "scorebot/deploy"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.c.UpsertComment(ctx, demo, 1, "<!-- m -->", "hello"); err != nil {
		t.Fatal(err)
	}
	again, err := standin.New(standin.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Statuses(demo.Owner, demo.Name, sha1)) != 1 || len(again.Comments(demo.Owner, demo.Name, 1)) != 1 {
		t.Fatalf("state not resumed: %v", again.Repos())
	}
	b, err := os.ReadFile(filepath.Join(dir, "github-standin.json"))
	if err != nil || strings.Contains(string(b), "as:scorebot") {
		t.Fatalf("state file: %v (tokens must not be persisted)", err)
	}
}

func TestGitHubAppAuth(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	e := start(t, standin.Options{AppID: 42, AppKey: &key.PublicKey, AppSlug: "scorebot", RequireAuth: true})
	var logs strings.Builder
	app, err := forge.New(forge.Config{BaseURL: e.http.URL + "/api/v3/", App: &forge.App{ID: 42, PrivateKeyFile: pemFile},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.GitAuth(ctx); !errors.Is(err, forge.ErrNoInstallation) {
		t.Fatalf("GitAuth without installation: %v", err)
	}
	inst, err := app.ForInstallation(7)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := app.ForInstallation(7); again != inst {
		t.Error("installation clients are not cached")
	}
	if err := inst.SetStatus(ctx, demo, sha1, forge.Status{State: "success", Context: "scorebot/deploy"}); err != nil {
		t.Fatal(err)
	}
	sts := e.srv.Statuses(demo.Owner, demo.Name, sha1)
	if len(sts) != 1 || sts[0].Creator != "scorebot[bot]" {
		t.Fatalf("statuses = %+v, want one by scorebot[bot]", sts)
	}
	reqs := e.srv.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/api/v3/app/installations/7/access_tokens" || reqs[0].Status != http.StatusCreated {
		t.Fatalf("requests = %+v, want the token exchange first", reqs)
	}
	auth, err := inst.GitAuth(ctx)
	if err != nil || auth.Username != "x-access-token" || !strings.HasPrefix(auth.Password, "ghs_") {
		t.Fatalf("GitAuth = %v, %v", auth, err)
	}
	if strings.Contains(auth.String(), auth.Password) || strings.Contains(logs.String(), auth.Password) {
		t.Error("the token leaks through String or logs")
	}
	// A key that is not the App's gets no token.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad, _ := forge.New(forge.Config{BaseURL: e.http.URL + "/api/v3/", App: &forge.App{ID: 42, InstallationID: 7,
		PrivateKey: forge.Secret(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))}})
	if err := bad.SetStatus(ctx, demo, sha1, forge.Status{State: "success", Context: "x"}); err == nil {
		t.Error("a JWT signed by another key was accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []forge.Config{
		{},
		{Token: "t", App: &forge.App{ID: 1}},
		{App: &forge.App{}},
		{App: &forge.App{ID: 1}},
		{App: &forge.App{ID: 1, PrivateKeyFile: "/nonexistent.pem"}},
		{App: &forge.App{ID: 1, PrivateKey: "not a pem"}},
	} {
		if _, err := forge.New(cfg); !errors.Is(err, forge.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := forge.Secret("ghp_verysecret")
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", s, forge.RedactedAttr("t2", s))
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s), buf.String()} {
		if strings.Contains(out, "verysecret") {
			t.Errorf("secret printed: %s", out)
		}
	}
}

func TestUpsertPR(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	want := forge.NewPR{Title: "promote", Head: "feature", Base: "main", Body: "v1"}
	steps := []struct {
		body string
		want forge.PRChange
	}{{"v1", forge.PROpened}, {"v1", forge.PRUnchanged}, {"v2", forge.PREdited}, {"v2", forge.PRUnchanged}}
	var number int
	for i, s := range steps {
		want.Body = s.body
		pr, change, err := e.c.UpsertPR(ctx, demo, want)
		if err != nil {
			t.Fatal(err)
		}
		if change != s.want || pr.GetBody() != s.body {
			t.Errorf("step %d: change %v, body %q; want %v, %q", i, change, pr.GetBody(), s.want, s.body)
		}
		if number == 0 {
			number = pr.GetNumber()
		} else if pr.GetNumber() != number {
			t.Errorf("step %d: PR #%d, want the same #%d", i, pr.GetNumber(), number)
		}
	}
}

func TestRepoFromURL(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"https://github.com/acme/env.git", "acme/env"},
		{"https://x-access-token:secret@ghe.example/acme/env/", "acme/env"},
		{"ssh://git@github.com/acme/env", "acme/env"},
		{"git@github.com:acme/env.git", "acme/env"},
		{"http://127.0.0.1:8080/git/env.git", "git/env"},
		{"https://github.com/env.git", ""},
	} {
		r, err := forge.RepoFromURL(c.url)
		if got := r.String(); c.want == "" && err == nil || c.want != "" && (err != nil || got != c.want) {
			t.Errorf("RepoFromURL(%q) = %q, %v; want %q", c.url, got, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error names the password: %v", err)
		}
	}
}

func TestWebURL(t *testing.T) {
	for _, tt := range []struct{ api, want string }{
		{"", "https://github.com"},
		{"https://api.github.com/", "https://github.com"},
		{"https://ghe.example.com/api/v3/", "https://ghe.example.com"},
		{"http://127.0.0.1:8080/api/v3/", "http://127.0.0.1:8080"},
		{"https://user:pass@ghe.example.com/api/v3/?x=1#y", "https://ghe.example.com"},
		{"ftp://ghe.example.com/api/v3/", ""},
		{"not a url", ""},
	} {
		if got := forge.WebURL(tt.api); got != tt.want {
			t.Errorf("WebURL(%q) = %q, want %q", tt.api, got, tt.want)
		}
	}
}
