package render

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadScore feeds arbitrary bytes to LoadScore: it must return a workload or an error
// wrapping ErrInvalidScore, never panic. Seeds: testdata/fuzz/FuzzLoadScore and the Score
// fixtures.
func FuzzLoadScore(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(fixturesDir, "*.yaml"))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
	readFile := func(rel string) ([]byte, error) {
		if rel == "bin" {
			return []byte{0xff, 0xfe, 0}, nil
		}
		return nil, fs.ErrNotExist
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := LoadScore("fuzz/score.yaml", data, readFile)
		if err != nil {
			if !errors.Is(err, ErrInvalidScore) {
				t.Fatalf("error does not wrap ErrInvalidScore: %v", err)
			}
			return
		}
		if w == nil || w.Metadata["name"] == nil {
			t.Fatal("no error and no workload name")
		}
		for _, c := range w.Containers {
			for _, file := range c.Files {
				if file.Source != nil {
					t.Fatal("files.source left unread")
				}
			}
		}
	})
}
