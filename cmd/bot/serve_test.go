package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the server's log lines from its goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestServeFromConfigFile starts `bot serve` with its settings split over a config file, the
// environment and flags, posts a signed push, and stops it with a cancelled context.
func TestServeFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + freePort(t)
	cfg := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:1\ndata-dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SCOREBOT_WEBHOOK_SECRET_FILE", secretFile)
	t.Setenv("SCOREBOT_LISTEN", "127.0.0.1:2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, []string{"--config", cfg, "--listen", addr}, &stderr, &stderr) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", stderr.String())
		}
	}
	body, err := os.ReadFile("../../../shared/fixtures/github-webhooks/supplementary-drone-go-scm/push/push.json")
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "serve-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook status %d\n%s", resp.StatusCode, stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	logs := stderr.String()
	if !strings.Contains(logs, `"delivery":"serve-1"`) || strings.Contains(logs, "s3cret") || strings.Contains(logs, `"zen"`) {
		t.Fatalf("logs must name the delivery and hold neither secret nor body:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "nats", "jetstream")); err != nil {
		t.Fatalf("embedded store not under the configured data dir: %v", err)
	}
}

func TestServeRefusesWithoutSecret(t *testing.T) {
	t.Setenv("SCOREBOT_WEBHOOK_SECRET_FILE", "")
	os.Unsetenv("SCOREBOT_WEBHOOK_SECRET_FILE")
	var out bytes.Buffer
	err := runServe(context.Background(), []string{"--data-dir", t.TempDir()}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--webhook-secret-file") {
		t.Fatalf("serve without a secret: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	err = runServe(context.Background(), []string{"--webhook-secret-file", empty}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("serve with an empty secret: %v", err)
	}
	// A mistyped role is named as such, not reported as a missing secret.
	err = runServe(context.Background(), []string{"--role", "worker"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), `--role "worker": want all, webhooks or workers`) {
		t.Fatalf("serve with --role worker: %v", err)
	}
	if err := runServe(context.Background(), []string{"--bogus"}, &out, &out); !errors.Is(err, errUsage) {
		t.Fatalf("bad flag: %v", err)
	}
}
