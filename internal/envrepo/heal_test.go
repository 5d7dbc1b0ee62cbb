package envrepo

import (
	"context"
	"io/fs"
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
