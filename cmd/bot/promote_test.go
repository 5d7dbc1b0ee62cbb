package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/devbox/devbot"
	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// TestPromoteCLI runs `bot promote --dev` against an in-process `bot dev` sandbox whose
// workers deployed a push to development.
func TestPromoteCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := devbox.Start(ctx, devbox.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ExamplesDir: examples,
		App: "blog", Workers: devbot.Workers(nil), Logger: quietPromoteLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Stop() })
	addr := sb.Addr()

	// A push to demo-app's main with the real git client: the workers deploy it to development.
	work := t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+work, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
			"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(work, "clone", "-q", sb.CloneURL(devbox.RepoApp), "app")
	app := filepath.Join(work, "app")
	if err := os.WriteFile(filepath.Join(app, "NOTES.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(app, "add", "NOTES.md")
	git(app, "commit", "-q", "-m", "Notes")
	git(app, "push", "-q", "origin", "HEAD:main")

	env, err := envrepo.Open(envrepo.Config{URL: sb.CloneURL(devbox.RepoEnv), Dir: filepath.Join(t.TempDir(), "env")})
	if err != nil {
		t.Fatal(err)
	}
	waitFile := func(p string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			files, err := env.ReadTree(ctx, p)
			if err == nil && len(files) > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never appeared in the env repo (last error %v)", p, err)
			}
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(50 * time.Millisecond): // polling a condition, bounded above
			}
		}
	}
	waitFile(envtree.ProvenancePath("", "development", "demo-app"))

	promote := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"promote", "--dev", addr}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	// staging says autoMerge in the example rules: the PR is opened and merged at once (or
	// the workers' automatic promotion did that already).
	code, out, errOut := promote("--app", "demo-app", "--to", "staging")
	if code != 0 || !(strings.Contains(out, "merged by the bot") || strings.Contains(out, "nothing to promote")) {
		t.Fatalf("promote to staging: exit %d\n%s%s", code, out, errOut)
	}
	waitFile(envtree.ProvenancePath("", "staging", "demo-app"))

	// production needs a person: the PR stays open.
	code, out, errOut = promote("--app", "demo-app", "--to", "production")
	if code != 0 || !strings.Contains(out, "promotion of demo-app to production") {
		t.Fatalf("promote to production: exit %d\n%s%s", code, out, errOut)
	}
	open := 0
	for _, pr := range sb.GitHub().PullRequests(devbox.Owner, devbox.RepoEnv) {
		if pr.State == "open" && pr.Head == "scorebot/promote/demo-app/production" {
			open++
		}
	}
	if open != 1 {
		t.Errorf("open production promotion PRs = %d, want 1", open)
	}

	// Errors: development is not reached by promotion; a commit not in staging; bad usage.
	if code, _, errOut := promote("--app", "demo-app", "--to", "development"); code != 1 || !strings.Contains(errOut, "reach: promotion") {
		t.Errorf("promote to development: exit %d, %s", code, errOut)
	}
	if code, _, errOut := promote("--app", "demo-app", "--to", "production", "--commit", "0000000"); code != 1 || !strings.Contains(errOut, "not deployed in the previous environment") {
		t.Errorf("promote a commit staging does not run: exit %d, %s", code, errOut)
	}
	if code, _, _ := promote("--to", "staging"); code != 2 {
		t.Errorf("promote without --app: exit %d, want 2", code)
	}
}

func quietPromoteLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestPromoteUsage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--to", "staging", "--dev", "127.0.0.1:1"}, "bot promote: missing --app\n"},
		{[]string{"--app", "shop", "--to", "staging"}, "missing --rules URL (or --dev ADDR for a bot dev sandbox)"},
		{[]string{}, "missing --app; missing --to; missing --rules URL"},
		{[]string{"--app", "shop", "--to", "staging", "--dev", "127.0.0.1:1", "production"}, `unexpected arguments ["production"]`},
	}
	for _, c := range cases {
		code, _, errOut := runBot(append([]string{"promote"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("bot promote %q: exit %d, want 2 and %q in:\n%s", c.args, code, c.want, errOut)
		}
	}
}
