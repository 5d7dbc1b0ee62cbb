package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/pipeline"
	"github.com/scorebot/scorebot/internal/server"
)

// botModeEnv, when set in the environment, makes this test binary run one bot process
// instead of the tests; its value is the JSON botConfig.
const botModeEnv = "SCOREBOT_RELIABILITY_BOT"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(botModeEnv); cfg != "" {
		os.Exit(botMain(cfg))
	}
	os.Exit(m.Run())
}

// botConfig is what one bot process is started with: the flags `bot serve` would get.
type botConfig struct {
	Listen         string `json:"listen"`
	NATSURL        string `json:"nats_url"`
	Replicas       int    `json:"replicas"`
	SecretFile     string `json:"secret_file"`
	DataDir        string `json:"data_dir"`
	RulesURL       string `json:"rules_url"`
	RulesRepo      string `json:"rules_repo"`
	GitURLTemplate string `json:"git_url_template"`
	GitHubAPIURL   string `json:"github_api_url"`
	GitHubTokenEnv string `json:"github_token_env"` // name of the env var holding the token
	Workers        int    `json:"workers"`
	DirectPromoted bool   `json:"direct_promoted"`
}

// botMain runs server + pipeline as `bot serve --role all` does, until SIGTERM (or SIGKILL).
func botMain(raw string) int {
	var cfg botConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bot config:", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := runBot(cfg, log); err != nil {
		log.Error("bot exits", "err", err)
		return 1
	}
	return 0
}

func runBot(cfg botConfig, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	secret, err := os.ReadFile(cfg.SecretFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	srv, err := server.New(server.Config{
		Listen: cfg.Listen, Secret: secret, DataDir: filepath.Join(cfg.DataDir, "server"),
		NATS:     events.ConnectOptions{URL: cfg.NATSURL, Logger: log},
		Replicas: cfg.Replicas, Role: server.RoleAll, Logger: log, Registry: reg,
		ShutdownTimeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	fc, err := forge.New(forge.Config{BaseURL: cfg.GitHubAPIURL, Token: forge.Secret(os.Getenv(cfg.GitHubTokenEnv)), Logger: log})
	if err != nil {
		return err
	}
	p, err := pipeline.New(pipeline.Config{
		DataDir: filepath.Join(cfg.DataDir, "pipeline"), Workers: cfg.Workers,
		RulesURL: cfg.RulesURL, RulesRepo: cfg.RulesRepo, RulesMaxAge: time.Second,
		GitURLTemplate: cfg.GitURLTemplate, Forge: fc,
		DirectCommitPromotedEnvs: cfg.DirectPromoted,
		AckWait:                  15 * time.Second, MaxDeliver: 50,
		Backoff:  func(n int) time.Duration { return min(time.Duration(n)*200*time.Millisecond, 2*time.Second) },
		LeaseTTL: 5 * time.Second, PushAttempts: 50, Replicas: cfg.Replicas,
		Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	srv.Workers = p.Run
	return srv.Run(ctx)
}
