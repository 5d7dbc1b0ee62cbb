package envrepo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corruptObjects overwrites every object file of the local clone at dir.
func corruptObjects(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".keep") {
			return err
		}
		n++
		return os.WriteFile(p, []byte("this is not a git object"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A damaged local clone is only a cache of the server: writes and reads clone afresh instead
// of failing until the job gives up.
func TestCorruptedCloneIsClonedAfresh(t *testing.T) {
	e := newEnv(t, map[string][]byte{"README.md": []byte("env\n")})
	ctx := context.Background()
	var dir string
	r := openRepo(t, e.url, func(c *Config) { dir = c.Dir })
	v1 := Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v1")}}
	if _, err := r.Apply(ctx, msg("shop v1"), v1); err != nil {
		t.Fatal(err)
	}
	if n := corruptObjects(t, dir); n == 0 {
		t.Fatal("no object to corrupt")
	}
	got, err := r.ReadTree(ctx, "apps/shop")
	if err != nil {
		t.Fatalf("read after corruption: %v", err)
	}
	if string(got["apps/shop/d.yaml"]) != "v1" {
		t.Fatalf("read %q, want v1", got["apps/shop/d.yaml"])
	}

	corruptObjects(t, dir)
	v2 := Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v2")}}
	res, err := r.Apply(ctx, msg("shop v2"), v2)
	if err != nil || !res.Changed {
		t.Fatalf("apply after corruption: %+v %v", res, err)
	}
	assertFiles(t, e.files(t, "main"), map[string]string{"README.md": "env", "apps/shop/d.yaml": "v2"})

	corruptObjects(t, dir)
	// A fresh clone is shallow, and Log stops at its boundary: the head is what matters.
	log, err := r.Log(ctx, 10)
	if err != nil || len(log) == 0 || log[0].Hash != res.Commit {
		t.Fatalf("log after corruption: %+v, %v; want head %s", log, err, res.Commit)
	}
}

// A push the server refuses (here a declining pre-receive hook; a server whose disk is full
// answers "unpack error" the same way) is the server's doing: retried, and the local clone
// kept, not removed and cloned afresh on every attempt.
func TestServerRefusalKeepsTheClone(t *testing.T) {
	e := newEnv(t, map[string][]byte{"README.md": []byte("env\n")})
	ctx := context.Background()
	var dir string
	var logs bytes.Buffer
	r := openRepo(t, e.url, func(c *Config) {
		dir, c.MaxAttempts = c.Dir, 3
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	v1 := Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v1")}}
	if _, err := r.Apply(ctx, msg("shop v1"), v1); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "scorebot-test-marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(e.host.Dir("env"), "hooks", "pre-receive")
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho refused >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	v2 := Change{Owned: []string{"apps/shop"}, Files: map[string][]byte{"apps/shop/d.yaml": []byte("v2")}}
	if _, err := r.Apply(ctx, msg("shop v2"), v2); !errors.Is(err, ErrPushFailed) {
		t.Fatalf("apply while the server refuses: %v, want ErrPushFailed", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the local clone was removed for the server's refusal: %v\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), "cloning afresh") {
		t.Fatalf("healed the clone for the server's refusal:\n%s", logs.String())
	}
	if err := os.Remove(hook); err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(ctx, msg("shop v2"), v2)
	if err != nil || !res.Changed || res.Attempts != 1 {
		t.Fatalf("apply once the server accepts: %+v %v", res, err)
	}
	assertFiles(t, e.files(t, "main"), map[string]string{"README.md": "env", "apps/shop/d.yaml": "v2"})
}
