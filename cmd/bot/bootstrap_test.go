package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
)

func TestBootstrapCLI(t *testing.T) {
	opts := bootstrap.Options{RepoURL: "https://git.example.com/acme/env.git", Env: "staging", Path: "fleet", SecretRef: "flux-system"}
	want, err := bootstrap.Files(opts)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"bootstrap", "--env-repo", opts.RepoURL, "--env", opts.Env, "--path", opts.Path, "--secret-ref", opts.SecretRef}

	t.Run("stdout", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		var expect bytes.Buffer
		for _, p := range []string{"fleet/clusters/staging/flux-system/gotk-sync.yaml", "fleet/clusters/staging/flux-system/kustomization.yaml"} {
			expect.WriteString("# file: " + p + "\n")
			expect.Write(want[p])
		}
		if stdout.String() != expect.String() {
			t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), expect.String())
		}
	})

	t.Run("out", func(t *testing.T) {
		dir := t.TempDir()
		// A file the Flux CLI wrote earlier must survive.
		flux := filepath.Join(dir, "fleet/clusters/staging/flux-system")
		if err := os.MkdirAll(flux, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(flux, "gotk-components.yaml"), []byte("# flux install --export\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(flux, "gotk-sync.yaml"), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append(args, "--out", dir), &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout not empty with --out: %q", stdout.String())
		}
		for p, b := range want {
			got, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b) {
				t.Errorf("%s:\n%s\nwant:\n%s", p, got, b)
			}
		}
		if _, err := os.Stat(filepath.Join(flux, "gotk-components.yaml")); err != nil {
			t.Errorf("gotk-components.yaml was removed: %v", err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".bot-bootstrap-") {
				t.Errorf("staging directory %s left behind", e.Name())
			}
		}
	})

	t.Run("components", func(t *testing.T) {
		comp := filepath.Join(t.TempDir(), "gotk-components.yaml")
		body := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n"
		if err := os.WriteFile(comp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append(args, "--components", comp), &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "# file: fleet/clusters/staging/flux-system/gotk-components.yaml\n"+body) ||
			!strings.Contains(stdout.String(), "- gotk-components.yaml\n- gotk-sync.yaml\n") {
			t.Errorf("components not written and listed:\n%s", stdout.String())
		}
	})
}

func TestBootstrapCLIErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"help", []string{"bootstrap", "-h"}, 0, "--env-repo"},
		{"missing env", []string{"bootstrap", "--env-repo", "https://h/r"}, 2, "missing --env NAME"},
		{"missing env repo", []string{"bootstrap", "--env", "staging"}, 2, "missing --env-repo URL"},
		{"unknown flag", []string{"bootstrap", "--nope"}, 2, "flag provided but not defined"},
		{"extra arg", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "x"}, 2, `unexpected argument "x"`},
		{"bad url", []string{"bootstrap", "--env-repo", "git@github.com:a/b", "--env", "dev"}, 1, "http, https or ssh"},
		{"bad env", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "Prod"}, 1, "DNS label"},
		{"commit and out", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--commit", "--out", "x"}, 2, "exclude each other"},
		{"push-url without commit", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--push-url", "https://h/r"}, 2, "only apply with --commit"},
		{"pr and commit", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--pr", "--commit", "--git-token-file", "t"}, 2, "--pr and --commit exclude each other"},
		{"pr and out", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--pr", "--out", "x", "--git-token-file", "t"}, 2, "--pr and --out exclude each other"},
		{"pr without token", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--pr"}, 2, "--pr needs --git-token-file"},
		{"github-api-url without pr", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--commit", "--github-api-url", "https://ghe/api/v3/"}, 2, "--github-api-url and --github-repo only apply with --pr"},
		{"github-repo without pr", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--github-repo", "a/b"}, 2, "only apply with --pr"},
		{"bad github-repo", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--pr", "--git-token-file", "/dev/null", "--github-repo", "nope"}, 1, "--github-repo \"nope\""},
		{"empty token file", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--pr", "--git-token-file", "/dev/null", "--github-repo", "a/b"}, 1, "--git-token-file: /dev/null is empty"},
		{"missing components", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--components", "/nonexistent/x.yaml"}, 1, "--components"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.inStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.inStderr)
			}
		})
	}
}

// TestBootstrapCLICommit pushes the files to an env repo served over real git smart HTTP.
func TestBootstrapCLICommit(t *testing.T) {
	host, err := githost.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	components := []byte("# flux install --export\n")
	if _, err := host.Seed("env", map[string][]byte{
		"README.md": []byte("env repo\n"),
		"clusters/staging/flux-system/gotk-components.yaml": components,
		"clusters/staging/shop.yaml":                        []byte("# an app\n"),
	}, "seed"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(host)
	t.Cleanup(srv.Close)
	url := githost.URL(srv.URL, "env")
	ctx := context.Background()

	args := []string{"bootstrap", "--env-repo", url, "--env", "staging", "--commit", "--data-dir", t.TempDir()}
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	head, err := host.Head(ctx, "env", "main")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "committed "+head) {
		t.Errorf("stdout %q does not name the new head %s", stdout.String(), head)
	}

	reader, err := envrepo.Open(envrepo.Config{URL: url, Dir: filepath.Join(t.TempDir(), "check.git")})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := reader.ReadTree(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := bootstrap.Files(bootstrap.Options{RepoURL: url, Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	want["README.md"] = []byte("env repo\n")
	want["clusters/staging/flux-system/gotk-components.yaml"] = components
	want["clusters/staging/shop.yaml"] = []byte("# an app\n")
	if len(tree) != len(want) {
		t.Errorf("env repo holds %d files, want %d", len(tree), len(want))
	}
	for p, b := range want {
		if !bytes.Equal(tree[p], b) {
			t.Errorf("%s = %q, want %q", p, tree[p], b)
		}
	}
	log, err := reader.Log(ctx, 1)
	if err != nil || len(log) != 1 {
		t.Fatalf("log: %v %v", log, err)
	}
	if c := log[0]; c.Hash != head || len(c.Parents) != 1 || !strings.HasPrefix(c.Message, "bootstrap Flux for staging\n") {
		t.Errorf("head commit %+v, want one commit on the seed saying what it bootstraps", c)
	}

	// Again: nothing to change, no commit.
	stdout.Reset()
	args[len(args)-1] = t.TempDir()
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	again, err := host.Head(ctx, "env", "main")
	if err != nil {
		t.Fatal(err)
	}
	if again != head || !strings.Contains(stdout.String(), "nothing committed") {
		t.Errorf("second run moved main %s → %s (%q)", head, again, stdout.String())
	}
}

// TestBootstrapCLIPR proposes the files in a pull request: the env repo is served over real
// git smart HTTP and the GitHub stand-in answers the REST API, behind one server.
func TestBootstrapCLIPR(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gh, err := standin.New(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	host, err := githost.New(filepath.Join(dir, "git"), githost.WithOnPush(func(repo string, ups []githost.RefUpdate) {
		owner, name, _ := strings.Cut(repo, "/")
		for _, u := range ups {
			if b, ok := strings.CutPrefix(u.Name, "refs/heads/"); ok && u.New != githost.ZeroSHA {
				gh.BranchPushed(owner, name, b, u.New)
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	gh.HeadOf = func(owner, repo, branch string) (string, error) { return host.Head(ctx, owner+"/"+repo, branch) }
	gh.Merge = func(owner, repo, base, head, msg string) (string, error) {
		return host.Merge(owner+"/"+repo, base, head, msg)
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", host)
	mux.Handle("/api/v3/", gh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	gh.URL = srv.URL

	seedFiles := map[string][]byte{"README.md": []byte("env repo\n"), "clusters/staging/shop.yaml": []byte("# an app\n")}
	seed, err := host.Seed("acme/env", seedFiles, "seed")
	if err != nil {
		t.Fatal(err)
	}
	url := githost.URL(srv.URL, "acme/env")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("as:scorebot[bot]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const branch = "scorebot/bootstrap/staging"
	bootstrapPR := func(extra ...string) (string, string) {
		t.Helper()
		args := append([]string{"bootstrap", "--env-repo", url, "--env", "staging", "--pr",
			"--git-token-file", tokenFile, "--github-api-url", srv.URL + "/api/v3/", "--data-dir", t.TempDir()}, extra...)
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		t.Logf("bot %s:\n%s%s", strings.Join(extra, " "), stdout.String(), stderr.String())
		return stdout.String(), stderr.String()
	}
	reader, err := envrepo.Open(envrepo.Config{URL: url, Dir: filepath.Join(dir, "check.git")})
	if err != nil {
		t.Fatal(err)
	}
	// check says the env repo's branch holds the seed plus the files of opts, and the one
	// pull request is open from it with the title and body of opts, at its head.
	check := func(opts bootstrap.Options) (head string) {
		t.Helper()
		want, err := bootstrap.Files(opts)
		if err != nil {
			t.Fatal(err)
		}
		for p, b := range seedFiles {
			want[p] = b
		}
		tree, err := reader.ReadBranchTree(ctx, branch, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(tree) != len(want) {
			t.Errorf("%s holds %d files, want %d", branch, len(tree), len(want))
		}
		for p, b := range want {
			if !bytes.Equal(tree[p], b) {
				t.Errorf("%s: %s = %q, want %q", branch, p, tree[p], b)
			}
		}
		if head, err = host.Head(ctx, "acme/env", branch); err != nil {
			t.Fatal(err)
		}
		wantPR, err := bootstrap.PR(opts)
		if err != nil {
			t.Fatal(err)
		}
		prs := gh.PullRequests("acme", "env")
		if len(prs) != 1 {
			t.Fatalf("%d pull requests, want 1: %+v", len(prs), prs)
		}
		if pr := prs[0]; pr.State != "open" || pr.Head != branch || pr.Base != "main" || pr.HeadSHA != head ||
			pr.Title != wantPR.Title || pr.Body != wantPR.Body {
			t.Errorf("pull request %+v, want open from %s at %s into main with the title and body of bootstrap.PR", pr, branch, head)
		}
		return head
	}
	mainIs := func(want string) {
		t.Helper()
		if got, err := host.Head(ctx, "acme/env", "main"); err != nil || got != want {
			t.Errorf("main at %s (%v), want it untouched at %s", got, err, want)
		}
	}
	prURL := srv.URL + "/acme/env/pull/1"

	// The first run pushes one commit on main's head and opens the pull request.
	out, _ := bootstrapPR()
	if !strings.Contains(out, "opened pull request #1") || !strings.HasSuffix(out, prURL+"\n") {
		t.Errorf("stdout %q does not say it opened %s", out, prURL)
	}
	head := check(bootstrap.Options{RepoURL: url, Env: "staging"})
	mainIs(seed)
	onBranch, err := envrepo.Open(envrepo.Config{URL: url, Branch: branch, Dir: filepath.Join(dir, "branch.git")})
	if err != nil {
		t.Fatal(err)
	}
	if log, err := onBranch.Log(ctx, 1); err != nil || len(log) != 1 || log[0].Hash != head || len(log[0].Parents) != 1 ||
		log[0].Parents[0] != seed || !strings.HasPrefix(log[0].Message, "bootstrap Flux for staging\n") {
		t.Errorf("branch log %+v (%v), want one bootstrap commit %s on main's head %s", log, err, head, seed)
	}

	// Again, unchanged: nothing pushed, no second pull request.
	out, _ = bootstrapPR()
	if !strings.Contains(out, "pull request #1 is up to date") || !strings.Contains(out, "nothing pushed") || !strings.HasSuffix(out, prURL+"\n") {
		t.Errorf("second run: stdout %q, want up to date", out)
	}
	if again := check(bootstrap.Options{RepoURL: url, Env: "staging"}); again != head {
		t.Errorf("second run moved %s %s → %s", branch, head, again)
	}
	mainIs(seed)

	// Another interval: the same branch and pull request are updated.
	out, _ = bootstrapPR("--interval", "5m")
	if !strings.Contains(out, "updated pull request #1") || !strings.HasSuffix(out, prURL+"\n") {
		t.Errorf("third run: stdout %q, want the pull request updated", out)
	}
	updated := check(bootstrap.Options{RepoURL: url, Env: "staging", Interval: 5 * time.Minute})
	if updated == head {
		t.Errorf("%s not updated", branch)
	}
	mainIs(seed)

	// main moves on: the branch is built again on its new head, in the same pull request.
	seedFiles["clusters/staging/blog.yaml"] = []byte("# another app\n")
	moved, err := host.Commit(ctx, "acme/env", "main", seedFiles, "blog") // the whole tree of main
	if err != nil {
		t.Fatal(err)
	}
	out, _ = bootstrapPR("--interval", "5m")
	if !strings.Contains(out, "updated pull request #1") {
		t.Errorf("after main moved: stdout %q, want the pull request updated", out)
	}
	check(bootstrap.Options{RepoURL: url, Env: "staging", Interval: 5 * time.Minute})
	if log, err := onBranch.Log(ctx, 1); err != nil || len(log) != 1 || len(log[0].Parents) != 1 || log[0].Parents[0] != moved {
		t.Errorf("branch log %+v (%v), want one commit on main's new head %s", log, err, moved)
	}
	mainIs(moved)

	// Merged: main holds the files, so there is nothing to propose.
	fc, err := forge.New(forge.Config{BaseURL: srv.URL + "/api/v3/", Token: "as:octocat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.MergePR(ctx, forge.Repo{Owner: "acme", Name: "env"}, 1, forge.Merge{}); err != nil {
		t.Fatal(err)
	}
	merged, err := host.Head(ctx, "acme/env", "main")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut := bootstrapPR("--interval", "5m")
	if !strings.Contains(out, "no pull request needed") || strings.Contains(errOut, "note:") {
		t.Errorf("after the merge: stdout %q, stderr %q, want no pull request needed", out, errOut)
	}
	mainIs(merged)
	if prs := gh.PullRequests("acme", "env"); len(prs) != 1 || !prs[0].Merged {
		t.Errorf("pull requests after the merge: %+v, want the one, merged", prs)
	}
}
