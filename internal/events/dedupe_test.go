package events

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestConcurrentRedeliveries posts one delivery from many clients at once: every reply is a
// 2xx and the stream holds it once.
func TestConcurrentRedeliveries(t *testing.T) {
	in := newIntake(t, newEmbeddedBackend(t).Conn())
	f := loadFixtures(t)[len(loadFixtures(t))-1]
	const clients = 8
	codes := make(chan int, clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- in.postNoFatal(f.Event, "concurrent-1", f.Body)
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("status %d, want 202", c)
		}
	}
	if got := in.stored(); len(got) != 1 {
		t.Fatalf("stored %v, want one message", got)
	}
}

// TestLostKVRecordCaughtByStreamWindow: a publish whose KV record is missing (the KV write
// failed after the PubAck) is still not published twice within the stream's window.
func TestLostKVRecordCaughtByStreamWindow(t *testing.T) {
	in := newIntake(t, newEmbeddedBackend(t).Conn())
	f := loadFixtures(t)[len(loadFixtures(t))-1]
	if got := in.post(f.Event, "lost-record", f.Body, nil); got != http.StatusAccepted {
		t.Fatalf("status %d", got)
	}
	in.waitRecorded("lost-record")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := in.js.KeyValue(ctx, BucketDeliveries)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, "lost-record"); err != nil {
		t.Fatal(err)
	}
	if got := in.post(f.Event, "lost-record", f.Body, nil); got != http.StatusAccepted {
		t.Fatalf("redelivery status %d", got)
	}
	if got := in.stored(); len(got) != 1 {
		t.Fatalf("stored %v, want one message", got)
	}
	if n := counterValue(in.metrics.DedupeHits.WithLabelValues("stream")); n != 1 {
		t.Errorf("stream dedupe hits = %v, want 1", n)
	}
	in.waitRecorded("lost-record") // restored after the duplicate
}

// TestRecordFailureCountedAndCoveredByWindow: when the delivery record cannot be written
// (here the bucket refuses new messages), the webhook is still stored and answered 202, the
// failure is counted, and a redelivery is caught by the stream's window: stored once.
func TestRecordFailureCountedAndCoveredByWindow(t *testing.T) {
	in := newIntake(t, newEmbeddedBackend(t).Conn())
	f := loadFixtures(t)[len(loadFixtures(t))-1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := in.js.Stream(ctx, "KV_"+BucketDeliveries)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = 1 // the bucket already discards new messages past its limits
	if _, err := in.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if got := in.post(f.Event, "fills-bucket", f.Body, nil); got != http.StatusAccepted {
		t.Fatalf("status %d", got)
	}
	in.waitRecorded("fills-bucket")
	for i := 0; i < 2; i++ {
		if got := in.post(f.Event, "unrecorded", f.Body, nil); got != http.StatusAccepted {
			t.Fatalf("post %d: status %d", i, got)
		}
		want := float64(i + 1)
		waitFor(t, "record failure counted", func() bool { return counterValue(in.metrics.RecordFailures) == want })
	}
	if got := in.stored(); len(got) != 2 || got[1] != "unrecorded" {
		t.Fatalf("stored %v, want fills-bucket and unrecorded once", got)
	}
	if n := counterValue(in.metrics.DedupeHits.WithLabelValues("stream")); n != 1 {
		t.Errorf("stream dedupe hits = %v, want 1", n)
	}
	if in.recorded("unrecorded") {
		t.Errorf("record written despite the full bucket")
	}
}

// TestRecordWithoutConn: a handler given only a JetStream (no *nats.Conn) writes the record
// with a KV put before answering, so it is there when the 202 arrives.
func TestRecordWithoutConn(t *testing.T) {
	in := newIntake(t, newEmbeddedBackend(t).Conn())
	h, err := NewHandler(HandlerConfig{Secret: testSecret, JetStream: in.js, Metrics: in.metrics, PublishTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	in.srv = srv
	f := loadFixtures(t)[len(loadFixtures(t))-1]
	for i := 0; i < 2; i++ {
		if got := in.post(f.Event, "no-conn", f.Body, nil); got != http.StatusAccepted {
			t.Fatalf("post %d: status %d", i, got)
		}
		if !in.recorded("no-conn") {
			t.Fatalf("post %d: not recorded when the 202 came", i)
		}
	}
	if got := in.stored(); len(got) != 1 {
		t.Fatalf("stored %v, want one message", got)
	}
	if n := counterValue(in.metrics.DedupeHits.WithLabelValues("kv")); n != 1 {
		t.Errorf("kv dedupe hits = %v, want 1", n)
	}
}
