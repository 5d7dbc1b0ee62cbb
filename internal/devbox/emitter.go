package devbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scorebot/scorebot/internal/githost"
)

// Delivery is one webhook the sandbox sent to the bot.
type Delivery struct {
	ID     string    // X-GitHub-Delivery
	Event  string    // X-GitHub-Event
	Action string    // the payload's action, if any
	Repo   string    // owner/name
	Status int       // the intake's HTTP status (0 when the request failed)
	Err    string    // why the delivery failed, if it did
	At     time.Time // when it was sent
	// Payload is the body as signed; set for Config.OnWebhook, not kept in Deliveries.
	Payload []byte
}

// item is one thing for the emitter to do, in order: a ready webhook, a ref update to turn
// into a push webhook, or a flush marker.
type item struct {
	event   string
	payload []byte
	push    *pushItem
	marker  chan struct{}
}

// pushItem is a ref update of a local repo.
type pushItem struct {
	repo   string
	update githost.RefUpdate
}

// emitter delivers webhooks one at a time, in the order they happened, like GitHub's
// per-hook delivery. Enqueueing never blocks, so it is safe under the git host's and the
// stand-in's locks.
type emitter struct {
	url       string
	secret    []byte
	log       *slog.Logger
	onWebhook func(Delivery)
	client    *http.Client
	// pushPayload renders a ref update as a push webhook; afterPush tells the stand-in.
	pushPayload func(ctx context.Context, p *pushItem) ([]byte, error)
	afterPush   func(p *pushItem)

	mu    sync.Mutex
	queue []item
	wake  chan struct{}
	ring  []Delivery
}

const (
	ringSize         = 200
	deliveryAttempts = 3
)

func newEmitter(url string, secret []byte, log *slog.Logger, onWebhook func(Delivery)) *emitter {
	return &emitter{
		url: url, secret: secret, log: log, onWebhook: onWebhook,
		client: &http.Client{Timeout: 15 * time.Second},
		wake:   make(chan struct{}, 1),
	}
}

func (e *emitter) enqueue(it item) {
	e.mu.Lock()
	e.queue = append(e.queue, it)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// flush waits until the queue holds nothing but flush markers.
func (e *emitter) flush(ctx context.Context) error {
	done := make(chan struct{})
	e.enqueue(item{marker: done})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush webhooks: %w", ctx.Err())
	}
}

func (e *emitter) pop() (item, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.queue) == 0 {
		return item{}, false
	}
	it := e.queue[0]
	e.queue = e.queue[1:]
	if it.marker != nil {
		for _, q := range e.queue {
			if q.marker == nil {
				// Work remains (possibly caused by what was just delivered): wait behind it.
				e.queue = append(e.queue, it)
				return item{}, true
			}
		}
	}
	return it, true
}

// run delivers until ctx ends; markers still queued then are released.
func (e *emitter) run(ctx context.Context) {
	defer func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, it := range e.queue {
			if it.marker != nil {
				close(it.marker)
			}
		}
		e.queue = nil
	}()
	for {
		it, ok := e.pop()
		if !ok {
			select {
			case <-e.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case it.marker != nil:
			close(it.marker)
		case it.push != nil:
			e.deliverPush(ctx, it.push)
		case it.event != "":
			e.deliver(ctx, it.event, it.payload)
		}
	}
}

func (e *emitter) deliverPush(ctx context.Context, p *pushItem) {
	payload, err := e.pushPayload(ctx, p)
	if err != nil {
		e.log.Error("bot dev: build push webhook", "repo", p.repo, "ref", p.update.Name, "err", err)
		return
	}
	e.deliver(ctx, "push", payload)
	if e.afterPush != nil {
		e.afterPush(p)
	}
}

// deliver signs and POSTs one webhook, as GitHub does, retrying a failed request twice.
func (e *emitter) deliver(ctx context.Context, event string, payload []byte) {
	d := Delivery{Event: event, At: time.Now().UTC(), Payload: payload}
	var head struct {
		Action     string `json:"action"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	_ = json.Unmarshal(payload, &head)
	d.Action, d.Repo = head.Action, head.Repository.FullName
	id, err := newUUID()
	if err != nil {
		d.Err = err.Error()
	} else {
		d.ID = id
		mac := hmac.New(sha256.New, e.secret)
		mac.Write(payload)
		sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		for attempt := 1; attempt <= deliveryAttempts; attempt++ {
			d.Status, err = e.post(ctx, event, id, sig, payload)
			if err == nil && d.Status < 500 {
				break
			}
			if attempt == deliveryAttempts || !wait(ctx, time.Duration(attempt)*250*time.Millisecond) {
				break
			}
		}
		if err != nil {
			d.Err = err.Error()
		} else if d.Status >= 300 {
			d.Err = http.StatusText(d.Status)
		}
	}
	attrs := []any{"event", event, "delivery", d.ID, "repo", d.Repo, "status", d.Status}
	if d.Action != "" {
		attrs = append(attrs, "action", d.Action)
	}
	if d.Err != "" {
		e.log.Error("bot dev: webhook not delivered", append(attrs, "err", d.Err)...)
	} else {
		e.log.Info("bot dev: webhook delivered", attrs...)
	}
	e.mu.Lock()
	kept := d
	kept.Payload = nil
	e.ring = append(e.ring, kept)
	if len(e.ring) > ringSize {
		e.ring = e.ring[len(e.ring)-ringSize:]
	}
	e.mu.Unlock()
	if e.onWebhook != nil {
		e.onWebhook(d)
	}
}

func (e *emitter) post(ctx context.Context, event, id, sig string, payload []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/scorebot-dev")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-GitHub-Hook-ID", "1")
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", e.url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

func (e *emitter) recent() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Delivery(nil), e.ring...)
}

// wait pauses for d (a retry backoff) unless ctx ends first.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newUUID returns a random (version 4) UUID, the form of GitHub's delivery ids.
func newUUID() (string, error) {
	b, err := randomBytes(16)
	if err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-"), nil
}
