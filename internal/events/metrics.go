package events

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the intake's Prometheus instruments, registered on the registry given to
// NewMetrics (never the global default one).
type Metrics struct {
	// Webhooks counts requests by event ("other" for names we do not know) and outcome.
	Webhooks *prometheus.CounterVec
	// PublishSeconds is the time from JetStream publish to PubAck.
	PublishSeconds prometheus.Histogram
	// DedupeHits counts redeliveries not published again, by where they were caught:
	// "kv" (the deliveries bucket) or "stream" (the stream's Nats-Msg-Id window).
	DedupeHits *prometheus.CounterVec
	// SignatureFailures counts 401s by reason: missing, sha1_only, not_sha256, invalid.
	SignatureFailures *prometheus.CounterVec
	// RecordFailures counts stored deliveries whose scorebot-deliveries record was not
	// acknowledged (written after the 202, without waiting). Such a delivery is on the
	// stream; a redelivery within the stream's duplicate window is still caught there.
	RecordFailures prometheus.Counter
}

// NewMetrics creates the instruments and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorebot_webhooks_total",
			Help: "GitHub webhook requests by event and outcome.",
		}, []string{"event", "outcome"}),
		PublishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scorebot_webhook_publish_seconds",
			Help:    "Time from JetStream publish to PubAck for accepted webhooks.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		DedupeHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorebot_webhook_dedupe_hits_total",
			Help: "Redelivered webhooks not published again, by where the duplicate was caught.",
		}, []string{"source"}),
		SignatureFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorebot_webhook_signature_failures_total",
			Help: "Webhook requests refused with 401, by reason.",
		}, []string{"reason"}),
		RecordFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scorebot_webhook_record_failures_total",
			Help: "Stored webhooks whose delivery record in the KV bucket was not acknowledged.",
		}),
	}
	reg.MustRegister(m.Webhooks, m.PublishSeconds, m.DedupeHits, m.SignatureFailures, m.RecordFailures)
	return m
}
