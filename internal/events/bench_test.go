package events

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// benchClients is how many concurrent senders the load generator runs.
const benchClients = 16

// BenchmarkWebhooks is the intake's load generator: benchClients clients post signed push
// payloads over loopback to the handler backed by the embedded server (file storage), and,
// in the same run, publish the same bytes straight to JetStream for comparison. Reported:
// requests/s with p50/p99 from request to 202, and raw publishes/s.
//
//	go test ./internal/events -run '^$' -bench Webhooks -benchtime 20000x -count 1
func BenchmarkWebhooks(b *testing.B) {
	body, err := os.ReadFile(webhookFixtures + "/supplementary-drone-go-scm/push/push.json")
	if err != nil {
		b.Fatal(err)
	}
	ns, nc, err := StartEmbedded(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ShutdownEmbedded(context.Background(), ns, nc) }()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := EnsureStreams(ctx, js); err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler(HandlerConfig{Secret: testSecret, JetStream: js, Conn: nc, Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	sig := sign256(testSecret, body)
	var run atomic.Int64

	b.Run("webhook", func(b *testing.B) {
		prefix := fmt.Sprintf("bench-%d-", run.Add(1))
		lat := drive(b, func(i int) error {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-GitHub-Delivery", prefix+fmt.Sprint(i))
			req.Header.Set("X-Hub-Signature-256", sig)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
		report(b, lat, "webhooks/s")
	})

	b.Run("raw-publish", func(b *testing.B) {
		prefix := fmt.Sprintf("raw-%d-", run.Add(1))
		lat := drive(b, func(i int) error {
			_, err := js.PublishMsg(ctx, &nats.Msg{Subject: SubjectPrefix + ".push.bench.raw", Data: body},
				jetstream.WithMsgID(prefix+fmt.Sprint(i)))
			return err
		})
		report(b, lat, "publishes/s")
	})
}

// drive runs b.N calls of op over benchClients goroutines and returns each call's latency.
func drive(b *testing.B, op func(i int) error) []time.Duration {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				start := time.Now()
				if err := op(i); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return lat
}

func report(b *testing.B, lat []time.Duration, rateUnit string) {
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) float64 {
		return float64(sorted[int(float64(len(sorted)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), rateUnit)
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
