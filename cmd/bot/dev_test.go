package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// devOutput is a bytes.Buffer safe for a writer and a reader in different goroutines.
type devOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *devOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *devOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevCommands runs `bot dev` in-process, then drives it as a person would: the printed
// instructions, a branch pushed with the real git client, `bot dev pr open`, `comment`,
// `pr merge`, `pr close`, and Ctrl-C.
func TestDevCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr devOutput
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"dev", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "warn"}, &stdout, &stderr)
	}()
	running := regexp.MustCompile(`running at http://(127\.0\.0\.1:\d+) `)
	var addr string
	deadline := time.Now().Add(60 * time.Second)
	for addr == "" {
		if m := running.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("bot dev exited %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond): // polling the output, bounded below
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot dev printed no address:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	out := stdout.String()
	for _, want := range []string{
		"git clone http://" + addr + "/git/demo-app.git", "edit score.yaml", "git push",
		"http://" + addr + "/api/v3/repos/local/demo-app/commits/<sha>/statuses",
		"git clone http://" + addr + "/git/env.git", "dev pr open --listen " + addr + " --repo demo-app --head my-branch",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("instructions lack %q:\n%s", want, out)
		}
	}

	// Push a branch with the real git client.
	work := t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+work, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
			"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	git(work, "clone", "-q", "http://"+addr+"/git/demo-app.git", "app")
	app := filepath.Join(work, "app")
	if err := os.WriteFile(filepath.Join(app, "NOTES.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(app, "add", "NOTES.md")
	git(app, "commit", "-q", "-m", "Notes")
	git(app, "push", "-q", "origin", "HEAD:feature")

	cli := func(args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		if code := run(context.Background(), append([]string{"dev"}, args...), &o, &e); code != 0 {
			t.Fatalf("bot dev %v: exit %d\n%s", args, code, e.String())
		}
		return strings.TrimSpace(o.String())
	}
	// The printed command, as printed.
	checkout, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	checkout = shellQuote(checkout)
	var printed []string
	for _, line := range strings.Split(out, "\n") {
		// Under go test the bot is a temporary binary, as under go run: the printed command
		// names the checkout, so it also works from inside the demo-app clone.
		if _, cmd, ok := strings.Cut(line, "go -C "+checkout+" run ./cmd/bot dev pr open"); ok {
			printed = append([]string{"pr", "open"}, strings.Fields(strings.ReplaceAll(cmd, "my-branch", "feature"))...)
		}
	}
	if printed == nil {
		t.Fatalf("no pr open command printed:\n%s", out)
	}
	if n := cli(printed...); n != "1" {
		t.Fatalf("pr open printed %q, want 1", n)
	}
	if got := cli("comment", "--listen", addr, "--repo", "demo-app", "1", "/scorebot help", "--as", "reviewer"); !strings.Contains(got, "local/demo-app#1") {
		t.Fatalf("comment printed %q", got)
	}
	head, err := exec.Command("git", "-C", app, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.TrimSpace(string(head))
	if got := cli("comment", "--listen", addr, "--repo", "demo-app", "--commit", sha, "/scorebot help"); !strings.Contains(got, "local/demo-app@"+sha+" (commit comment ") {
		t.Fatalf("comment --commit printed %q", got)
	}
	if got := cli("pr", "merge", "--listen", addr, "--repo", "demo-app", "1"); !strings.HasPrefix(got, "merged local/demo-app#1 as ") {
		t.Fatalf("pr merge printed %q", got)
	}
	git(app, "push", "-q", "origin", "HEAD:other")
	if n := cli("pr", "open", "--listen", addr, "--repo", "demo-app", "--head", "other", "--title", "Other"); n != "2" {
		t.Fatalf("second pr open printed %q, want 2", n)
	}
	if got := cli("pr", "close", "--listen", addr, "--repo", "demo-app", "2"); got != "closed local/demo-app#2" {
		t.Fatalf("pr close printed %q", got)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"dev", "pr"}, {"dev", "pr", "open", "--repo", "demo-app"}, {"dev", "pr", "merge", "--repo", "demo-app", "x"},
		{"dev", "comment", "--repo", "demo-app", "1"}, {"dev", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "extra"},
		{"dev", "comment", "--repo", "demo-app", "--commit", sha, "1", "text"},
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), args, &o, &e); code != 2 {
			t.Errorf("bot %v: exit %d, want 2 (usage)\n%s", args, code, e.String())
		}
	}

	cancel() // Ctrl-C
	if code := <-exit; code != 0 {
		t.Fatalf("bot dev exited %d after Ctrl-C:\n%s", code, stderr.String())
	}
}

func TestShellQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/home/dev/scorebot", "/home/dev/scorebot"},
		{"/home/dev/my code", "'/home/dev/my code'"},
		{"/tmp/it's", `'/tmp/it'\''s'`},
		{"", "''"},
	} {
		if got := shellQuote(c.in); got != c.want {
			t.Errorf("shellQuote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestWriteEmbeddedExamples(t *testing.T) {
	dataDir := t.TempDir()
	for range 2 { // a second start replaces the first copy
		dir, err := writeEmbeddedExamples(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"rules/platform.yaml", "rules/definitions/postgres.yaml", "apps/blog/score.yaml", "apps/shop/worker.score.yaml"} {
			want, err := os.ReadFile(filepath.Join("..", "..", "examples", filepath.FromSlash(f)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: not the checkout's copy (%v)", f, err)
			}
		}
	}
}
