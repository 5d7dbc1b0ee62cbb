package githost

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

type pushLog struct {
	mu   sync.Mutex
	got  []RefUpdate
	repo []string
}

func (p *pushLog) record(repo string, ups []RefUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.repo = append(p.repo, repo)
	p.got = append(p.got, ups...)
}

func (p *pushLog) take() ([]string, []RefUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, g := p.repo, p.got
	p.repo, p.got = nil, nil
	return r, g
}

func start(t *testing.T, opts ...Option) (*Host, *httptest.Server, *pushLog) {
	t.Helper()
	pl := &pushLog{}
	h, err := New(t.TempDir(), append([]Option{WithOnPush(pl.record)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv, pl
}

// gitCLI runs the git client in dir with a fixed identity and no user or system config.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := runGit(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func runGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Test Dev", "GIT_AUTHOR_EMAIL=dev@example.test",
		"GIT_COMMITTER_NAME=Test Dev", "GIT_COMMITTER_EMAIL=dev@example.test",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"HOME="+dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSeedCloneAndPushWithGitCLI(t *testing.T) {
	h, srv, pl := start(t)
	seed, err := h.Seed("demo-app", map[string][]byte{"score.yaml": []byte("apiVersion: score.dev/v1b1\n"), "dir/a.txt": []byte("a\n")}, "seed")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	gitCLI(t, work, "clone", "--quiet", URL(srv.URL, "demo-app"), "app")
	app := filepath.Join(work, "app")
	if got := gitCLI(t, app, "rev-parse", "HEAD"); got != seed {
		t.Fatalf("cloned HEAD %s, want seed %s", got, seed)
	}
	if b, err := os.ReadFile(filepath.Join(app, "dir", "a.txt")); err != nil || string(b) != "a\n" {
		t.Fatalf("dir/a.txt = %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(app, "score.yaml"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, app, "commit", "--quiet", "-am", "change")
	gitCLI(t, app, "push", "--quiet", "origin", "main")
	gitCLI(t, app, "push", "--quiet", "origin", "main:refs/heads/feature")
	head := gitCLI(t, app, "rev-parse", "HEAD")

	repos, ups := pl.take()
	want := []RefUpdate{
		{Name: "refs/heads/main", Old: seed, New: head},
		{Name: "refs/heads/feature", Old: ZeroSHA, New: head},
	}
	if len(ups) != len(want) || strings.Join(repos, ",") != "demo-app,demo-app" {
		t.Fatalf("OnPush got %v %v, want %v", repos, ups, want)
	}
	for i := range want {
		if ups[i] != want[i] {
			t.Errorf("update %d = %+v, want %+v", i, ups[i], want[i])
		}
	}
	gitCLI(t, app, "push", "--quiet", "origin", ":refs/heads/feature")
	if _, ups := pl.take(); len(ups) != 1 || ups[0] != (RefUpdate{Name: "refs/heads/feature", Old: head, New: ZeroSHA}) {
		t.Fatalf("delete reported as %+v", ups)
	}
}

func TestCloneAndPushWithGoGit(t *testing.T) {
	h, srv, pl := start(t)
	seed, err := h.Seed("env", map[string][]byte{"README.md": []byte("env\n")}, "seed")
	if err != nil {
		t.Fatal(err)
	}
	fs := memfs.New()
	repo, err := git.Clone(memory.NewStorage(), fs, &git.CloneOptions{URL: URL(srv.URL, "env")})
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	f, _ := fs.Create("apps/x.yaml")
	_, _ = f.Write([]byte("x: 1\n"))
	_ = f.Close()
	if _, err := wt.Add("apps/x.yaml"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "T", Email: "t@example.test", When: time.Unix(1700000000, 0)}
	c, err := wt.Commit("add x", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.PushContext(context.Background(), &git.PushOptions{RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	_, ups := pl.take()
	if len(ups) != 1 || ups[0] != (RefUpdate{Name: "refs/heads/main", Old: seed, New: c.String()}) {
		t.Fatalf("OnPush got %+v", ups)
	}
	if got, _ := h.Head(context.Background(), "env", "main"); got != c.String() {
		t.Fatalf("server head %s, want %s", got, c)
	}
}

func TestServesReposCreatedLater(t *testing.T) {
	h, srv, pl := start(t)
	// Made by someone else, without http.receivepack: still served and pushable.
	if out, err := runGit(h.Root(), "init", "--quiet", "--bare", "--initial-branch=main", "team/late.git"); err != nil {
		t.Fatal(err, out)
	}
	work := t.TempDir()
	gitCLI(t, work, "init", "--quiet", "--initial-branch=main", "w")
	w := filepath.Join(work, "w")
	if err := os.WriteFile(filepath.Join(w, "f"), []byte("f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCLI(t, w, "add", "f")
	gitCLI(t, w, "commit", "--quiet", "-m", "first")
	gitCLI(t, w, "push", "--quiet", URL(srv.URL, "team/late"), "main")
	repos, ups := pl.take()
	if len(repos) != 1 || repos[0] != "team/late" || len(ups) != 1 || ups[0].Old != ZeroSHA {
		t.Fatalf("OnPush got %v %+v", repos, ups)
	}
	names, err := h.Repos()
	if err != nil || strings.Join(names, ",") != "team/late" {
		t.Fatalf("Repos() = %v, %v", names, err)
	}
}

func TestNotFoundAndInvalidNames(t *testing.T) {
	h, srv, _ := start(t)
	for _, name := range []string{"", "../x", "a/../b", ".hidden", "x.git", "a.git/b", "a b", "/abs"} {
		if err := h.Create(name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if err := h.Create("ok"); err != nil {
		t.Fatal(err)
	}
	if err := h.Create("ok"); !errors.Is(err, ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	if out, err := runGit(t.TempDir(), "ls-remote", URL(srv.URL, "missing")); err == nil {
		t.Errorf("ls-remote of a missing repo succeeded: %s", out)
	}
}

func TestMerge(t *testing.T) {
	h, _, pl := start(t)
	ctx := context.Background()
	base, err := h.Seed("r", map[string][]byte{"a": []byte("a\n"), "b": []byte("b\n")}, "seed")
	if err != nil {
		t.Fatal(err)
	}
	// feature: changes a; main moves on: changes b. A real three-way merge.
	if _, err := h.git(ctx, h.Dir("r"), nil, "branch", "feature", base); err != nil {
		t.Fatal(err)
	}
	feat, err := h.Commit(ctx, "r", "feature", map[string][]byte{"a": []byte("A\n"), "b": []byte("b\n")}, "feature")
	if err != nil {
		t.Fatal(err)
	}
	main2, err := h.Commit(ctx, "r", "main", map[string][]byte{"a": []byte("a\n"), "b": []byte("B\n")}, "main moves")
	if err != nil {
		t.Fatal(err)
	}
	merged, err := h.Merge("r", "main", "feature", "Merge pull request #1")
	if err != nil {
		t.Fatal(err)
	}
	parents, _ := h.git(ctx, h.Dir("r"), nil, "rev-list", "--parents", "-n1", merged)
	if parents != merged+" "+main2+" "+feat {
		t.Fatalf("merge parents %q", parents)
	}
	for path, want := range map[string]string{"a": "A", "b": "B"} {
		if got, _ := h.git(ctx, h.Dir("r"), nil, "show", merged+":"+path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if _, ups := pl.take(); len(ups) != 1 || ups[0] != (RefUpdate{Name: "refs/heads/main", Old: main2, New: merged}) {
		t.Fatalf("OnPush after merge: %+v", ups)
	}
	// Merging again changes nothing.
	if again, err := h.Merge("r", "main", "feature", "again"); err != nil || again != merged {
		t.Fatalf("re-merge = %s, %v", again, err)
	}
	// A conflict is refused and leaves main alone.
	if _, err := h.Commit(ctx, "r", "feature", map[string][]byte{"a": []byte("X\n"), "b": []byte("B\n")}, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Commit(ctx, "r", "main", map[string][]byte{"a": []byte("Y\n"), "b": []byte("B\n")}, "y"); err != nil {
		t.Fatal(err)
	}
	before, _ := h.Head(ctx, "r", "main")
	if _, err := h.Merge("r", "main", "feature", "conflict"); !errors.Is(err, ErrMergeConflict) {
		t.Fatalf("conflicting merge = %v, want ErrMergeConflict", err)
	}
	if after, _ := h.Head(ctx, "r", "main"); after != before {
		t.Fatal("conflicting merge moved main")
	}
}

func TestFailNextAndHold(t *testing.T) {
	h, srv, _ := start(t, WithHoldLimit(time.Minute))
	if _, err := h.Seed("r", map[string][]byte{"a": []byte("a")}, "seed"); err != nil {
		t.Fatal(err)
	}
	url := URL(srv.URL, "r")
	h.FailNext(1)
	if out, err := runGit(t.TempDir(), "ls-remote", url); err == nil || !strings.Contains(out, "500") {
		t.Fatalf("ls-remote during failure: %v %s", err, out)
	}
	if _, err := runGit(t.TempDir(), "ls-remote", url); err != nil {
		t.Fatalf("ls-remote after failure: %v", err)
	}

	release := h.Hold()
	done := make(chan error, 1)
	go func() { _, err := runGit(t.TempDir(), "ls-remote", url); done <- err }()
	deadline := time.Now().Add(20 * time.Second)
	for h.Waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("request never reached the hold")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a bounded deadline
	}
	select {
	case err := <-done:
		t.Fatalf("held request finished early: %v", err)
	default:
	}
	release()
	release()
	if err := <-done; err != nil {
		t.Fatalf("released request failed: %v", err)
	}
}

func TestHoldLimit(t *testing.T) {
	h, srv, _ := start(t, WithHoldLimit(10*time.Millisecond))
	if err := h.Create("r"); err != nil {
		t.Fatal(err)
	}
	release := h.Hold()
	defer release()
	if out, err := runGit(t.TempDir(), "ls-remote", URL(srv.URL, "r")); err == nil || !strings.Contains(out, "503") {
		t.Fatalf("request past hold limit: %v %s", err, out)
	}
}
