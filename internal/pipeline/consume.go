package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/events"
)

// Headers set on a dead-lettered message besides the original ones.
const (
	HeaderDLQReason    = "Scorebot-DLQ-Reason"
	HeaderDLQSeq       = "Scorebot-DLQ-Stream-Seq"
	HeaderDLQDelivered = "Scorebot-DLQ-Delivered"
)

// busyDelay is how long a job waits, on its n-th delivery, for a repo another job holds the
// lease of: short at first (the other job is usually about to finish), doubling up to the
// lease's lifetime. A lease left by a process that died lives LeaseTTL, so the deliveries a
// message has (MaxDeliver) must outlast it: with the defaults they span about two minutes.
func (p *Pipeline) busyDelay(n uint64) time.Duration {
	d := 500 * time.Millisecond
	for i := uint64(1); i < n && d < p.cfg.LeaseTTL; i++ {
		d *= 2
	}
	return min(d, p.cfg.LeaseTTL)
}

// ConsumerConfig is the durable consumer the workers pull from.
func (p *Pipeline) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "scorebot workers: deploy, re-render, previews, promotion",
		FilterSubject: events.SubjectAll,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.AckWait,
		MaxDeliver:    p.cfg.MaxDeliver,
		MaxAckPending: p.cfg.MaxAckPending,
	}
}

// setupRetrying runs setup until it succeeds or ctx ends: on a cluster that is still forming
// (or has lost a node) creating streams and buckets fails for a while, and a bot that gave up
// would take its intake down with it.
func (p *Pipeline) setupRetrying(ctx context.Context, js jetstream.JetStream) error {
	backoff := 250 * time.Millisecond
	for {
		err := p.setup(ctx, js)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		p.cfg.Logger.Warn("pipeline setup failed, retrying", "err", err, "in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// setup creates or updates the streams, the consumer's KV buckets and binds them, every one
// with Config.Replicas copies (a stream updated here with fewer replicas than the server gave
// it would lose messages when a node goes down).
func (p *Pipeline) setup(ctx context.Context, js jetstream.JetStream) error {
	if err := events.EnsureStreams(ctx, js, events.WithReplicas(p.cfg.Replicas)); err != nil {
		return err
	}
	locks, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketLocks,
		Description: "per-repo leases of scorebot workers (expire unless renewed)",
		History:     1,
		TTL:         p.cfg.LeaseTTL,
		Replicas:    p.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create or update KV bucket %s: %w", BucketLocks, err)
	}
	deployed, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketDeployed,
		Description: "last event deployed per repo, branch and environment",
		History:     1,
		Replicas:    p.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create or update KV bucket %s: %w", BucketDeployed, err)
	}
	p.js, p.locks, p.deployed = js, locks, deployed
	return nil
}

// pullExpiry is how long one pull request of the consumer waits on the server.
const pullExpiry = 5 * time.Second

// Run consumes SCOREBOT_EVENTS with Config.Workers workers until ctx is done, then stops
// pulling, hands back the jobs not started (nak, so another process takes them at once) and
// waits for the running ones and every goroutine it started.
func (p *Pipeline) Run(ctx context.Context, js jetstream.JetStream) error {
	if err := p.setupRetrying(ctx, js); err != nil {
		return err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamEvents, p.ConsumerConfig())
	if err != nil {
		return fmt.Errorf("create or update consumer %s: %w", ConsumerName, err)
	}
	// Pull requests expire after pullExpiry, with heartbeats at half of it: when the server
	// loses the pending pulls (JetStream restarted on its store, a node restarted), the
	// client misses two heartbeats and pulls again within about pullExpiry, not nats.go's
	// default 30 s.
	it, err := cons.Messages(jetstream.PullMaxMessages(min(p.cfg.MaxAckPending, 256)), jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return fmt.Errorf("consume %s: %w", events.StreamEvents, err)
	}
	stopIter := context.AfterFunc(ctx, it.Stop)
	defer stopIter()

	queues := make([]chan *Job, p.cfg.Workers)
	var waiting waitingJobs
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan *Job, p.cfg.MaxAckPending)
		q := queues[i]
		wg.Go(func() {
			for job := range q {
				waiting.remove(job)
				p.work(ctx, job)
			}
		})
	}
	stopKeepAlive := make(chan struct{})
	wg.Go(func() { waiting.keepAlive(p.cfg.AckWait/3, stopKeepAlive) })
	defer func() {
		for _, q := range queues {
			close(q)
		}
		close(stopKeepAlive)
		wg.Wait()
	}()
	p.log.Info("pipeline running", "workers", p.cfg.Workers, "consumer", ConsumerName)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			p.log.Warn("pull from "+events.StreamEvents, "err", err)
			continue
		}
		job, err := p.decode(msg)
		if err != nil {
			p.log.Error("undecodable event", "subject", msg.Subject(), "err", err)
			p.deadLetter(job, err)
			_ = msg.Term()
			continue
		}
		waiting.add(job)
		select {
		case queues[partition(job.Event.Repo, len(queues))] <- job:
		case <-ctx.Done():
			_ = msg.Nak()
			return nil
		}
	}
}

