// Package server runs the Scorebot process: the NATS connection (embedded server or an
// external cluster), the streams, the webhook intake and operational HTTP endpoints, and the
// workers the pipeline plugs in through Server.Workers. It owns start-up order and graceful
// shutdown; it must not know what the workers do or how events are parsed (internal/events).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/statusview"
)

// Roles a process can take.
const (
	RoleAll      = "all"      // webhooks and workers
	RoleWebhooks = "webhooks" // intake only (scale out behind a load balancer)
	RoleWorkers  = "workers"  // workers only (scale out on one NATS cluster)
)

// Config is everything Run needs; New checks it.
type Config struct {
	// Listen is the HTTP address, e.g. ":8080" or "127.0.0.1:0".
	Listen string
	// Secret is the GitHub webhook secret; required unless Role is RoleWorkers.
	Secret []byte
	// DataDir holds the embedded NATS store (DataDir/nats) and whatever workers keep.
	DataDir string
	// NATS selects an external server when NATS.URL is set; otherwise NATS is embedded.
	NATS events.ConnectOptions
	// EmbeddedListen, when set ("127.0.0.1:4222"), also exposes the embedded server to
	// local clients such as the nats CLI.
	EmbeddedListen string
	// Replicas of the streams and bucket (3 on a 3-node cluster; default 1).
	Replicas int
	// Role is RoleAll (default), RoleWebhooks or RoleWorkers.
	Role string
	// PublishTimeout bounds storing one webhook (default 5s).
	PublishTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown (default 20s).
	ShutdownTimeout time.Duration
	// StoreCheckInterval is how often the embedded NATS server's store is checked (default
	// 2s): while it cannot write (a full disk), /readyz fails and JetStream is restarted on
	// the same store, with a growing pause, until it can (see watchStore).
	StoreCheckInterval time.Duration
	// Logger is the process logger (default: JSON to nowhere).
	Logger *slog.Logger
	// Registry receives the metrics served on /metrics (default: a new registry with the Go
	// and process collectors).
	Registry *prometheus.Registry
	// Handlers are further routes served beside the webhooks (not in role workers), keyed by
	// http.ServeMux pattern, e.g. "POST /hooks/flux/{env}" for Flux's notifications.
	Handlers map[string]http.Handler
	// Status, when set, serves the environment × app matrix on GET /status (HTML) and GET
	// /status.json (roles all and workers): what runs where, from which commit, pending
	// promotions. A read failure answers 503.
	Status func(ctx context.Context) (statusview.Matrix, error)
	// StatusWebURL is the forge's web address the status page links commits and pull
	// requests to, e.g. https://github.com ("" links nothing).
	StatusWebURL string
}

// Server is one Scorebot process. Set Workers before Run to run the pipeline beside the
// intake; it is called once the streams exist, with a context cancelled at shutdown, and
// must return when that context ends.
type Server struct {
	// Workers runs the consumers (role all or workers). A nil Workers runs none.
	Workers func(ctx context.Context, js jetstream.JetStream) error

	cfg     Config
	log     *slog.Logger
	metrics *events.Metrics

	ready        chan struct{}
	streamsReady atomic.Bool
	addr         atomic.Value // string
	nc           atomic.Pointer[nats.Conn]
	storeErr     atomic.Pointer[string] // why the embedded store cannot write, nil while it can
	embedded     atomic.Pointer[server.Server]
	js           jetstream.JetStream
}

