package events

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var testSecret = []byte("test-webhook-secret")

// natsBackend is a NATS server the suite can stop and start again on the same storage.
type natsBackend interface {
	// Conn returns a connection to the running server.
	Conn() *nats.Conn
	// Stop makes NATS unavailable; Start brings the same server (same data) back.
	Stop(t *testing.T)
	Start(t *testing.T)
	// Reconnects reports whether Conn survives a Stop/Start (an external server) or must be
	// replaced (the embedded one is a new server object).
	Reconnects() bool
}

// embeddedBackend runs the embedded nats-server in the test process.
type embeddedBackend struct {
	dir string
	ns  *server.Server
	nc  *nats.Conn
}

func newEmbeddedBackend(t *testing.T) *embeddedBackend {
	b := &embeddedBackend{dir: t.TempDir()}
	b.Start(t)
	t.Cleanup(func() { b.Stop(t) })
	return b
}

func (b *embeddedBackend) Conn() *nats.Conn { return b.nc }
func (b *embeddedBackend) Reconnects() bool { return false }

func (b *embeddedBackend) Start(t *testing.T) {
	t.Helper()
	ns, nc, err := StartEmbedded(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	b.ns, b.nc = ns, nc
}

func (b *embeddedBackend) Stop(t *testing.T) {
	t.Helper()
	if b.ns == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ShutdownEmbedded(ctx, b.ns, b.nc); err != nil {
		t.Errorf("shutdown embedded: %v", err)
	}
	b.ns = nil
}

// processBackend runs Debian's nats-server binary as a child process on 127.0.0.1.
type processBackend struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
	nc       *nats.Conn
}