// waitingJobs are jobs pulled but not started: their ack deadline is extended too, so a
// worker busy with a long job does not cause redeliveries of the ones queued behind it.
type waitingJobs struct {
	mu   sync.Mutex
	jobs map[*Job]struct{}
}

func (w *waitingJobs) add(j *Job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.jobs == nil {
		w.jobs = map[*Job]struct{}{}
	}
	w.jobs[j] = struct{}{}
}

func (w *waitingJobs) remove(j *Job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.jobs, j)
}

func (w *waitingJobs) keepAlive(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.mu.Lock()
			for j := range w.jobs {
				j.InProgress()
			}
			w.mu.Unlock()
		}
	}
}

// partition puts every event of one repo on the same worker.
func partition(repo string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(repo)))
	return int(h.Sum32() % uint32(n))
}

func (p *Pipeline) decode(msg jetstream.Msg) (*Job, error) {
	job := &Job{Subject: msg.Subject(), msg: msg, Log: p.log}
	if meta, err := msg.Metadata(); err == nil {
		job.Seq, job.Delivered, job.Stored = meta.Sequence.Stream, meta.NumDelivered, meta.Timestamp
	}
	env, err := events.DecodeEnvelope(msg.Data())
	if err != nil {
		return job, Permanent(err)
	}
	job.Envelope, job.Event = env, &env.Event
	job.Log = p.log.With("delivery", env.Event.Delivery, "kind", env.Event.Kind, "repo", env.Event.Repo, "seq", job.Seq)
	return job, nil
}

