package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/envrepo"
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
		{"missing env", []string{"bootstrap", "--env-repo", "https://h/r"}, 2, "--env-repo and --env are required"},
		{"unknown flag", []string{"bootstrap", "--nope"}, 2, "flag provided but not defined"},
		{"extra arg", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "x"}, 2, `unexpected argument "x"`},
		{"bad url", []string{"bootstrap", "--env-repo", "git@github.com:a/b", "--env", "dev"}, 1, "http, https or ssh"},
		{"bad env", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "Prod"}, 1, "DNS label"},
		{"commit and out", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--commit", "--out", "x"}, 2, "exclude each other"},
		{"push-url without commit", []string{"bootstrap", "--env-repo", "https://h/r", "--env", "dev", "--push-url", "https://h/r"}, 2, "only apply with --commit"},
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
