package events

import (
	"bytes"
	"context"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzHandler: random headers and bodies never panic, and nothing without a valid
// X-Hub-Signature-256 is ever stored. sign=true signs the body properly so the fuzzer also
// reaches normalisation and publishing.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"zen":"hi","hook_id":1}`), "ping", "d-1", "application/json", "", true)
	f.Add([]byte(`{"ref":"refs/heads/main","repository":{"full_name":"a/b"}}`), "push", "d-2", "application/json", "", true)
	f.Add([]byte(`{"ref":"refs/heads/main","repository":{"full_name":"a/b"}}`), "push", "d-3", "application/json", "sha256=00", false)
	f.Add([]byte(`payload=%7B%7D`), "push", "d-4", "application/x-www-form-urlencoded", "", true)
	f.Add([]byte(`{"action":"opened","number":1}`), "pull_request", "d-5", "application/json; charset=utf-8", "sha1=abcd", false)

	ns, nc, err := StartEmbedded(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer func() { _ = ShutdownEmbedded(context.Background(), ns, nc) }()
	js, err := jetstream.New(nc)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	if err := EnsureStreams(ctx, js, WithMemoryStorage()); err != nil {
		f.Fatal(err)
	}
	h, err := NewHandler(HandlerConfig{Secret: testSecret, JetStream: js, Conn: nc, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		f.Fatal(err)
	}
	count := func(t *testing.T) uint64 {
		s, err := js.Stream(ctx, StreamEvents)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	f.Fuzz(func(t *testing.T, body []byte, event, delivery, contentType, sig string, sign bool) {
		before := count(t)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", delivery)
		if sign {
			req.Header.Set("X-Hub-Signature-256", sign256(testSecret, body))
		} else if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after := count(t)
		if !sign && sig != sign256(testSecret, body) {
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("unsigned request answered %d", rec.Code)
			}
			if after != before {
				t.Fatalf("unsigned request stored (stream %d -> %d)", before, after)
			}
		}
		if rec.Code >= 200 && rec.Code < 300 && rec.Code != http.StatusOK && rec.Code != http.StatusAccepted {
			t.Fatalf("unexpected 2xx %d", rec.Code)
		}
		if after > before && rec.Code != http.StatusAccepted {
			t.Fatalf("stored but answered %d", rec.Code)
		}
	})
}
