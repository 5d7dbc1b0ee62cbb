package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bot.yaml")
	if err := os.WriteFile(file, []byte("listen: file:1\ndata-dir: /file\nrole: workers\nverbose: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SCOREBOT_LISTEN": "env:1", "SCOREBOT_DATA_DIR": "/env"}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "default:1", "")
	dataDir := fs.String("data-dir", "/default", "")
	role := fs.String("role", "all", "")
	nats := fs.String("nats-url", "", "")
	verbose := fs.Bool("verbose", false, "")
	cfg := fs.String("config", "", "")
	if err := fs.Parse([]string{"--listen", "flag:1", "--config", file}); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := Apply(fs, "SCOREBOT", lookup, *cfg, "config"); err != nil {
		t.Fatal(err)
	}
	got := []string{*listen, *dataDir, *role, *nats}
	want := []string{"flag:1", "/env", "workers", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") || !*verbose {
		t.Fatalf("got %q verbose=%v, want %q verbose=true", got, *verbose, want)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, file, want string }{
		{"unknown key", "listen: x\nlisen: y\n", "unknown key(s) lisen"},
		{"config key", "config: other.yaml\n", "unknown key(s) config"},
		{"not a mapping", "- a\n- b\n", "YAML mapping"},
		{"nested value", "listen: {a: 1}\n", "key listen: want a string"},
		{"bad bool", "verbose: maybe\n", "key verbose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(file, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.String("listen", "", "")
			fs.Bool("verbose", false, "")
			fs.String("config", "", "")
			err := Apply(fs, "SCOREBOT", func(string) (string, bool) { return "", false }, file, "config")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), file) {
				t.Fatalf("error %v, want it to name %s and contain %q", err, file, tt.want)
			}
		})
	}
}
