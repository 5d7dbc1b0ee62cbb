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
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// benchClients is how many concurrent senders the load generator runs.
const benchClients = 16

// BenchmarkWebhooks is the intake's load generator: benchClients clients post signed push
// payloads over loopback to the handler backed by the embedded server (file storage), each
// with a new delivery id ("webhook"). In the same run, for comparison, the same clients post
// the same requests to a handler that only reads the body ("http-only", the floor HTTP puts
// under any intake), and publish the same bytes straight to JetStream with the call the
// handler makes ("raw-publish"). Each reports its rate, p50/p99 latency and CPU per call.
// The clients keep their connections alive (the run fails if the server sees more than
// benchClients connections).
//
//	go test ./internal/events -run '^$' -bench Webhooks -benchtime 10000x -count 5
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
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	sig := sign256(testSecret, body)
	var run atomic.Int64

	b.Run("webhook", func(b *testing.B) {
		prefix := fmt.Sprintf("bench-%d-", run.Add(1))
		lat, cpu := drive(b, func(i int) error {
			return postPush(client, srv.URL, body, sig, prefix+fmt.Sprint(i))
		})
		report(b, lat, cpu, "webhooks/s")
		if n := conns.Load(); n > benchClients {
			b.Fatalf("the server saw %d connections from %d clients: keep-alive is not working", n, benchClients)
		}
	})

	// The floor under any intake: the same requests to a handler that only reads the body
	// and answers 202 (no signature check, parse or NATS).
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer floor.Close()
	b.Run("http-only", func(b *testing.B) {
		lat, cpu := drive(b, func(i int) error {
			return postPush(client, floor.URL, body, sig, fmt.Sprint("floor-", i))
		})
		report(b, lat, cpu, "requests/s")
	})

	b.Run("raw-publish", func(b *testing.B) {
		prefix := fmt.Sprintf("raw-%d-", run.Add(1))
		lat, cpu := drive(b, func(i int) error {
			// The call the handler makes for each webhook: PublishMsg, waiting for the PubAck,
			// with a msg id and the expected stream.
			_, err := js.PublishMsg(ctx, &nats.Msg{Subject: SubjectPrefix + ".push.bench.raw", Data: body},
				jetstream.WithMsgID(prefix+fmt.Sprint(i)), jetstream.WithExpectStream(StreamEvents))
			return err
		})
		report(b, lat, cpu, "publishes/s")
	})
}

// drive runs b.N calls of op over benchClients goroutines and returns each call's latency
// and the process CPU time (user+system, all goroutines: clients, handler, nats-server) the
// calls used.
func drive(b *testing.B, op func(i int) error) ([]time.Duration, time.Duration) {
	lat := make([]time.Duration, b.N)
	cpu0 := processCPU(b)
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
	cpu := processCPU(b) - cpu0
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return lat, cpu
}

// processCPU is the user+system CPU time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report records the rate, p50 and p99 latency, and the CPU time per call ("cpu-us/op": the
// process's CPU, so it counts the HTTP client and the embedded server too). Other work on
// the machine slows the rate down but hardly moves cpu-us/op.
func report(b *testing.B, lat []time.Duration, cpu time.Duration, rateUnit string) {
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) float64 {
		return float64(sorted[int(float64(len(sorted)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), rateUnit)
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	b.ReportMetric(0, "ns/op")
}

// postPush posts body as a signed push webhook and wants a 202.
func postPush(client *http.Client, url string, body []byte, sig, delivery string) error {
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
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
}
