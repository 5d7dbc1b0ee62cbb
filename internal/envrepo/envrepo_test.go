package envrepo

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/githost"
)

type env struct {
	host *githost.Host
	url  string
	name string
}

func newEnv(t testing.TB, seed map[string][]byte) *env {
	t.Helper()
	h, err := githost.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if seed == nil {
		if err := h.Create("env"); err != nil {
			t.Fatal(err)
		}
	} else if _, err := h.Seed("env", seed, "seed"); err != nil {
		t.Fatal(err)
	}
	return &env{host: h, url: githost.URL(srv.URL, "env"), name: "env"}
}

// git runs the git CLI against the env repo's bare directory on the server.
func (e *env) git(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_DIR="+e.host.Dir(e.name), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// files lists path=content of the server's branch head.
func (e *env) files(t testing.TB, rev string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range strings.Split(e.git(t, "ls-tree", "-r", "--name-only", rev), "\n") {
		if p != "" {
			out[p] = e.git(t, "show", rev+":"+p)
		}
	}
	return out
}

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func openRepo(t testing.TB, url string, mod ...func(*Config)) *Repo {
	t.Helper()
	cfg := Config{URL: url, Dir: filepath.Join(t.TempDir(), "env.git"), Now: fixedNow,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func msg(subject string) Message {
	return Message{Subject: subject, Trailers: []Trailer{
		{"Scorebot-Source", "demo-app@0123456789abcdef"}, {"Scorebot-Rules", "fedcba"}, {"Scorebot-Delivery", "d-1"},
	}}
}

func TestApplyWritesOnlyTheChangeAndSkipsNoop(t *testing.T) {
	e := newEnv(t, map[string][]byte{
		"README.md":                  []byte("env\n"),
		"apps/dev/other/deploy.yaml": []byte("other\n"),
		"apps/dev/shop/stale.yaml":   []byte("stale\n"),
	})
	r := openRepo(t, e.url, func(c *Config) { c.Author = Identity{"Deploy Bot", "bot@example.test"} })
	ctx := context.Background()
	seed, _ := e.host.Head(ctx, "env", "main")

	change := Change{Owned: []string{"apps/dev/shop/", "clusters/dev/shop.yaml"}, Files: map[string][]byte{
		"apps/dev/shop/deploy.yaml":  []byte("shop v1\n"),
		"apps/dev/shop/svc/svc.yaml": []byte("svc\n"),
		"clusters/dev/shop.yaml":     []byte("ks\n"),
	}}
	res, err := r.Apply(ctx, msg("deploy shop to dev from demo-app@0123456"), change)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Parent != seed || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	want := map[string]string{
		"README.md":                  "env",
		"apps/dev/other/deploy.yaml": "other",
		"apps/dev/shop/deploy.yaml":  "shop v1",
		"apps/dev/shop/svc/svc.yaml": "svc",
		"clusters/dev/shop.yaml":     "ks",
	}
	assertFiles(t, e.files(t, "main"), want)
	if head := e.git(t, "rev-parse", "main"); head != res.Commit {
		t.Fatalf("server head %s, result %s", head, res.Commit)
	}
	wantMsg := "deploy shop to dev from demo-app@0123456\n\nScorebot-Source: demo-app@0123456789abcdef\nScorebot-Rules: fedcba\nScorebot-Delivery: d-1"
	if got := e.git(t, "log", "-1", "--format=%B", "main"); got != wantMsg {
		t.Errorf("message:\n%s\nwant:\n%s", got, wantMsg)
	}
	if got := e.git(t, "log", "-1", "--format=%an <%ae> %cn %ct", "main"); got != "Deploy Bot <bot@example.test> Deploy Bot 1767323045" {
		t.Errorf("author/committer %q", got)
	}
	e.git(t, "fsck", "--strict", "--no-dangling")

	// The same change again: no commit.
	again, err := r.Apply(ctx, msg("again"), change)
	if err != nil || again.Changed || again.Commit != res.Commit {
		t.Fatalf("identical change: %+v %v", again, err)
	}
	// A fresh clone (another worker) sees no change either.
	if other, err := openRepo(t, e.url).Apply(ctx, msg("again"), change); err != nil || other.Changed {
		t.Fatalf("identical change from a new clone: %+v %v", other, err)
	}

	// Drop a file under the owned prefix: it is deleted, the rest stays.
	delete(change.Files, "apps/dev/shop/svc/svc.yaml")
	if _, err := r.Apply(ctx, msg("drop svc"), change); err != nil {
		t.Fatal(err)
	}
	delete(want, "apps/dev/shop/svc/svc.yaml")
	assertFiles(t, e.files(t, "main"), want)

	// Owning a prefix with no files removes the directory.
	if _, err := r.Apply(ctx, msg("remove shop"), Change{Owned: []string{"apps/dev/shop", "clusters/dev/shop.yaml"}}); err != nil {
		t.Fatal(err)
	}
	assertFiles(t, e.files(t, "main"), map[string]string{"README.md": "env", "apps/dev/other/deploy.yaml": "other"})
	if parents := e.git(t, "rev-list", "--count", "--merges", "main"); parents != "0" {
		t.Fatal("merge commits in history")
	}
}

func assertFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	var g, w []string
	for k, v := range got {
		g = append(g, k+"="+v)
	}
	for k, v := range want {
		w = append(w, k+"="+v)
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

func TestApplyToEmptyRepoAndReadTree(t *testing.T) {
	e := newEnv(t, nil)
	r := openRepo(t, e.url)
	ctx := context.Background()
	if files, err := r.ReadTree(ctx, ""); err != nil || len(files) != 0 {
		t.Fatalf("ReadTree of empty repo: %v %v", files, err)
	}
	if res, err := r.Apply(ctx, msg("nothing"), Change{Owned: []string{"apps"}}); err != nil || res.Changed {
		t.Fatalf("empty change on empty repo: %+v %v", res, err)
	}
	res, err := r.Apply(ctx, msg("first"), Change{Owned: []string{"apps/dev/a"}, Files: map[string][]byte{"apps/dev/a/x.yaml": []byte("x")}})
	if err != nil || !res.Changed || res.Parent != "" {
		t.Fatalf("first commit: %+v %v", res, err)
	}
	if n := e.git(t, "rev-list", "--count", "main"); n != "1" {
		t.Fatalf("%s commits", n)
	}
	got, err := openRepo(t, e.url).ReadTree(ctx, "apps/dev")
	if err != nil || len(got) != 1 || string(got["apps/dev/a/x.yaml"]) != "x" {
		t.Fatalf("ReadTree = %v, %v", got, err)
	}
	if got, err := r.ReadTree(ctx, "apps/dev/a/x.yaml"); err != nil || string(got["apps/dev/a/x.yaml"]) != "x" {
		t.Fatalf("ReadTree(file) = %v, %v", got, err)
	}
	if got, err := r.ReadTree(ctx, "nope"); err != nil || len(got) != 0 {
		t.Fatalf("ReadTree(missing) = %v, %v", got, err)
	}
	log, err := r.Log(ctx, 5)
	if err != nil || len(log) != 1 || log[0].Hash != res.Commit || len(log[0].Parents) != 0 {
		t.Fatalf("Log = %+v, %v", log, err)
	}
}

func TestInvalidPathsArePermanent(t *testing.T) {
	e := newEnv(t, map[string][]byte{"a": []byte("a")})
	r := openRepo(t, e.url)
	for _, ch := range []Change{
		{Owned: []string{"/abs"}},
		{Owned: []string{"apps/../x"}},
		{Owned: []string{"apps//x/"}},
		{Owned: []string{""}},
		{Files: map[string][]byte{"a/.git/config": nil}},
		{Files: map[string][]byte{"a/": nil}},
		{Files: map[string][]byte{"x": nil, "x/y": nil}},
	} {
		res, err := r.Apply(context.Background(), msg("bad"), ch)
		if !errors.Is(err, ErrInvalidPath) || res.Attempts != 1 {
			t.Errorf("%v: %+v %v, want ErrInvalidPath on the first attempt", ch, res, err)
		}
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	e := newEnv(t, map[string][]byte{"README.md": []byte("env\n")})
	ctx := context.Background()
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		r := openRepo(t, e.url, func(c *Config) {
			c.MaxAttempts = 30
			c.Sleep = sleepCtx
			c.Backoff = func(int) time.Duration { return DefaultBackoff(1) / 10 }
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := fmt.Sprintf("app-%d", i)
			_, errs[i] = r.Apply(ctx, msg("deploy "+app), Change{Owned: []string{"apps/dev/" + app},
				Files: map[string][]byte{"apps/dev/" + app + "/deploy.yaml": []byte(app + "\n")}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if n := e.git(t, "rev-list", "--count", "main"); n != fmt.Sprint(writers+1) {
		t.Fatalf("%s commits, want %d", n, writers+1)
	}
	for _, line := range strings.Split(e.git(t, "rev-list", "--parents", "main"), "\n") {
		if n := len(strings.Fields(line)); n > 2 {
			t.Fatalf("non-linear history: %s", line)
		}
	}
	files := e.files(t, "main")
	for i := range writers {
		if files[fmt.Sprintf("apps/dev/app-%d/deploy.yaml", i)] != fmt.Sprintf("app-%d", i) {
			t.Errorf("app-%d lost", i)
		}
	}
}

func TestRetriesServerErrors(t *testing.T) {
	e := newEnv(t, map[string][]byte{"README.md": []byte("env\n")})
	var slept []time.Duration
	r := openRepo(t, e.url, func(c *Config) {
		c.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	})
	e.host.FailNext(4)
	res, err := r.Apply(context.Background(), msg("deploy"), Change{Files: map[string][]byte{"x": []byte("x")}})
	if err != nil || !res.Changed || res.Attempts < 2 || len(slept) != res.Attempts-1 {
		t.Fatalf("after 500s: %+v %v (slept %v)", res, err, slept)
	}
	if got := e.git(t, "show", "main:x"); got != "x" {
		t.Fatalf("x = %q", got)
	}

	e.host.FailNext(1000)
	defer e.host.FailNext(0)
	r2 := openRepo(t, e.url, func(c *Config) { c.MaxAttempts = 3 })
	if _, err := r2.Apply(context.Background(), msg("deploy"), Change{Files: map[string][]byte{"y": nil}}); !errors.Is(err, ErrPushFailed) {
		t.Fatalf("server down: %v, want ErrPushFailed", err)
	}
}

func TestPushBranch(t *testing.T) {
	e := newEnv(t, map[string][]byte{"apps/prod/shop/a.yaml": []byte("v1\n")})
	r := openRepo(t, e.url)
	ctx := context.Background()
	change := Change{Owned: []string{"apps/prod/shop"}, Files: map[string][]byte{"apps/prod/shop/a.yaml": []byte("v2\n")}}
	if _, err := r.PushBranch(ctx, "main", "main", msg("x"), change); !errors.Is(err, ErrNotBotBranch) {
		t.Fatalf("PushBranch(main) = %v, want ErrNotBotBranch", err)
	}
	if _, err := r.PushBranch(ctx, "scorebot/x", "nope", msg("x"), change); !errors.Is(err, ErrNoBranch) {
		t.Fatalf("PushBranch from a missing base = %v, want ErrNoBranch", err)
	}
	res, err := r.PushBranch(ctx, "scorebot/promote-shop-prod", "main", msg("promote shop to prod"), change)
	if err != nil || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if got := e.git(t, "show", "scorebot/promote-shop-prod:apps/prod/shop/a.yaml"); got != "v2" {
		t.Fatalf("branch content %q", got)
	}
	if again, err := r.PushBranch(ctx, "scorebot/promote-shop-prod", "main", msg("promote"), change); err != nil || again.Changed || again.Commit != res.Commit {
		t.Fatalf("same promotion again: %+v %v", again, err)
	}
	// main moves on: the branch is rebuilt on the new main (a forced, leased update).
	if _, err := openRepo(t, e.url).Apply(ctx, msg("other"), Change{Files: map[string][]byte{"apps/prod/other.yaml": []byte("o")}}); err != nil {
		t.Fatal(err)
	}
	moved, err := r.PushBranch(ctx, "scorebot/promote-shop-prod", "main", msg("promote"), change)
	if err != nil || !moved.Changed {
		t.Fatalf("%+v %v", moved, err)
	}
	if parent := e.git(t, "rev-parse", "scorebot/promote-shop-prod^"); parent != e.git(t, "rev-parse", "main") {
		t.Fatal("branch not rebuilt on main")
	}
	if res, err := r.PushBranch(ctx, "scorebot/noop", "main", msg("noop"), Change{Owned: []string{"apps/prod/shop"}, Files: map[string][]byte{"apps/prod/shop/a.yaml": []byte("v1\n")}}); err != nil || res.Changed {
		t.Fatalf("no-op promotion: %+v %v", res, err)
	}
}

func TestBuildTouchesOnlyChangedPaths(t *testing.T) {
	files := map[string][]byte{}
	for i := range 50 {
		files[fmt.Sprintf("apps/dev/app-%02d/deploy.yaml", i)] = []byte(fmt.Sprint(i))
	}
	e := newEnv(t, files)
	r := openRepo(t, e.url)
	heads, err := r.sync(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := r.build(heads["main"], []Change{{Owned: []string{"apps/dev/app-07"}, Files: map[string][]byte{"apps/dev/app-07/deploy.yaml": []byte("new")}}})
	if err != nil {
		t.Fatal(err)
	}
	// one blob + trees app-07, dev, apps, root
	if len(b.new) != 5 {
		t.Fatalf("%d new objects, want 5", len(b.new))
	}
}

// TestEditsKeepGitOrder edits trees whose names sort differently as files and as directories
// ("a" vs "a.b" vs "a-b" vs "a/"), including a file turned into a directory and back; git fsck
// --strict checks the order of every tree written.
func TestEditsKeepGitOrder(t *testing.T) {
	e := newEnv(t, map[string][]byte{
		"d/a.b": []byte("1"), "d/a-b": []byte("2"), "d/a0": []byte("3"), "d/a": []byte("file a"), "d/b/x": []byte("4"),
	})
	r := openRepo(t, e.url)
	ctx := context.Background()
	steps := []struct {
		change Change
		want   map[string]string
	}{
		{ // file d/a becomes directory d/a
			Change{Owned: []string{"d/a"}, Files: map[string][]byte{"d/a/in": []byte("in")}},
			map[string]string{"d/a.b": "1", "d/a-b": "2", "d/a0": "3", "d/a/in": "in", "d/b/x": "4"},
		},
		{ // new names on both sides of it, and an existing one rewritten
			Change{Files: map[string][]byte{"d/a+": []byte("5"), "d/a1": []byte("6"), "d/a.b": []byte("7"), "d/0": []byte("8")}},
			map[string]string{"d/0": "8", "d/a+": "5", "d/a.b": "7", "d/a-b": "2", "d/a0": "3", "d/a1": "6", "d/a/in": "in", "d/b/x": "4"},
		},
		{ // and back to a file; d/b emptied away
			Change{Owned: []string{"d/a", "d/b"}, Files: map[string][]byte{"d/a": []byte("file again")}},
			map[string]string{"d/0": "8", "d/a+": "5", "d/a.b": "7", "d/a-b": "2", "d/a0": "3", "d/a1": "6", "d/a": "file again"},
		},
	}
	for i, s := range steps {
		if _, err := r.Apply(ctx, msg(fmt.Sprint("step ", i)), s.change); err != nil {
			t.Fatal(err)
		}
		e.git(t, "fsck", "--strict", "--no-dangling")
		assertFiles(t, e.files(t, "main"), s.want)
	}
}

// TestStaleCloneRebuilds: a clone that last saw an old head builds on it first, finds out at
// push time (or when its change looks like a no-op) and rebuilds on the server's head.
func TestStaleCloneRebuilds(t *testing.T) {
	e := newEnv(t, map[string][]byte{"README.md": []byte("env\n")})
	ctx := context.Background()
	a, b := openRepo(t, e.url), openRepo(t, e.url)
	shopV1 := Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v1")}}
	shopV2 := Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v2")}}
	if _, err := a.Apply(ctx, msg("a: shop v1"), shopV1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Apply(ctx, msg("b: shop v2"), shopV2); err != nil {
		t.Fatal(err)
	}
	// a's clone still holds v1, so v1 looks like no change to it; the server holds v2.
	res, err := a.Apply(ctx, msg("a: shop v1 again"), shopV1)
	if err != nil || !res.Changed || res.Attempts != 1 {
		t.Fatalf("stale no-op: %+v %v", res, err)
	}
	if got := e.git(t, "show", "main:apps/shop/d.yaml"); got != "v1" {
		t.Fatalf("shop = %q, want v1", got)
	}
	if _, err := b.Apply(ctx, msg("b: other"), Change{Files: map[string][]byte{"apps/other.yaml": []byte("o")}}); err != nil {
		t.Fatal(err)
	}
	// a's head is stale again: the push is refused before any pack is sent, a rebuilds.
	res, err = a.Apply(ctx, msg("a: shop v3"), Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v3")}})
	if err != nil || !res.Changed || res.Attempts != 1 {
		t.Fatalf("stale push: %+v %v", res, err)
	}
	assertFiles(t, e.files(t, "main"), map[string]string{"README.md": "env", "apps/shop/d.yaml": "v3", "apps/other.yaml": "o"})
	if n := e.git(t, "rev-list", "--count", "main"); n != "6" {
		t.Fatalf("%s commits, want 6", n)
	}
}

func TestBehind(t *testing.T) {
	e := newEnv(t, map[string][]byte{"apps/prod/shop/a.yaml": []byte("v1\n"), "apps/prod/blog/a.yaml": []byte("b1\n")})
	r := openRepo(t, e.url)
	other := openRepo(t, e.url) // someone else moving main
	ctx := context.Background()
	const branch = "scorebot/promote/shop/prod"
	shop := func(v string) Change {
		return Change{Owned: []string{"apps/prod/shop"}, Files: map[string][]byte{"apps/prod/shop/a.yaml": []byte(v)}}
	}
	behind := func(want bool, when string) {
		t.Helper()
		got, err := r.Behind(ctx, "main", branch, "scorebot/none")
		if err != nil || (len(got) == 1) != want || want && got[0] != branch {
			t.Fatalf("%s: Behind = %v, %v; want %v", when, got, err, want)
		}
	}
	behind(false, "no branch yet")
	if _, err := r.PushBranch(ctx, branch, "main", msg("promote shop"), shop("v2\n")); err != nil {
		t.Fatal(err)
	}
	behind(false, "on main's head")
	if _, err := other.Apply(ctx, msg("deploy blog"), Change{Files: map[string][]byte{"apps/prod/blog/a.yaml": []byte("b2\n")}}); err != nil {
		t.Fatal(err)
	}
	behind(false, "main changed another app")
	if _, err := other.Apply(ctx, msg("shop as the branch has it"), shop("v2\n")); err != nil {
		t.Fatal(err)
	}
	behind(false, "main holds the branch's version")
	if _, err := other.Apply(ctx, msg("re-render shop"), shop("v3\n")); err != nil {
		t.Fatal(err)
	}
	behind(true, "main changed the branch's file")
	if _, err := r.PushBranch(ctx, branch, "main", msg("promote shop again"), shop("v4\n")); err != nil {
		t.Fatal(err)
	}
	behind(false, "rebuilt on main")
	if _, err := other.Apply(ctx, msg("shop gains a file"), Change{Files: map[string][]byte{"apps/prod/shop/b.yaml": []byte("new\n")}}); err != nil {
		t.Fatal(err)
	}
	behind(false, "main added a file the branch does not touch")
}

func TestDeleteBranch(t *testing.T) {
	e := newEnv(t, map[string][]byte{"apps/prod/shop/a.yaml": []byte("v1\n")})
	r := openRepo(t, e.url)
	ctx := context.Background()
	const branch = "scorebot/rejected/shop/prod"
	if _, err := r.PushBranch(ctx, branch, "main", msg("reject"), Change{Files: map[string][]byte{"x": []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	pushed, err := r.PushBranch(ctx, branch, "main", msg("reject again"), Change{Files: map[string][]byte{"x": []byte("y")}})
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err := r.DeleteBranch(ctx, branch, strings.Repeat("0", 39)+"1"); err != nil || deleted {
		t.Fatalf("DeleteBranch at another commit = %v, %v; want kept", deleted, err)
	}
	if deleted, err := r.DeleteBranch(ctx, branch, pushed.Commit); err != nil || !deleted {
		t.Fatalf("DeleteBranch = %v, %v", deleted, err)
	}
	if head, err := e.host.Head(ctx, "env", branch); err != nil || head != "" {
		t.Fatalf("the branch is still on the server: %q %v", head, err)
	}
	if deleted, err := r.DeleteBranch(ctx, branch, ""); err != nil || deleted {
		t.Fatalf("deleting a missing branch = %v, %v; want false, nil", deleted, err)
	}
	if _, err := r.DeleteBranch(ctx, "main", ""); !errors.Is(err, ErrNotBotBranch) {
		t.Fatalf("DeleteBranch(main) = %v, want ErrNotBotBranch", err)
	}
	if got := e.git(t, "show", "main:apps/prod/shop/a.yaml"); got != "v1" {
		t.Fatalf("main changed: %q", got)
	}
}

// Folders: a new folder both sides add with different files is no conflict (git merges it);
// a folder the branch deletes while base changes a file in it is.
func TestBehindFolders(t *testing.T) {
	e := newEnv(t, map[string][]byte{"apps/prod/shop/a.yaml": []byte("v1\n"), "apps/prod/old/a.yaml": []byte("o1\n")})
	r, other := openRepo(t, e.url), openRepo(t, e.url)
	ctx := context.Background()
	check := func(branch string, want bool) {
		t.Helper()
		got, err := r.Behind(ctx, "main", branch)
		if err != nil || (len(got) == 1) != want {
			t.Fatalf("Behind(%s) = %v, %v; want behind %v", branch, got, err, want)
		}
	}
	if _, err := r.PushBranch(ctx, "scorebot/a", "main", msg("a uses redis"), Change{Files: map[string][]byte{"apps/prod/_shared/redis/s.yaml": []byte("r\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PushBranch(ctx, "scorebot/b", "main", msg("remove old"), Change{Owned: []string{"apps/prod/old/"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Apply(ctx, msg("b uses postgres"), Change{Files: map[string][]byte{"apps/prod/_shared/pg/s.yaml": []byte("p\n")}}); err != nil {
		t.Fatal(err)
	}
	check("scorebot/a", false)
	check("scorebot/b", false)
	if _, err := other.Apply(ctx, msg("change old"), Change{Files: map[string][]byte{"apps/prod/old/a.yaml": []byte("o2\n")}}); err != nil {
		t.Fatal(err)
	}
	check("scorebot/b", true)
}

func TestBranches(t *testing.T) {
	ctx := context.Background()
	if got, err := openRepo(t, newEnv(t, nil).url).Branches(ctx, "scorebot/"); err != nil || len(got) != 0 {
		t.Fatalf("Branches of an empty repo = %v, %v; want none", got, err)
	}
	e := newEnv(t, map[string][]byte{"README.md": []byte("env\n")})
	r := openRepo(t, e.url)
	want := map[string]string{}
	for _, b := range []string{"scorebot/rejected/shop/prod", "scorebot/promote/shop/prod"} {
		res, err := r.PushBranch(ctx, b, "main", msg(b), Change{Files: map[string][]byte{b + ".txt": []byte(b)}})
		if err != nil {
			t.Fatal(err)
		}
		want[b] = res.Commit
	}
	got, err := r.Branches(ctx, "scorebot/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "scorebot/promote/shop/prod" || got[1].Name != "scorebot/rejected/shop/prod" {
		t.Fatalf("Branches = %+v; want the two bot branches sorted, main left out", got)
	}
	for _, b := range got {
		if b.Head != want[b.Name] {
			t.Errorf("%s at %s, want %s", b.Name, b.Head, want[b.Name])
		}
	}
}
