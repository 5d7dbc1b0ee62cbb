package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/scorebot/scorebot/internal/config"
	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/server"
	"github.com/scorebot/scorebot/internal/statusview"
)

const serveUsage = `Usage: bot serve [--config FILE] [flags]

Runs the bot: GitHub webhooks in on POST /webhooks/github, stored exactly once per delivery on
NATS JetStream (an embedded server storing under --data-dir, or --nats-url), and the workers.
Also serves /healthz, /readyz and /metrics, and with --status-page the environment × app
matrix on /status and /status.json.

Every flag can also come from the environment (SCOREBOT_ + the flag name in upper case with _
for -, e.g. SCOREBOT_WEBHOOK_SECRET_FILE) or from the YAML config file (keys are the flag
names). A flag beats the environment, which beats the file, which beats the default.

Flags:
`

// serveEnvPrefix prefixes the environment variable of every serve flag.
const serveEnvPrefix = "SCOREBOT"

// runServe implements `bot serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML config `FILE` (env SCOREBOT_CONFIG)")
	listen := fs.String("listen", ":8080", "HTTP listen `ADDR`")
	secretFile := fs.String("webhook-secret-file", "", "`FILE` holding the GitHub webhook secret (required unless --role workers)")
	dataDir := fs.String("data-dir", "data", "`DIR` for the embedded NATS store and worker state")
	role := fs.String("role", server.RoleAll, "`ROLE`: all, webhooks or workers")
	natsURL := fs.String("nats-url", "", "external NATS `URL`s, comma-separated (default: embedded server)")
	natsCreds := fs.String("nats-creds", "", "NATS credentials `FILE` (JWT + nkey)")
	natsCA := fs.String("nats-tls-ca", "", "CA `FILE` to verify the NATS server")
	natsCert := fs.String("nats-tls-cert", "", "client certificate `FILE` for NATS")
	natsKey := fs.String("nats-tls-key", "", "client key `FILE` for NATS")
	natsListen := fs.String("nats-listen", "", "also expose the embedded NATS server on `HOST:PORT` (e.g. 127.0.0.1:4222)")
	replicas := fs.Int("nats-replicas", 1, "`N` replicas of the streams and KV bucket (3 on a 3-node cluster)")
	publishTimeout := fs.Duration("publish-timeout", 5*time.Second, "how long a webhook may wait for NATS before answering 503 (a `DURATION` such as 5s)")
	logLevel := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	statusPage := fs.Bool("status-page", false, "serve GET /status and /status.json (roles all and workers): what runs where, from which commit, pending promotions; anyone who reaches --listen sees it, so it is off unless you want that")
	var work workerFlags
	work.register(fs)
	var flux fluxFlags
	flux.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bot serve: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	if *configFile == "" {
		*configFile = os.Getenv(config.EnvName(serveEnvPrefix, "config"))
	}
	if err := config.Apply(fs, serveEnvPrefix, os.LookupEnv, *configFile, "config"); err != nil {
		return err
	}

	switch *role {
	case server.RoleAll, server.RoleWebhooks, server.RoleWorkers:
	default:
		// Checked before the secret, whose absence a mistyped "workers" would excuse.
		return fmt.Errorf("--role %q: want %s, %s or %s", *role, server.RoleAll, server.RoleWebhooks, server.RoleWorkers)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	var secret []byte
	if *role != server.RoleWorkers {
		var err error
		if secret, err = readSecret(*secretFile); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// GitHub is for the workers and the Flux feedback endpoint; an intake-only process
	// neither reads credentials nor warns that it has none.
	var gh *forge.Client
	var err error
	if *role != server.RoleWebhooks || flux.secretFile != "" {
		if gh, err = work.forge(log); err != nil {
			return err
		}
	}
	var p *pipeline.Pipeline
	if *role != server.RoleWebhooks {
		if p, err = work.pipeline(*role, *dataDir, *replicas, gh, log, reg); err != nil {
			return err
		}
	}
	handlers, err := flux.handlers(*role, *dataDir, gh, p, log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Listen:  *listen,
		Secret:  secret,
		DataDir: *dataDir,
		NATS: events.ConnectOptions{
			URL: *natsURL, CredsFile: *natsCreds,
			TLSCAFile: *natsCA, TLSCertFile: *natsCert, TLSKeyFile: *natsKey,
		},
		EmbeddedListen: *natsListen,
		Replicas:       *replicas,
		Role:           *role,
		PublishTimeout: *publishTimeout,
		Logger:         log,
		Registry:       reg,
		Handlers:       handlers,
		Status:         statusSource(*statusPage, *role, p, log),
		StatusWebURL:   forge.WebURL(work.githubAPI),
	})
	if err != nil {
		return err
	}
	if p != nil {
		srv.Workers = p.Run
	}
	return srv.Run(ctx)
}

// statusSource is what --status-page serves: the workers' promotion state, or nil when the
// page is off or this process runs no workers (which it says, not to fail a config file shared
// by processes of every role).
func statusSource(on bool, role string, p *pipeline.Pipeline, log *slog.Logger) func(context.Context) (statusview.Matrix, error) {
	switch {
	case !on:
		return nil
	case role == server.RoleWebhooks:
		log.Warn("--status-page ignored with --role webhooks: processes that run the workers (role all or workers) serve /status")
		return nil
	case p == nil:
		log.Warn("--status-page ignored: no workers run without --rules-url, so there is no promotion state to show")
		return nil
	}
	return p.StatusMatrix
}

// readSecret reads the webhook secret from path, without its trailing newline.
func readSecret(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("no webhook secret: set --webhook-secret-file (or SCOREBOT_WEBHOOK_SECRET_FILE, or webhook-secret-file in the config file) to a file holding the secret configured on the GitHub App or webhook")
	}
	return readSecretFile(path, "--webhook-secret-file", "the secret configured on the GitHub App or webhook")
}

// readSecretFile reads a credential from the file a flag names, without its trailing line
// ends (a webhook secret may begin or end with a space, and must stay byte for byte); what
// says what belongs in it, for the error of an empty file. The value is never part of an
// error.
func readSecretFile(path, flagName, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: %s is empty: put %s in it", flagName, path, what)
	}
	return b, nil
}
