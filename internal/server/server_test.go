package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/events"
)

const pushFixture = "../../../shared/fixtures/github-webhooks/supplementary-drone-go-scm/push/push.json"

var secret = []byte("server-test-secret")

// running is a Server in a goroutine; stop cancels it and returns Run's error.
type running struct {
	srv  *Server
	stop func() error
}

func start(t *testing.T, dir string, workers func(context.Context, jetstream.JetStream) error) *running {
	t.Helper()
	return startConfig(t, Config{Secret: secret, DataDir: dir}, workers)
}

// startConfig runs a Server with cfg (listening on loopback; DataDir a new temp dir unless
// given) and workers until the test ends or stop is called.
func startConfig(t *testing.T, cfg Config, workers func(context.Context, jetstream.JetStream) error) *running {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Workers = workers
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server not ready after 30s")
	}
	r := &running{srv: s}
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.srv.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) postPush(t *testing.T, delivery string) int {
	t.Helper()
	body, err := os.ReadFile(pushFixture)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.srv.Addr()+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeWebhookToWorker(t *testing.T) {
	dir := t.TempDir()
	got := make(chan *events.Envelope, 1)
	workers := func(ctx context.Context, js jetstream.JetStream) error {
		c, err := js.CreateOrUpdateConsumer(ctx, events.StreamEvents, jetstream.ConsumerConfig{Durable: "test", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			return err
		}
		cc, err := c.Consume(func(msg jetstream.Msg) {
			env, err := events.DecodeEnvelope(msg.Data())
			if err == nil {
				_ = msg.Ack()
				got <- env
			}
		})
		if err != nil {
			return err
		}
		<-ctx.Done()
		cc.Stop()
		return nil
	}
	r := start(t, dir, workers)
	if code, _ := r.get(t, "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := r.get(t, "/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	if code := r.postPush(t, "srv-1"); code != http.StatusAccepted {
		t.Fatalf("webhook %d", code)
	}
	select {
	case env := <-got:
		if env.Event.Delivery != "srv-1" || env.Event.Repo != "Codertocat/Hello-World" || env.Event.Branch != "master" {
			t.Fatalf("worker got %+v", env.Event)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker got nothing")
	}
	_, metrics := r.get(t, "/metrics")
	if !strings.Contains(metrics, `scorebot_webhooks_total{event="push",outcome="accepted"} 1`) {
		t.Fatalf("metrics lack the accepted push:\n%s", metrics)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Same data dir: the delivery is remembered and the message is still there.
	r = start(t, dir, nil)
	if code := r.postPush(t, "srv-1"); code != http.StatusAccepted {
		t.Fatalf("redelivery after restart %d", code)
	}
	ctx := context.Background()
	s, err := r.srv.JetStream().Stream(ctx, events.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after restart, want 1", info.State.Msgs)
	}
}

func TestNewRefusesWithoutSecret(t *testing.T) {
	if _, err := New(Config{DataDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "--webhook-secret-file") {
		t.Fatalf("New without secret: %v", err)
	}
	if _, err := New(Config{DataDir: t.TempDir(), Role: RoleWorkers}); err != nil {
		t.Fatalf("workers need no secret: %v", err)
	}
	if _, err := New(Config{Secret: secret, DataDir: t.TempDir(), Role: "both"}); err == nil {
		t.Fatal("bad role accepted")
	}
}
