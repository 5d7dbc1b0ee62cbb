package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), []byte(got))
}

// fixtures is /work/shared/fixtures, resolved from the package dir (module root's sibling).
func fixtures(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "shared", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared fixtures not found beside the module: %v", err)
	}
	return p
}
