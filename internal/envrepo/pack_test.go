package envrepo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a pack write cut short leaves (a full disk: found by internal/reliability's
// TestDiskFull/data_dir) is removed after the failed fetch; whole packs stay.
func TestDropUnfinishedPacks(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"pack-aa.pack", "pack-aa.idx", "pack-bb.idx", "tmp_pack_123", "pack-cc.pack", "other"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	dropUnfinishedPacks(dir)
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
}