func newProcessBackend(t *testing.T) *processBackend {
	const bin = "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("real nats-server not installed at %s (apt-get install nats-server; CI installs it): %v", bin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := &processBackend{bin: bin, dir: t.TempDir(), port: port}
	b.Start(t)
	nc, err := Connect(ConnectOptions{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), ReconnectWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b.nc = nc
	waitFor(t, "client connected", func() bool { return nc.IsConnected() })
	t.Cleanup(func() {
		nc.Close()
		b.Stop(t)
	})
	return b
}

func (b *processBackend) Conn() *nats.Conn { return b.nc }
func (b *processBackend) Reconnects() bool { return true }

func (b *processBackend) Start(t *testing.T) {
	t.Helper()
	b.cmd = exec.Command(b.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(b.port), "-sd", b.dir)
	var logs bytes.Buffer
	b.cmd.Stdout, b.cmd.Stderr = &logs, &logs
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", b.bin, err)
	}
	b.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(b.cmd, b.exited)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	waitFor(t, "nats-server listening on "+addr, func() bool {
		select {
		case <-b.exited:
			t.Fatalf("nats-server exited: %s", logs.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if b.nc != nil {
		waitFor(t, "client reconnected", func() bool { return b.nc.IsConnected() })
	}
}

func (b *processBackend) Stop(t *testing.T) {
	t.Helper()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(os.Interrupt)
	<-b.exited
	b.cmd = nil
	if b.nc != nil {
		waitFor(t, "client notices the server is gone", func() bool { return !b.nc.IsConnected() })
	}
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// intake is a Handler behind an httptest server on 127.0.0.1, wired to a backend.
type intake struct {
	t       *testing.T
	js      jetstream.JetStream
	srv     *httptest.Server
	metrics *Metrics
	reg     *prometheus.Registry
}

func newIntake(t *testing.T, nc *nats.Conn, opts ...func(*HandlerConfig)) *intake {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := EnsureStreams(ctx, js); err != nil {
		t.Fatalf("EnsureStreams is not idempotent: %v", err)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	cfg := HandlerConfig{Secret: testSecret, JetStream: js, Conn: nc, Metrics: m, PublishTimeout: 3 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &intake{t: t, js: js, srv: srv, metrics: m, reg: reg}
}

// with returns in reporting to t (a subtest); servers stay owned by the test that made them.
func (in *intake) with(t *testing.T) *intake {
	c := *in
	c.t = t
	return &c
}

// postNoFatal is post for goroutines other than the test's: transport errors become 0.
func (in *intake) postNoFatal(event, delivery string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, in.srv.URL+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", sign256(testSecret, body))
	resp, err := in.srv.Client().Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// post sends body as a webhook; sig "" means sign with testSecret, "-" means no signature.
func (in *intake) post(event, delivery string, body []byte, hdr map[string]string) int {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.srv.URL+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", sign256(testSecret, body))
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := in.srv.Client().Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// stored returns the delivery ids on SCOREBOT_EVENTS in stream order, checking each message.
func (in *intake) stored() []string {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := in.js.Stream(ctx, StreamEvents)
	if err != nil {
		in.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		in.t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			in.t.Fatalf("get seq %d: %v", seq, err)
		}
		env, err := DecodeEnvelope(msg.Data)
		if err != nil {
			in.t.Fatalf("seq %d: %v", seq, err)
		}
		if id := msg.Header.Get(nats.MsgIdHdr); id != env.Event.Delivery {
			in.t.Errorf("seq %d: Nats-Msg-Id %q, event delivery %q", seq, id, env.Event.Delivery)
		}
		if want := Subject(&env.Event); msg.Subject != want {
			in.t.Errorf("seq %d: subject %q, want %q", seq, msg.Subject, want)
		}
		ids = append(ids, env.Event.Delivery)
	}
	return ids
}

// waitRecorded waits until every delivery has its record in scorebot-deliveries (the handler
// writes records after the 202 without waiting for their ack).
func (in *intake) waitRecorded(deliveries ...string) {
	in.t.Helper()
	for _, d := range deliveries {
		waitFor(in.t, "delivery "+d+" recorded in "+BucketDeliveries, func() bool { return in.recorded(d) })
	}
}

func (in *intake) recorded(delivery string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := in.js.KeyValue(ctx, BucketDeliveries)
	if err != nil {
		in.t.Fatal(err)
	}
	_, err = kv.Get(ctx, delivery)
	return err == nil
}

// expectedStatus is what a fixture must get: 200 for ping, 202 otherwise.
func expectedStatus(f fixture) (status int, stored bool) {
	if f.Event == "ping" {
		return http.StatusOK, false
	}
	_, err := Normalize(f.Event, f.Delivery(), f.Body)
	return http.StatusAccepted, err == nil
}

func TestAcceptanceEmbedded(t *testing.T) {
	b := newEmbeddedBackend(t)
	runAcceptance(t, b)
}

func TestAcceptanceNATSServerProcess(t *testing.T) {
	b := newProcessBackend(t)
	runAcceptance(t, b)
}

func runAcceptance(t *testing.T, b natsBackend) {
	fixtures := loadFixtures(t)
	var want []string
	for _, f := range fixtures {
		if _, stored := expectedStatus(f); stored {
			want = append(want, f.Delivery())
		}
	}
	sort.Strings(want)
	sortedStored := func(in *intake) []string {
		got := in.stored()
		sort.Strings(got)
		return got
	}

	in := newIntake(t, b.Conn())
	t.Run("fixtures stored exactly once, posted twice", func(t *testing.T) {
		in := in.with(t)
		for round := 0; round < 2; round++ {
			for _, f := range fixtures {
				wantStatus, _ := expectedStatus(f)
				if got := in.post(f.Event, f.Delivery(), f.Body, nil); got != wantStatus {
					t.Errorf("round %d %s: status %d, want %d", round, f.Name, got, wantStatus)
				}
			}
			// Every stored delivery gets its record; the second round is then caught by
			// the bucket, not by the stream's window.
			in.waitRecorded(want...)
		}
		if got := sortedStored(in); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("stored %d deliveries %v, want %d %v", len(got), got, len(want), want)
		}
		if hits := counterValue(in.metrics.DedupeHits.WithLabelValues("kv")); int(hits) != len(want) {
			t.Errorf("kv dedupe hits = %v, want %d", hits, len(want))
		}
	})

	t.Run("refused requests store nothing", func(t *testing.T) {
		in := in.with(t)
		push := fixtures[0].Body
		for _, f := range fixtures {
			if f.Name == "supplementary-drone-go-scm/push/push.json" {
				push = f.Body
			}
		}
		big := bytes.Repeat([]byte(" "), MaxBodyBytes+1)
		tests := []struct {
			name   string
			event  string
			body   []byte
			hdr    map[string]string
			status int
		}{
			{"forged signature", "push", push, map[string]string{"X-Hub-Signature-256": sign256([]byte("wrong"), push)}, 401},
			{"missing signature", "push", push, map[string]string{"X-Hub-Signature-256": ""}, 401},
			{"sha1 only", "push", push, map[string]string{"X-Hub-Signature-256": "", "X-Hub-Signature": sign1(testSecret, push)}, 401},
			{"sha1 in the sha256 header", "push", push, map[string]string{"X-Hub-Signature-256": sign1(testSecret, push)}, 401},
			{"signature of another body", "push", push, map[string]string{"X-Hub-Signature-256": sign256(testSecret, []byte("{}"))}, 401},
			{"oversize", "push", big, nil, 413},
			{"malformed json", "push", []byte(`{"ref":"refs/heads/main",`), nil, 400},
			{"push without repository", "push", []byte(`{"ref":"refs/heads/main"}`), nil, 400},
			{"missing delivery", "push", push, map[string]string{"X-GitHub-Delivery": ""}, 400},
			{"bad delivery", "push", push, map[string]string{"X-GitHub-Delivery": "a.b>c"}, 400},
			{"unsupported content type", "push", push, map[string]string{"Content-Type": "text/plain"}, 415},
			{"unused event", "star", []byte(`{"action":"created"}`), nil, 202},
			{"unused commit_comment action", "commit_comment", []byte(`{"action":"deleted","comment":{"id":1,"commit_id":"abc"},"repository":{"full_name":"a/b"}}`), nil, 202},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := in.with(t)
				before := len(in.stored())
				delivery := "refused-" + strings.ReplaceAll(tt.name, " ", "-")
				if got := in.post(tt.event, delivery, tt.body, tt.hdr); got != tt.status {
					t.Fatalf("status %d, want %d", got, tt.status)
				}
				if after := len(in.stored()); after != before {
					t.Fatalf("stream grew from %d to %d", before, after)
				}
				if in.recorded(delivery) {
					t.Fatalf("delivery %s recorded", delivery)
				}
			})
		}
		if n := counterValue(in.metrics.SignatureFailures.WithLabelValues("sha1_only")); n != 1 {
			t.Errorf("sha1_only signature failures = %v, want 1", n)
		}
	})

	outer := t
	t.Run("restart keeps exactly once", func(t *testing.T) {
		b.Stop(t)
		b.Start(t)
		in = newIntake(outer, b.Conn())
		in := in.with(t)
		for _, f := range fixtures {
			wantStatus, _ := expectedStatus(f)
			if got := in.post(f.Event, f.Delivery(), f.Body, nil); got != wantStatus {
				t.Errorf("%s after restart: status %d, want %d", f.Name, got, wantStatus)
			}
		}
		if got := sortedStored(in); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("after restart stored %d deliveries, want %d", len(got), len(want))
		}
	})

	t.Run("unavailable then back", func(t *testing.T) {
		f := fixtures[len(fixtures)-1] // supplementary push
		delivery := "unavailable-" + f.Delivery()
		in := in.with(t)
		b.Stop(t)
		if got := in.post(f.Event, delivery, f.Body, nil); got != http.StatusServiceUnavailable {
			t.Fatalf("with NATS down: status %d, want 503", got)
		}
		b.Start(t)
		if !b.Reconnects() {
			in = newIntake(outer, b.Conn()).with(t)
		}
		if got := in.post(f.Event, delivery, f.Body, nil); got != http.StatusAccepted {
			t.Fatalf("with NATS back: status %d, want 202", got)
		}
		if got := in.post(f.Event, delivery, f.Body, nil); got != http.StatusAccepted {
			t.Fatalf("redelivered: status %d, want 202", got)
		}
		n := 0
		for _, id := range in.stored() {
			if id == delivery {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("delivery stored %d times, want once", n)
		}
	})
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// A store known not to write (StoreProblem) refuses new events at once with 503, still
// answers a redelivery of a stored one 202, and takes events again once it writes.
func TestStoreProblem(t *testing.T) {
	b := newEmbeddedBackend(t)
	var problem atomic.Pointer[string]
	in := newIntake(t, b.Conn(), func(c *HandlerConfig) {
		c.PublishTimeout = time.Hour // a refusal must not wait for it
		c.StoreProblem = func() string {
			if p := problem.Load(); p != nil {
				return *p
			}
			return ""
		}
	})
	push := loadFixtures(t)[0]
	for _, f := range loadFixtures(t) {
		if f.Name == "supplementary-drone-go-scm/push/push.json" {
			push = f
		}
	}
	if got := in.post(push.Event, "store-ok", push.Body, nil); got != http.StatusAccepted {
		t.Fatalf("before: status %d, want 202", got)
	}
	in.waitRecorded("store-ok")
	full := "JetStream stream '$G > SCOREBOT_EVENTS' write error: no space left on device"
	problem.Store(&full)
	if got := in.post(push.Event, "store-full", push.Body, nil); got != http.StatusServiceUnavailable {
		t.Errorf("while the store cannot write: status %d, want 503", got)
	}
	if got := in.post(push.Event, "store-ok", push.Body, nil); got != http.StatusAccepted {
		t.Errorf("a redelivery while the store cannot write: status %d, want 202", got)
	}
	problem.Store(nil)
	if got := in.post(push.Event, "store-full", push.Body, nil); got != http.StatusAccepted {
		t.Errorf("after: status %d, want 202", got)
	}
	if got := in.stored(); len(got) != 2 {
		t.Errorf("stored %v, want store-ok and store-full once each", got)
	}
}
