package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxBodyBytes bounds a webhook body: GitHub never sends more than 25 MB.
const MaxBodyBytes = 25 << 20

// Outcomes of a webhook request (the "outcome" label and the "outcome" of the reply).
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeIgnored      = "ignored"
	OutcomePing         = "ping"
	OutcomeUnauthorized = "unauthorized"
	OutcomeTooLarge     = "too_large"
	OutcomeMalformed    = "malformed"
	OutcomeUnavailable  = "unavailable"
	OutcomeBadMethod    = "method_not_allowed"
	OutcomeBadMediaType = "unsupported_media_type"
)

// ErrUnavailable reports that NATS could not store an event in time; the reply is 503.
var ErrUnavailable = errors.New("event store unavailable")

// HandlerConfig is what a Handler needs. Secret, JetStream and Metrics are required.
type HandlerConfig struct {
	// Secret is the webhook secret shared with GitHub.
	Secret []byte
	// JetStream publishes events; the streams must exist (EnsureStreams).
	JetStream jetstream.JetStream
	// Conn, when set, lets the handler answer 503 at once while NATS is disconnected, fit
	// messages under the server's max_payload, and write delivery records without waiting
	// for their ack (without it each record is a KV put the request waits for).
	Conn *nats.Conn
	// Metrics receives counters and the publish latency.
	Metrics *Metrics
	// Logger gets one line per request, with the delivery id (default: discard).
	Logger *slog.Logger
	// PublishTimeout bounds the dedupe check and the publish (default 5s, inside GitHub's
	// 10s), and how long a delivery record may wait for its ack.
	PublishTimeout time.Duration
	// MaxBodyBytes overrides MaxBodyBytes (tests).
	MaxBodyBytes int64
	// Now is the clock for Event.ReceivedAt (default time.Now).
	Now func() time.Time
	// StoreProblem, when set and it returns a reason, says the event store is known not to
	// store events now (the embedded server's store after a write error): a webhook that is
	// not a redelivery is answered 503 at once, with the reason logged, instead of after
	// PublishTimeout.
	StoreProblem func() string
}

// Handler serves POST /webhooks/github: verify, normalise, dedupe, publish, then 202.
type Handler struct {
	cfg HandlerConfig
	log *slog.Logger
	// recorder writes delivery records without waiting (nil without cfg.Conn: then they are
	// written with a plain KV put).
	recorder jetstream.JetStream

	mu sync.Mutex
	kv jetstream.KeyValue
}

// NewHandler checks cfg and returns a Handler.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook handler: empty webhook secret (set --webhook-secret-file to a file holding the secret configured on the GitHub App or webhook)")
	}
	if cfg.JetStream == nil || cfg.Metrics == nil {
		return nil, errors.New("webhook handler: JetStream and Metrics are required")
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = MaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, log: log}
	if cfg.Conn != nil {
		rec, err := jetstream.New(cfg.Conn,
			jetstream.WithPublishAsyncErrHandler(h.recordFailed),
			jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout),
			jetstream.WithPublishAsyncMaxPending(maxPendingRecords))
		if err != nil {
			return nil, fmt.Errorf("webhook handler: jetstream for delivery records: %w", err)
		}
		h.recorder = rec
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	delivery := r.Header.Get(github.DeliveryIDHeader)
	eventType := r.Header.Get(github.EventTypeHeader)
	label := eventLabel(eventType)
	log := h.log.With("delivery", clip(delivery), "event", label)
	reply := func(status int, outcome, msg string) {
		h.cfg.Metrics.Webhooks.WithLabelValues(label, outcome).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		out, _ := json.Marshal(struct {
			Outcome string `json:"outcome"`
			Message string `json:"message,omitempty"`
		}{outcome, msg})
		_, _ = w.Write(append(out, '\n'))
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(http.StatusMethodNotAllowed, OutcomeBadMethod, "use POST")
		return
	}
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn("webhook refused: body too large", "limit_bytes", h.cfg.MaxBodyBytes)
			reply(http.StatusRequestEntityTooLarge, OutcomeTooLarge, "body larger than 25 MiB")
			return
		}
		log.Warn("webhook refused: reading body", "err", err)
		reply(http.StatusBadRequest, OutcomeMalformed, "could not read body")
		return
	}

	if reason := h.checkSignature(r.Header, body); reason != "" {
		h.cfg.Metrics.SignatureFailures.WithLabelValues(reason).Inc()
		log.Warn("webhook refused: signature", "reason", reason)
		reply(http.StatusUnauthorized, OutcomeUnauthorized, "X-Hub-Signature-256 missing or wrong")
		return
	}

	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaType = ""
	}
	// The signature is checked; this only extracts the JSON (form bodies carry it in
	// "payload"). A JSON body is the payload as it is.
	payload := body
	if mediaType != "application/json" {
		if payload, err = github.ValidatePayloadFromBody(mediaType, bytes.NewReader(body), "", nil); err != nil {
			log.Warn("webhook refused: content type", "content_type", clip(r.Header.Get("Content-Type")))
			reply(http.StatusUnsupportedMediaType, OutcomeBadMediaType, "use application/json or application/x-www-form-urlencoded")
			return
		}
	}
	if !validDelivery(delivery) || eventType == "" {
		log.Warn("webhook refused: missing or invalid X-GitHub-Delivery or X-GitHub-Event")
		reply(http.StatusBadRequest, OutcomeMalformed, "X-GitHub-Delivery and X-GitHub-Event are required")
		return
	}
	if eventType == "ping" {
		log.Info("webhook ping")
		reply(http.StatusOK, OutcomePing, "pong")
		return
	}

	ev, err := Normalize(eventType, delivery, payload)
	switch {
	case errors.Is(err, ErrIgnored):
		log.Info("webhook ignored", "why", err.Error())
		reply(http.StatusAccepted, OutcomeIgnored, "")
		return
	case err != nil:
		log.Warn("webhook refused: malformed payload", "err", err)
		reply(http.StatusBadRequest, OutcomeMalformed, "payload is not a valid "+label+" event")
		return
	}
	ev.ReceivedAt = h.cfg.Now().UTC()
	log = log.With("repo", ev.Repo, "action", ev.Action)

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.PublishTimeout)
	defer cancel()
	dup, seq, err := h.store(ctx, log, ev, payload)
	switch {
	case err != nil:
		log.Error("webhook not stored", "err", err)
		reply(http.StatusServiceUnavailable, OutcomeUnavailable, "event store unavailable, redeliver later")
	case dup:
		log.Info("webhook duplicate, already stored")
		reply(http.StatusAccepted, OutcomeDuplicate, "")
	default:
		log.Info("webhook stored", "subject", Subject(ev), "seq", seq)
		reply(http.StatusAccepted, OutcomeAccepted, "")
	}
}

