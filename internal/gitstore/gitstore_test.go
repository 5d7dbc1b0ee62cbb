package gitstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// What a pack write cut short leaves (a full disk: found by internal/reliability's
// TestDiskFull/data_dir) is removed after the failed fetch; whole packs stay.
func TestDropUnfinishedPacks(t *testing.T) {
	git := t.TempDir()
	dir := filepath.Join(git, "objects", "pack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pack-aa.pack", "pack-aa.idx", "pack-bb.idx", "tmp_pack_123", "pack-cc.pack", "other"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	DropUnfinishedPacks(git)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if want := "other pack-aa.idx pack-aa.pack pack-cc.pack"; strings.Join(got, " ") != want {
		t.Fatalf("left %v, want %s", got, want)
	}
	DropUnfinishedPacks(filepath.Join(git, "missing")) // no store: nothing to do, no panic
}

func TestElsewhere(t *testing.T) {
	full := &fs.PathError{Op: "write", Path: "objects/pack/tmp_pack_1", Err: syscall.ENOSPC}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"full disk", fmt.Errorf("fetch: %w", full), true},
		{"permission", &fs.PathError{Op: "open", Path: "HEAD", Err: syscall.EACCES}, true},
		{"connection refused", &url.Error{Op: "Get", URL: "http://127.0.0.1:1/x", Err: syscall.ECONNREFUSED}, true},
		{"a request that found no file", &url.Error{Op: "Get", URL: "http://127.0.0.1:1/x", Err: syscall.ENOENT}, true},
		{"4xx without a sentinel", errors.New("unexpected client error: unexpected requesting \"x\" status code: 418"), true},
		{"missing object", fmt.Errorf("read: %w", plumbing.ErrObjectNotFound), false},
		{"a file of the store gone", &fs.PathError{Op: "open", Path: "objects/pack/pack-aa.pack", Err: syscall.ENOENT}, false},
		{"bad pack", fmt.Errorf("fetch: %w", packfile.ErrInvalidObject), false},
		{"cancelled", context.Canceled, false},
	}
	for _, tt := range tests {
		if got := Elsewhere(tt.err); got != tt.want {
			t.Errorf("%s: Elsewhere(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
