package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// MaxMessageSize is the max_payload the embedded server allows: a 25 MiB webhook body plus
// its Event. The configs in nats/ set the same.
const MaxMessageSize = 32 << 20

// EmbeddedOption changes how StartEmbedded runs the server.
type EmbeddedOption func(*embeddedOptions)

type embeddedOptions struct {
	listenHost string
	listenPort int
	listen     bool
	logger     *slog.Logger
	name       string
}

// WithListen makes the embedded server also accept clients on host:port (port 0 picks a
// free one), e.g. for the nats CLI on 127.0.0.1. Without it the server does not listen.
func WithListen(host string, port int) EmbeddedOption {
	return func(o *embeddedOptions) { o.listen, o.listenHost, o.listenPort = true, host, port }
}

// WithServerLogger sends the server's own log lines to l (at debug for its notices).
func WithServerLogger(l *slog.Logger) EmbeddedOption {
	return func(o *embeddedOptions) { o.logger = l }
}

// WithServerName names the embedded server (default "scorebot").
func WithServerName(name string) EmbeddedOption {
	return func(o *embeddedOptions) { o.name = name }
}

// StartEmbedded runs a nats-server with JetStream in this process, storing under
// dataDir/nats, and returns it with an in-process client connection. Close both with
// ShutdownEmbedded.
func StartEmbedded(dataDir string, opts ...EmbeddedOption) (*server.Server, *nats.Conn, error) {
	o := embeddedOptions{name: "scorebot"}
	for _, opt := range opts {
		opt(&o)
	}
	sopts := &server.Options{
		ServerName: o.name,
		JetStream:  true,
		StoreDir:   StoreDir(dataDir),
		DontListen: !o.listen,
		Host:       o.listenHost,
		Port:       o.listenPort,
		MaxPayload: MaxMessageSize,
		MaxPending: 2 * MaxMessageSize,
		NoSigs:     true,
		NoLog:      o.logger == nil,
	}
	if !o.listen {
		sopts.Port = server.RANDOM_PORT // unused: DontListen
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded nats-server in %s: %w", sopts.StoreDir, err)
	}
	if o.logger != nil {
		ns.SetLoggerV2(slogAdapter{o.logger}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, nil, fmt.Errorf("embedded nats-server in %s: not ready after 30s", sopts.StoreDir)
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("scorebot"), nats.MaxReconnects(-1))
	if err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, nil, fmt.Errorf("connect to embedded nats-server: %w", err)
	}
	return ns, nc, nil
}

// ShutdownEmbedded drains nc (pending publishes and acks finish), then shuts ns down and
// waits until it has flushed its store. Either may be nil.
func ShutdownEmbedded(ctx context.Context, ns *server.Server, nc *nats.Conn) error {
	err := Drain(ctx, nc)
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
	return err
}

// StoreDir is where the embedded server started on dataDir keeps its JetStream store.
func StoreDir(dataDir string) string { return filepath.Join(dataDir, "nats") }

// RestartJetStream stops JetStream on ns, an embedded server StartEmbedded started on
// dataDir, and starts it again on the same store with the limits of started (what
// ns.JetStreamConfig returned while it ran; nil sizes them anew): the streams, consumers and
// buckets are recovered from disk. nats-server keeps a stream's first write error (a full
// disk) and refuses every later write of that stream until it is recovered so; it also
// disables JetStream on some out-of-space paths. Clients stay connected; their JetStream
// requests fail while it restarts. Limits sized anew would be what is free on a disk just
// freed, or still full: every later publish would be refused, "insufficient resources".
func RestartJetStream(ns *server.Server, dataDir string, started *server.JetStreamConfig) error {
	storeDir := StoreDir(dataDir)
	if err := ns.ShutdownJetStream(); err != nil {
		return fmt.Errorf("stop JetStream on %s: %w", storeDir, err)
	}
	next := &server.JetStreamConfig{StoreDir: storeDir} // joined with "jetstream" again
	if started != nil {
		next.MaxMemory, next.MaxStore = started.MaxMemory, started.MaxStore
	}
	if err := ns.EnableJetStream(next); err != nil {
		return fmt.Errorf("start JetStream on %s: %w", storeDir, err)
	}
	return nil
}

// HasRoom reports whether n bytes can be written in dir now, by writing and removing a
// file of that size: a store restarted on a disk still full would fail again at once.
func HasRoom(dir string, n int) error {
	f, err := os.CreateTemp(dir, ".room-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, n))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Drain drains nc and waits until it is closed or ctx ends (then it closes it).
func Drain(ctx context.Context, nc *nats.Conn) error {
	if nc == nil || nc.IsClosed() {
		return nil
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("drain nats connection: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("drain nats connection: %w", ctx.Err())
	}
}

// ConnectOptions configure a connection to an external NATS server or cluster.
type ConnectOptions struct {
	// URL is one or more comma-separated nats:// or tls:// URLs.
	URL string
	// CredsFile is a NATS .creds file (JWT and nkey seed).
	CredsFile string
	// TLSCAFile verifies the server; TLSCertFile and TLSKeyFile authenticate the client.
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string
	// ReconnectWait is the pause between reconnect attempts (default 250ms).
	ReconnectWait time.Duration
	// Logger receives disconnect and reconnect notices (optional).
	Logger *slog.Logger
	// OnReconnect is called after every reconnect (optional), e.g. to re-ensure streams on
	// a server that lost its state.
	OnReconnect func()
}

// Connect dials an external NATS server. It keeps retrying in the background when the
// server is not up yet (the returned connection reports so via Status) and reconnects
// forever.
func Connect(o ConnectOptions) (*nats.Conn, error) {
	if o.URL == "" {
		return nil, errors.New("connect to NATS: no URL (set --nats-url)")
	}
	wait := o.ReconnectWait
	if wait == 0 {
		wait = 250 * time.Millisecond
	}
	opts := []nats.Option{
		nats.Name("scorebot"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1), // never buffer publishes while disconnected: fail fast, answer 503
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(o.TLSCAFile))
	}
	if o.TLSCertFile != "" || o.TLSKeyFile != "" {
		opts = append(opts, nats.ClientCert(o.TLSCertFile, o.TLSKeyFile))
	}
	l := o.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	opts = append(opts,
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { l.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			l.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			if o.OnReconnect != nil {
				o.OnReconnect()
			}
		}),
	)
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", o.URL, err)
	}
	return nc, nil
}

// slogAdapter lets nats-server log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