// readBody reads the request body, at most limit bytes (more is a *http.MaxBytesError), into
// one buffer sized from Content-Length when the client sent one.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength <= 0 {
		return io.ReadAll(body)
	}
	// net/http delivers exactly Content-Length bytes (or an error); one byte of room more
	// lets the read that reports EOF land without growing the buffer.
	buf := make([]byte, 0, r.ContentLength+1)
	for {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return nil, err
		case len(buf) == cap(buf):
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// checkSignature returns "" when X-Hub-Signature-256 is a valid HMAC-SHA256 of body, or the
// reason it is not. The SHA-1 X-Hub-Signature is never accepted on its own.
func (h *Handler) checkSignature(hdr http.Header, body []byte) string {
	sig := hdr.Get(github.SHA256SignatureHeader)
	switch {
	case sig == "" && hdr.Get(github.SHA1SignatureHeader) != "":
		return "sha1_only"
	case sig == "":
		return "missing"
	case !strings.HasPrefix(sig, "sha256="):
		return "not_sha256"
	}
	if err := github.ValidateSignature(sig, body, h.cfg.Secret); err != nil {
		return "invalid"
	}
	return ""
}

// store publishes ev unless its delivery was stored before, and records the delivery.
//
// Order: (1) look the delivery up in scorebot-deliveries (a hit is a redelivery: 202, no
// publish); (2) publish with Nats-Msg-Id = the delivery and wait for the PubAck (the 202
// waits for it); (3) write the delivery's record, without waiting for its ack. The record is
// written only after the PubAck, so a failed publish never hides a redelivery. Until the
// record is acknowledged (and forever if writing it fails, or the process dies first) the
// stream's Nats-Msg-Id window catches a redelivery: its PubAck says duplicate, nothing is
// stored twice, and the record is written then. The window (DuplicateWindow) is far longer
// than a record takes to land or fail (PublishTimeout). Concurrent copies of one delivery
// both pass (1) and are stored once by the window.
func (h *Handler) store(ctx context.Context, log *slog.Logger, ev *Event, payload []byte) (dup bool, seq uint64, err error) {
	if nc := h.cfg.Conn; nc != nil && nc.Status() != nats.CONNECTED {
		return false, 0, fmt.Errorf("%w: nats connection %s", ErrUnavailable, nc.Status())
	}
	kv, err := h.deliveries(ctx)
	if err != nil {
		return false, 0, err
	}
	if _, err := kv.Get(ctx, ev.Delivery); err == nil {
		h.cfg.Metrics.DedupeHits.WithLabelValues("kv").Inc()
		return true, 0, nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, 0, fmt.Errorf("%w: look up delivery in %s: %v", ErrUnavailable, BucketDeliveries, err)
	}

	if f := h.cfg.StoreProblem; f != nil {
		if why := f(); why != "" {
			return false, 0, fmt.Errorf("%w: the event store cannot write: %s", ErrUnavailable, why)
		}
	}
	data, err := EncodeEnvelope(ev, payload)
	if err != nil {
		return false, 0, err
	}
	if nc := h.cfg.Conn; nc != nil && int64(len(data)+1024) > nc.MaxPayload() {
		log.Warn("payload omitted from the event: larger than the NATS max_payload", "bytes", len(data), "max_payload", nc.MaxPayload())
		if data, err = EncodeEnvelope(ev, nil); err != nil {
			return false, 0, err
		}
	}
	msg := &nats.Msg{
		Subject: Subject(ev),
		Data:    data,
		Header: nats.Header{
			HeaderKind:     []string{ev.Kind},
			HeaderRepo:     []string{ev.Repo},
			HeaderDelivery: []string{ev.Delivery},
		},
	}
	start := time.Now()
	ack, err := h.cfg.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.Delivery), jetstream.WithExpectStream(StreamEvents))
	if err != nil {
		return false, 0, fmt.Errorf("%w: publish to %s: %v", ErrUnavailable, msg.Subject, err)
	}
	h.cfg.Metrics.PublishSeconds.Observe(time.Since(start).Seconds())
	if ack.Duplicate {
		h.cfg.Metrics.DedupeHits.WithLabelValues("stream").Inc()
	}
	h.record(ctx, log, kv, ev.Delivery, ack)
	return ack.Duplicate, ack.Sequence, nil
}

