package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/events"
)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitUntil polls cond until it holds, failing after a bounded deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a bounded wait
	}
}

// JetStream disabled under the running process (what nats-server does on some out-of-space
// paths: "JetStream out of resources, will be DISABLED") is noticed and restarted on the same
// store: the event stored before is kept and new webhooks are accepted, with no restart of
// the process. The stream write error of a full disk is TestDiskFull/nats_store's.
func TestStoreRestartedAfterJetStreamStops(t *testing.T) {
	logs := &syncBuffer{}
	r := startConfig(t, Config{Secret: secret, StoreCheckInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}, nil)
	s := r.srv
	if code := r.postPush(t, "store-1"); code != http.StatusAccepted {
		t.Fatalf("webhook before: %d", code)
	}

	limits := s.embedded.Load().JetStreamConfig()
	if err := s.embedded.Load().ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stopped JetStream to be reported", func() bool {
		return strings.Contains(logs.String(), "embedded NATS store cannot store events")
	})
	waitUntil(t, "JetStream to be restarted", func() bool {
		return strings.Contains(logs.String(), "JetStream restarted on the embedded store")
	})
	waitUntil(t, "/readyz to answer 200", func() bool {
		code, _ := r.get(t, "/readyz")
		return code == http.StatusOK
	})
	if got := s.embedded.Load().JetStreamConfig(); got == nil || got.MaxStore != limits.MaxStore || got.MaxMemory != limits.MaxMemory || got.StoreDir != limits.StoreDir {
		t.Fatalf("JetStream restarted with %+v, want the limits and store of %+v", got, limits)
	}
	if code := r.postPush(t, "store-2"); code != http.StatusAccepted {
		t.Fatalf("webhook after the restart: %d", code)
	}
	st, err := s.JetStream().Stream(context.Background(), events.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want the one from before and the one after", info.State.Msgs)
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "cannot store events") {
			if !strings.Contains(l, "JetStream not enabled") {
				t.Errorf("the log line does not name the cause: %s", l)
			}
			t.Logf("operator sees: %s", l)
			break
		}
	}
}
