package render

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// TestLoadScoreSchemaErrors: schema errors name the file and line, the field and the fix.
func TestLoadScoreSchemaErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown container field", "apiVersion: score.dev/v1b1\nmetadata:\n  name: web\ncontainers:\n  web:\n    image: nginx\n    variabels:\n      A: b\n",
			[]string{`score.yaml:7: containers.web.variabels: unknown field; did you mean "variables"? (allowed: image, command, args, variables, files, volumes, before, resources, livenessProbe, readinessProbe)`}},
		{"unknown top-level field", "apiVersion: score.dev/v1b1\nmetadata: {name: web}\nservise: {}\ncontainers: {web: {image: nginx}}\n",
			[]string{`score.yaml:3: servise: unknown field; did you mean "service"? (allowed: apiVersion, metadata, service, containers, resources)`}},
		{"unknown field with a comma and quote in its name", "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers: {web: {image: nginx}}\nresources:\n  db:\n    type: postgres\n    \"it's, ok\": 1\n",
			[]string{`score.yaml:7: resources.db.it's, ok: unknown field (allowed: type, class, id, metadata, params)`}},
		{"unknown field, no close match", "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers: {web: {image: nginx}}\nresources:\n  db:\n    type: postgres\n    zzzzzz: 1\n",
			[]string{`score.yaml:7: resources.db.zzzzzz: unknown field (allowed: type, class, id, metadata, params)`}},
		{"two problems", "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers:\n  web:\n    imag: nginx\n",
			[]string{"score.yaml does not match the Score schema",
				"\n  score.yaml:4: containers.web: missing properties: 'image'; add it",
				"\n  score.yaml:5: containers.web.imag: unknown field; did you mean \"image\"?"}},
		{"apiVersion", "apiVersion: score.dev/v2\nmetadata: {name: web}\ncontainers: {web: {image: nginx}}\n",
			[]string{"score.yaml:1: apiVersion: does not match pattern", "write apiVersion: score.dev/v1b1"}},
		{"file in a flow mapping", "apiVersion: score.dev/v1b1\nmetadata: {name: web}\ncontainers: {web: {image: nginx, files: {/etc/a: {contnt: x}}}}\n",
			[]string{`score.yaml:3: containers.web.files./etc/a.contnt: unknown field; did you mean "content"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadScore("score.yaml", []byte(tt.body), nil)
			if !errors.Is(err, ErrInvalidScore) {
				t.Fatalf("err = %v, want ErrInvalidScore", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.HasSuffix(err.Error(), ErrInvalidScore.Error()) {
				t.Errorf("error ends with the sentinel's text: %v", err)
			}
		})
	}
}