// record writes delivery's record to scorebot-deliveries: asynchronously (a publish to the
// bucket's subject, its ack checked by recordFailed) when the handler has the connection,
// else with a plain KV put. A put, not a create: every copy of a delivery writes the same
// value (a duplicate's PubAck carries the original's sequence), and a put also replaces a
// delete or purge marker.
func (h *Handler) record(ctx context.Context, log *slog.Logger, kv jetstream.KeyValue, delivery string, ack *jetstream.PubAck) {
	value := fmt.Appendf(nil, `{"stream":%q,"seq":%d}`, ack.Stream, ack.Sequence)
	if h.recorder == nil {
		if _, err := kv.Put(ctx, delivery, value); err != nil {
			h.cfg.Metrics.RecordFailures.Inc()
			log.Warn("delivery stored but not recorded in "+BucketDeliveries, "err", err)
		}
		return
	}
	if _, err := h.recorder.PublishMsgAsync(&nats.Msg{Subject: deliveriesSubjectPrefix + delivery, Data: value}); err != nil {
		h.cfg.Metrics.RecordFailures.Inc()
		log.Warn("delivery stored but not recorded in "+BucketDeliveries, "err", err)
	}
}

// recordFailed is told about every asynchronous record write that failed or was not
// acknowledged within PublishTimeout.
func (h *Handler) recordFailed(_ jetstream.JetStream, msg *nats.Msg, err error) {
	h.cfg.Metrics.RecordFailures.Inc()
	h.log.Warn("delivery stored but not recorded in "+BucketDeliveries, "delivery", clip(strings.TrimPrefix(msg.Subject, deliveriesSubjectPrefix)), "err", err)
}

// deliveriesSubjectPrefix is where a key of scorebot-deliveries is written (the KV protocol:
// $KV.<bucket>.<key>).
const deliveriesSubjectPrefix = "$KV." + BucketDeliveries + "."

// maxPendingRecords bounds record writes awaiting their ack; past it a write waits briefly,
// then is counted as failed (the stream's window still covers its delivery).
const maxPendingRecords = 8192

// deliveries returns the deliveries bucket, looking it up once it exists.
func (h *Handler) deliveries(ctx context.Context) (jetstream.KeyValue, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kv != nil {
		return h.kv, nil
	}
	kv, err := h.cfg.JetStream.KeyValue(ctx, BucketDeliveries)
	if err != nil {
		return nil, fmt.Errorf("%w: open KV bucket %s: %v", ErrUnavailable, BucketDeliveries, err)
	}
	h.kv = kv
	return kv, nil
}

// validDelivery accepts GitHub's delivery GUIDs and other simple ids usable as a KV key
// and a Nats-Msg-Id.
func validDelivery(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// eventLabel bounds the metric label to names we know.
func eventLabel(eventType string) string {
	if Supported(eventType) || eventType == "ping" {
		return eventType
	}
	return "other"
}

// clip keeps untrusted header values short in logs.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}
