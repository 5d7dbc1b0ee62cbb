package gitcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/scorebot/scorebot/internal/githost"
)

type fixture struct {
	host *githost.Host
	url  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	h, err := githost.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{host: h, url: githost.URL(srv.URL, "app")}
}

func appFiles(version string) map[string][]byte {
	files := map[string][]byte{
		"score.yaml":              []byte("apiVersion: score.dev/v1b1\nmetadata:\n  name: web\n# " + version + "\n"),
		"services/api/score.yaml": []byte("apiVersion: score.dev/v1b1\nmetadata:\n  name: api\n"),
	}
	for i := range 40 {
		files[fmt.Sprintf("src/file%02d.go", i)] = []byte(fmt.Sprintf("package src // %d\n", i))
	}
	return files
}

// inPack counts the objects in the cache's packs, with the git CLI.
func inPack(t *testing.T, dir string) int {
	t.Helper()
	cmd := exec.Command("git", "count-objects", "-v")
	cmd.Env = append(os.Environ(), "GIT_DIR="+dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "in-pack: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

func TestFetchCommitServesItsTree(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := f.host.Seed("app", appFiles("v1"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Fetch(ctx, Source{URL: f.url, Branch: "main", Commit: first})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Commit != first {
		t.Fatalf("snapshot of %s, want %s", snap.Commit, first)
	}
	if err := fstest.TestFS(snap, "score.yaml", "services/api/score.yaml", "src/file00.go"); err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(snap, "score.yaml")
	if err != nil || !strings.Contains(string(got), "# v1") {
		t.Fatalf("score.yaml = %q, %v", got, err)
	}
	matches, err := fs.Glob(snap, "*/*/score.yaml")
	if err != nil || strings.Join(matches, ",") != "services/api/score.yaml" {
		t.Fatalf("Glob = %v, %v", matches, err)
	}
	if _, err := snap.ReadFile("missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	dir := c.entry(f.url).dir
	if shallow, err := os.ReadFile(filepath.Join(dir, "shallow")); err != nil || !strings.Contains(string(shallow), first) {
		t.Fatalf("not a shallow fetch: %q %v", shallow, err)
	}
	before := inPack(t, dir)

	// A new commit changing one file: the second fetch brings only what changed.
	second, err := f.host.Commit(ctx, "app", "main", appFiles("v2"), "v2")
	if err != nil {
		t.Fatal(err)
	}
	snap2, err := c.Fetch(ctx, Source{URL: f.url, Branch: "main", Commit: second})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := snap2.ReadFile("score.yaml"); !strings.Contains(string(got), "# v2") {
		t.Fatalf("v2 score.yaml = %q", got)
	}
	if added := inPack(t, dir) - before; added > 4 {
		t.Errorf("second fetch added %d objects, want the commit, root tree and one blob", added)
	}
	// The old snapshot still reads its commit.
	if got, _ := snap.ReadFile("score.yaml"); !strings.Contains(string(got), "# v1") {
		t.Fatalf("v1 snapshot now reads %q", got)
	}

	// A commit the cache has needs no network.
	f.host.FailNext(100)
	if _, err := c.Fetch(ctx, Source{URL: f.url, Branch: "main", Commit: first}); err != nil {
		t.Fatalf("cached commit with the server failing: %v", err)
	}
	f.host.FailNext(0)

	// The branch head, and an older commit by sha alone in a fresh cache.
	head, err := c.Fetch(ctx, Source{URL: f.url, Branch: "main"})
	if err != nil || head.Commit != second {
		t.Fatalf("head = %v, %v; want %s", head, err, second)
	}
	c2, _ := New(t.TempDir())
	old, err := c2.Fetch(ctx, Source{URL: f.url, Commit: first})
	if err != nil || old.Commit != first {
		t.Fatalf("old commit by sha: %v", err)
	}
}

func TestFetchErrors(t *testing.T) {
	f := newFixture(t)
	if _, err := f.host.Seed("app", appFiles("v1"), "v1"); err != nil {
		t.Fatal(err)
	}
	c, _ := New(t.TempDir())
	ctx := context.Background()
	tests := []struct {
		name string
		src  Source
		want error
	}{
		{"no url", Source{Branch: "main"}, ErrInvalidSource},
		{"no ref", Source{URL: f.url}, ErrInvalidSource},
		{"short sha", Source{URL: f.url, Commit: "abc"}, ErrInvalidSource},
		{"bad branch", Source{URL: f.url, Branch: "a..b"}, ErrInvalidSource},
		{"unknown commit", Source{URL: f.url, Branch: "main", Commit: strings.Repeat("ab", 20)}, ErrCommitNotFound},
		{"unknown branch", Source{URL: f.url, Branch: "nope"}, ErrCommitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Fetch(ctx, tt.src); !errors.Is(err, tt.want) {
				t.Fatalf("Fetch = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCorruptedCacheIsRefetched(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sha, err := f.host.Seed("app", appFiles("v1"), "v1")
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	c, _ := New(dataDir)
	if _, err := c.Fetch(ctx, Source{URL: f.url, Branch: "main", Commit: sha}); err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(c.entry(f.url).dir, "objects", "pack", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("no pack in the cache")
	}
	for _, p := range packs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 12; i < len(b)-20; i++ { // keep the header, scramble every object
			b[i] ^= 0x5a
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A new process over the same data dir: the corruption is found, the cache re-fetched.
	c2, _ := New(dataDir)
	snap, err := c2.Fetch(ctx, Source{URL: f.url, Branch: "main", Commit: sha})
	if err != nil {
		t.Fatalf("fetch over a corrupted cache: %v", err)
	}
	if got, err := snap.ReadFile("score.yaml"); err != nil || !strings.Contains(string(got), "# v1") {
		t.Fatalf("score.yaml = %q, %v", got, err)
	}
}

func TestConcurrentFetches(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var shas []string
	for i := range 3 {
		sha, err := f.host.Seed("app", appFiles(fmt.Sprint(i)), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
	}
	c, _ := New(t.TempDir())
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := shas[i%3]
			snap, err := c.Fetch(ctx, Source{URL: f.url, Branch: "main", Commit: want})
			if err == nil {
				var b []byte
				b, err = snap.ReadFile("score.yaml")
				if err == nil && !strings.Contains(string(b), "# "+fmt.Sprint(i%3)) {
					err = fmt.Errorf("commit %d read %q", i%3, b)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d: %v", i, err)
		}
	}
}
