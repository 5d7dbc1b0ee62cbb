package events

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retention of the JetStream assets (documented in nats/README.md).
const (
	// EventsMaxAge keeps events for replay and for consumers added later.
	EventsMaxAge = 7 * 24 * time.Hour
	// DuplicateWindow is the stream's Nats-Msg-Id window. It covers the gap between a
	// successful publish and its KV record (a KV write that failed after the publish); the
	// KV bucket covers the rest of GitHub's redelivery window.
	DuplicateWindow = 10 * time.Minute
	// DeliveriesTTL is how long a delivery id is remembered: GitHub lets a delivery be
	// redelivered for 3 days; a week leaves room.
	DeliveriesTTL = 7 * 24 * time.Hour
	// DLQMaxAge keeps dead letters long enough for a human to look.
	DLQMaxAge = 30 * 24 * time.Hour
)

// StreamOption changes how EnsureStreams configures the assets.
type StreamOption func(*streamOptions)

type streamOptions struct {
	replicas int
	storage  jetstream.StorageType
}

// WithReplicas sets the replica count of every stream and bucket (3 on a 3-node cluster).
func WithReplicas(n int) StreamOption {
	return func(o *streamOptions) { o.replicas = n }
}

// WithMemoryStorage keeps everything in memory (tests and benchmarks only).
func WithMemoryStorage() StreamOption {
	return func(o *streamOptions) { o.storage = jetstream.MemoryStorage }
}

// EventsStreamConfig is the definition of SCOREBOT_EVENTS.
func EventsStreamConfig(opts ...StreamOption) jetstream.StreamConfig {
	o := resolve(opts)
	return jetstream.StreamConfig{
		Name:        StreamEvents,
		Description: "GitHub webhook deliveries accepted by scorebot, one message per delivery",
		Subjects:    []string{SubjectAll},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      EventsMaxAge,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Discard:     jetstream.DiscardOld,
		Storage:     o.storage,
		Replicas:    o.replicas,
		Duplicates:  DuplicateWindow,
	}
}

// DLQStreamConfig is the definition of SCOREBOT_DLQ.
func DLQStreamConfig(opts ...StreamOption) jetstream.StreamConfig {
	o := resolve(opts)
	return jetstream.StreamConfig{
		Name:        StreamDLQ,
		Description: "scorebot events the workers gave up on (terminated or out of deliveries)",
		Subjects:    []string{DLQPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      DLQMaxAge,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Discard:     jetstream.DiscardOld,
		Storage:     o.storage,
		Replicas:    o.replicas,
	}
}

// DeliveriesBucketConfig is the definition of the scorebot-deliveries KV bucket.
func DeliveriesBucketConfig(opts ...StreamOption) jetstream.KeyValueConfig {
	o := resolve(opts)
	return jetstream.KeyValueConfig{
		Bucket:      BucketDeliveries,
		Description: "GitHub delivery ids already stored on " + StreamEvents,
		History:     1,
		TTL:         DeliveriesTTL,
		Storage:     o.storage,
		Replicas:    o.replicas,
	}
}

func resolve(opts []StreamOption) streamOptions {
	o := streamOptions{replicas: 1, storage: jetstream.FileStorage}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// EnsureStreams creates SCOREBOT_EVENTS, SCOREBOT_DLQ and the scorebot-deliveries bucket,
// or updates them to the definitions above; running it again changes nothing.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, opts ...StreamOption) error {
	for _, cfg := range []jetstream.StreamConfig{EventsStreamConfig(opts...), DLQStreamConfig(opts...)} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("create or update stream %s: %w", cfg.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, DeliveriesBucketConfig(opts...)); err != nil {
		return fmt.Errorf("create or update KV bucket %s: %w", BucketDeliveries, err)
	}
	return nil
}