// work runs one job and settles its message: ack on success, term and dead-letter on a
// permanent failure or the last delivery, nak with backoff otherwise.
func (p *Pipeline) work(ctx context.Context, job *Job) {
	kind := job.Event.Kind
	if ctx.Err() != nil {
		_ = job.msg.Nak() // shutting down: let another process take it now
		return
	}
	start := time.Now()
	stopKeepAlive := p.keepAlive(job)
	outcome, err := p.handle(ctx, job)
	stopKeepAlive()
	if errors.Is(err, errCrash) {
		return
	}
	log := job.Log
	var deferred errDefer
	switch {
	case errors.As(err, &deferred):
		_ = job.msg.NakWithDelay(deferred.delay)
		outcome = OutcomeDeferred
		log.Debug("push deferred until its burst settles", "delay", deferred.delay)
	case err == nil:
		if aerr := ackSync(job.msg); aerr != nil {
			log.Warn("ack failed: the event will be redelivered (and find its work done)", "err", aerr)
		}
		log.Info("job done", "outcome", outcome, "seconds", time.Since(start).Seconds())
	case ctx.Err() != nil:
		_ = job.msg.Nak()
		outcome = OutcomeRetry
		log.Info("job interrupted by shutdown, handed back", "err", err)
	case errors.Is(err, errBusy) && job.Delivered < uint64(p.cfg.MaxDeliver):
		_ = job.msg.NakWithDelay(p.busyDelay(job.Delivered))
		outcome = OutcomeRetry
		log.Debug("repo busy elsewhere, retrying", "err", err)
	case IsPermanent(err):
		outcome = OutcomeFailed
		log.Error("job failed", "err", err)
		p.deadLetter(job, err)
		_ = job.msg.Term()
	case job.Delivered >= uint64(p.cfg.MaxDeliver):
		outcome = OutcomeFailed
		log.Error("job failed on its last delivery", "deliveries", job.Delivered, "err", err)
		p.deadLetter(job, fmt.Errorf("gave up after %d deliveries: %w", job.Delivered, err))
		_ = job.msg.Term()
	default:
		delay := p.cfg.Backoff(int(job.Delivered))
		outcome = OutcomeRetry
		log.Warn("job failed, retrying", "err", err, "delivery", job.Delivered, "retry_in", delay)
		_ = job.msg.NakWithDelay(delay)
	}
	p.metrics.jobs.WithLabelValues(kind, outcome).Inc()
	p.metrics.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// errCrash is returned by the test hook path: the worker leaves the message unsettled.
var errCrash = errors.New("simulated crash")

func ackSync(msg jetstream.Msg) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return msg.DoubleAck(ctx)
}

// keepAlive extends the ack deadline while the job runs.
func (p *Pipeline) keepAlive(job *Job) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				job.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// deadLetter publishes the message with the reason to SCOREBOT_DLQ.
func (p *Pipeline) deadLetter(job *Job, reason error) {
	reasonText := reason.Error()
	label := "transient"
	if IsPermanent(reason) {
		label = "permanent"
	}
	p.metrics.deadLetter.WithLabelValues(label).Inc()
	msg := job.msg
	hdr := nats.Header{}
	for k, v := range msg.Headers() {
		if k != jetstream.MsgIDHeader {
			hdr[k] = v
		}
	}
	if len(reasonText) > 4000 {
		reasonText = reasonText[:4000] + "…"
	}
	hdr.Set(HeaderDLQReason, strings.ReplaceAll(reasonText, "\n", " "))
	hdr.Set(HeaderDLQSeq, strconv.FormatUint(job.Seq, 10))
	hdr.Set(HeaderDLQDelivered, strconv.FormatUint(job.Delivered, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: events.DLQSubject(msg.Subject()), Header: hdr, Data: msg.Data()},
		jetstream.WithMsgID("dlq-"+strconv.FormatUint(job.Seq, 10)), jetstream.WithExpectStream(events.StreamDLQ))
	if err != nil {
		job.Log.Error("dead-letter publish failed", "err", err)
		return
	}
	job.Log.Warn("event dead-lettered", "stream", events.StreamDLQ, "reason", reasonText)
}

// handle runs the job for its kind.
func (p *Pipeline) handle(ctx context.Context, job *Job) (string, error) {
	ev := job.Event
	switch ev.Kind {
	case events.KindPush:
		if strings.EqualFold(ev.Repo, p.cfg.RulesRepo) {
			return p.rulesPush(ctx, job)
		}
		return p.deployPush(ctx, job)
	default:
		// pull_request and issue_comment: previews (issue 6) and promotion (issue 7) register
		// their handlers in Config.Handlers; until then these are acknowledged and ignored.
		h := p.cfg.Handlers[ev.Kind]
		if h == nil {
			return OutcomeIgnored, nil
		}
		release, err := p.acquire(ctx, job, repoLease(ev.Repo))
		if err != nil {
			return OutcomeRetry, err
		}
		defer release()
		if err := h(ctx, p, job); err != nil {
			return OutcomeFailed, err
		}
		return OutcomeHandled, nil
	}
}
