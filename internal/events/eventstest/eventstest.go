// Package eventstest gives the tests of packages that consume Scorebot's events a JetStream
// on the embedded nats-server, with the streams and bucket `bot serve` creates. It is for
// tests only: nothing outside a _test.go file imports it.
package eventstest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/events"
)

// JetStream starts an embedded nats-server storing under dir/nats, creates the event
// streams in it, and returns a JetStream client. The server is drained and shut down when
// the test ends.
func JetStream(t testing.TB, dir string) jetstream.JetStream {
	t.Helper()
	ns, nc, err := events.StartEmbedded(filepath.Join(dir, "nats"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := events.ShutdownEmbedded(ctx, ns, nc); err != nil {
			t.Logf("embedded nats-server shutdown: %v", err)
		}
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.EnsureStreams(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	return js
}
