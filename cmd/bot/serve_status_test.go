package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getBody GETs url and returns its body, failing the test on anything but 200.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// getJSONFrom GETs url and decodes its JSON body into v.
func getJSONFrom(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getBody(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestServeStatusPageNeedsWorkers: SCOREBOT_STATUS_PAGE on a process without workers (no
// --rules-url) is said in the log and serves no page; without the setting there is none either.
func TestServeStatusPageNeedsWorkers(t *testing.T) {
	for _, tt := range []struct {
		name, env string
		warns     bool
	}{
		{"off", "", false},
		{"on without workers", "true", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "secret")
			if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SCOREBOT_STATUS_PAGE", tt.env)
			if tt.env == "" {
				os.Unsetenv("SCOREBOT_STATUS_PAGE")
			}
			addr := "127.0.0.1:" + freePort(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stderr syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- runServe(ctx, []string{"--listen", addr, "--data-dir", filepath.Join(dir, "data"), "--webhook-secret-file", secretFile}, &stderr, &stderr)
			}()
			waitServeReady(t, addr, done, &stderr)
			resp, err := http.Get("http://" + addr + "/status")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("/status: %d, want 404", resp.StatusCode)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v", err)
			}
			if got := strings.Contains(stderr.String(), "--status-page ignored"); got != tt.warns {
				t.Errorf("log says --status-page ignored: %v, want %v\n%s", got, tt.warns, stderr.String())
			}
		})
	}
}
