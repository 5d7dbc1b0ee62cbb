package reliability

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// replicasJS raises the replica count of every stream and KV bucket created or updated
// through it to n. The pipeline calls events.EnsureStreams and creates its KV buckets
// without a replica count, which on a cluster scales the R3 streams the server made down to
// R1 (and puts its own buckets on one node): then stopping that one node stops intake and
// the workers. Until pipeline.Config takes the replica count (reported), the bot processes
// hand the pipeline this wrapper, as `bot serve` would hand it the configured count. Setting
// noWorkaroundEnv=1 runs the suite without it, to show the failure.
type replicasJS struct {
	jetstream.JetStream
	n int
}

const noWorkaroundEnv = "SCOREBOT_FAULT_NO_REPLICAS_WORKAROUND"

func (j replicasJS) stream(cfg jetstream.StreamConfig) jetstream.StreamConfig {
	cfg.Replicas = max(cfg.Replicas, j.n)
	return cfg
}

func (j replicasJS) kv(cfg jetstream.KeyValueConfig) jetstream.KeyValueConfig {
	cfg.Replicas = max(cfg.Replicas, j.n)
	return cfg
}

func (j replicasJS) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.JetStream.CreateStream(ctx, j.stream(cfg))
}

func (j replicasJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.JetStream.CreateOrUpdateStream(ctx, j.stream(cfg))
}

func (j replicasJS) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.JetStream.UpdateStream(ctx, j.stream(cfg))
}

func (j replicasJS) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.JetStream.CreateKeyValue(ctx, j.kv(cfg))
}

func (j replicasJS) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.JetStream.CreateOrUpdateKeyValue(ctx, j.kv(cfg))
}

func (j replicasJS) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.JetStream.UpdateKeyValue(ctx, j.kv(cfg))
}