// New checks cfg and returns a Server ready to Run.
func New(cfg Config) (*Server, error) {
	if cfg.Role == "" {
		cfg.Role = RoleAll
	}
	switch cfg.Role {
	case RoleAll, RoleWebhooks, RoleWorkers:
	default:
		return nil, fmt.Errorf("role %q: want %s, %s or %s", cfg.Role, RoleAll, RoleWebhooks, RoleWorkers)
	}
	if cfg.Role != RoleWorkers && len(cfg.Secret) == 0 {
		return nil, errors.New("no webhook secret: set --webhook-secret-file (or SCOREBOT_WEBHOOK_SECRET_FILE) to a file holding the secret configured on the GitHub App or webhook")
	}
	if cfg.NATS.URL == "" && cfg.DataDir == "" {
		return nil, errors.New("no --data-dir for the embedded NATS store (or set --nats-url for an external server)")
	}
	if cfg.Listen == "" {
		cfg.Listen = ":8080"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	if cfg.StoreCheckInterval <= 0 {
		cfg.StoreCheckInterval = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: events.NewMetrics(cfg.Registry),
		ready:   make(chan struct{}),
	}, nil
}

// Ready is closed once the HTTP listener is bound and the streams exist.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound HTTP address (valid after Ready).
func (s *Server) Addr() string {
	a, _ := s.addr.Load().(string)
	return a
}

// JetStream is the process's JetStream handle (valid after Ready).
func (s *Server) JetStream() jetstream.JetStream { return s.js }

// Conn is the process's NATS connection (valid after Ready).
func (s *Server) Conn() *nats.Conn { return s.nc.Load() }

// Run connects NATS, ensures the streams, serves HTTP and runs the workers until ctx ends,
// then shuts down in order: stop accepting and finish in-flight requests, stop the workers,
// drain the NATS connection, stop the embedded server.
func (s *Server) Run(ctx context.Context) error {
	reensure := make(chan struct{}, 1)
	var ns *server.Server
	var nc *nats.Conn
	var err error
	if s.cfg.NATS.URL == "" {
		var opts []events.EmbeddedOption
		opts = append(opts, events.WithServerLogger(s.log.With("component", "nats-server")))
		if s.cfg.EmbeddedListen != "" {
			host, port, err := splitHostPort(s.cfg.EmbeddedListen)
			if err != nil {
				return err
			}
			opts = append(opts, events.WithListen(host, port))
		}
		ns, nc, err = events.StartEmbedded(s.cfg.DataDir, opts...)
		if err != nil {
			return err
		}
		s.embedded.Store(ns)
		s.log.Info("embedded nats-server started", "store", events.StoreDir(s.cfg.DataDir))
	} else {
		o := s.cfg.NATS
		o.Logger = s.log.With("component", "nats")
		o.OnReconnect = func() {
			select {
			case reensure <- struct{}{}:
			default:
			}
		}
		nc, err = events.Connect(o)
		if err != nil {
			return err
		}
	}
	s.nc.Store(nc)
	closeNATS := func() {
		dctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := events.ShutdownEmbedded(dctx, ns, nc); err != nil {
			s.log.Warn("nats shutdown", "err", err)
		}
		s.log.Info("nats closed")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		closeNATS()
		return fmt.Errorf("jetstream: %w", err)
	}
	s.js = js

	mux := http.NewServeMux()
	if s.cfg.Role != RoleWorkers {
		h, err := events.NewHandler(events.HandlerConfig{
			Secret: s.cfg.Secret, JetStream: js, Conn: nc, Metrics: s.metrics,
			Logger: s.log.With("component", "webhooks"), PublishTimeout: s.cfg.PublishTimeout,
			StoreProblem: s.storeProblem,
		})
		if err != nil {
			closeNATS()
			return err
		}
		mux.Handle("/webhooks/github", h)
		for pattern, h := range s.cfg.Handlers {
			mux.Handle(pattern, h)
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !nc.IsConnected() || !s.streamsReady.Load() {
			http.Error(w, "nats not connected or streams not ready", http.StatusServiceUnavailable)
			return
		}
		if why := s.storeProblem(); why != "" {
			http.Error(w, "nats store cannot store events: "+why, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{Registry: s.cfg.Registry}))
	if s.cfg.Status != nil && s.cfg.Role != RoleWebhooks {
		mux.HandleFunc("GET /status", s.serveStatus(false))
		mux.HandleFunc("GET /status.json", s.serveStatus(true))
	}

	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		closeNATS()
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.addr.Store(ln.Addr().String())
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cancel(fmt.Errorf("http server: %w", err))
		}
	}()
	s.log.Info("listening", "addr", s.Addr(), "role", s.cfg.Role)

	if ns != nil {
		wg.Go(func() { s.watchStore(runCtx, ns) })
	}

	var workersWG sync.WaitGroup
	workersCtx, stopWorkers := context.WithCancel(context.WithoutCancel(runCtx))
	defer stopWorkers()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.ensureLoop(runCtx, js, reensure, func() {
			close(s.ready)
			if s.Workers == nil || s.cfg.Role == RoleWebhooks {
				return
			}
			workersWG.Add(1)
			go func() {
				defer workersWG.Done()
				s.log.Info("workers starting")
				if err := s.Workers(workersCtx, js); err != nil && workersCtx.Err() == nil {
					cancel(fmt.Errorf("workers: %w", err))
				}
			}()
		})
	}()

	<-runCtx.Done()
	cause := context.Cause(runCtx)
	s.log.Info("shutting down", "cause", cause)
	sctx, scancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer scancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	stopWorkers()
	workersWG.Wait()
	wg.Wait()
	closeNATS()
	if ctx.Err() != nil { // asked to stop (SIGTERM): a clean exit
		return nil
	}
	return cause
}

// ensureLoop creates or updates the streams until it succeeds, calls first once, and does it
// again after each reconnect (an external server may have come back without its state).
func (s *Server) ensureLoop(ctx context.Context, js jetstream.JetStream, again <-chan struct{}, first func()) {
	var opts []events.StreamOption
	if s.cfg.Replicas > 1 {
		opts = append(opts, events.WithReplicas(s.cfg.Replicas))
	}
	once := false
	backoff := 100 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := events.EnsureStreams(tctx, js, opts...)
		cancel()
		if err == nil {
			s.streamsReady.Store(true)
			backoff = 100 * time.Millisecond
			if !once {
				once = true
				s.log.Info("streams ready", "events", events.StreamEvents, "dlq", events.StreamDLQ, "kv", events.BucketDeliveries)
				first()
			}
			select {
			case <-ctx.Done():
				return
			case <-again:
				continue
			}
		}
		s.log.Warn("ensure streams failed, retrying", "err", err, "in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("--nats-listen %q: %w (want host:port, e.g. 127.0.0.1:4222)", addr, err)
	}
	var port int
	if _, err := fmt.Sscanf(p, "%d", &port); err != nil {
		return "", 0, fmt.Errorf("--nats-listen %q: port %q is not a number", addr, p)
	}
	return host, port, nil
}
