package pipeline

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a job, the "outcome" label of scorebot_pipeline_jobs_total.
const (
	OutcomeDeployed   = "deployed"   // an env-repo commit was pushed
	OutcomeUnchanged  = "unchanged"  // rendered, nothing to commit
	OutcomeIgnored    = "ignored"    // not for the pipeline (other branch, deleted branch, no handler)
	OutcomeSuperseded = "superseded" // a newer push of the same branch is or was deployed
	OutcomeDeferred   = "deferred"   // part of a burst: delivered again once the burst settles
	OutcomeRetry      = "retry"      // transient failure, redelivered later
	OutcomeFailed     = "failed"     // permanent failure, or out of deliveries: dead-lettered
	OutcomeHandled    = "handled"    // a registered handler succeeded
)

type metrics struct {
	jobs       *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	superseded prometheus.Counter
	deadLetter *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorebot_pipeline_jobs_total",
			Help: "Jobs run by the pipeline, by event kind and outcome.",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scorebot_pipeline_job_duration_seconds",
			Help:    "Time from a job's start to its ack, nak or term, by event kind.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind"}),
		superseded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scorebot_pipeline_superseded_total",
			Help: "Pushes skipped because a newer push of the same branch is or was deployed.",
		}),
		deadLetter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scorebot_pipeline_dead_letters_total",
			Help: "Events given up on and published to the dead-letter stream, by reason.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.jobs, m.duration, m.superseded, m.deadLetter} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return nil, fmt.Errorf("register pipeline metrics: %w", err)
		}
	}
	return m, nil
}
