package events

import (
	"context"
	"net/http"
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
	if !in.recorded("lost-record") {
		t.Errorf("record not restored after the duplicate")
	}
}
