package convert

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenFixtures converts every Score fixture, with invented outputs for its resources
// (see fakeOutputs), and compares the YAML (or the error) with testdata/golden.
func TestGoldenFixtures(t *testing.T) {
	dir := filepath.Join(fixturesDir, "score")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Score fixtures in %s: %v", dir, err)
	}
	for _, path := range files {
		base := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(base, func(t *testing.T) {
			w, err := loadFixture(t, path)
			if err != nil {
				// Not this package's concern, but recorded so a change is noticed.
				checkGolden(t, filepath.Join("testdata", "golden", base+".yaml"), []byte("load error: "+err.Error()+"\n"))
				return
			}
			in := Input{
				Name:      w.Metadata["name"].(string),
				File:      "score/" + filepath.Base(path),
				Spec:      w,
				AppID:     "demo",
				Env:       "development",
				Namespace: "demo-development",
				Outputs:   fakeOutputs(w),
			}
			got, objs, err := render(t, in)
			if err != nil {
				got = []byte("error: " + err.Error() + "\n")
			} else {
				checkObjects(t, objs, in.Namespace)
			}
			checkGolden(t, filepath.Join("testdata", "golden", base+".yaml"), got)

			again, _, _ := render(t, in)
			if err == nil && !bytes.Equal(got, again) {
				t.Error("a second conversion gave different bytes")
			}
		})
	}
}

func TestGoldenFilesAreUsed(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Skip(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml") + ".yaml"
		if _, err := os.Stat(filepath.Join(fixturesDir, "score", name)); err != nil {
			t.Errorf("golden file %s has no fixture; delete it", e.Name())
		}
	}
}
