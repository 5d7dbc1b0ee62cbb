package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/gitcache"
)

// Names of the JetStream assets the pipeline creates.
const (
	// ConsumerName is the durable pull consumer on events.StreamEvents.
	ConsumerName = "scorebot-pipeline"
	// BucketLocks holds the per-repo leases that serialise work across bot processes.
	BucketLocks = "scorebot-locks"
	// BucketDeployed records, per repo, branch and environment, the last deployed event.
	BucketDeployed = "scorebot-deployed"
)

// StatusContext is the commit status context the deploy job sets on app commits.
const StatusContext = "scorebot/deploy"

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("invalid pipeline configuration")

// Config says where the pipeline keeps its data, which repos it reads and writes, and how
// it retries.
type Config struct {
	// DataDir holds the git caches (gitcache/, envrepos/). Required.
	DataDir string
	// Workers is the number of jobs run at once (default 4). Work for one repo is always
	// serialised; different repos proceed in parallel.
	Workers int

	// RulesURL is the clone URL of the rules repo (required); RulesBranch its branch
	// (default "main"); RulesRepo its "owner/name" on GitHub, which tells a rules push from
	// an app push (default: derived from RulesURL's last two path elements).
	RulesURL    string
	RulesBranch string
	RulesRepo   string
	// RulesMaxAge bounds how long the rules head is trusted without asking the server
	// (another bot process may have seen the push). Default 5m.
	RulesMaxAge time.Duration

	// GitURLTemplate, when set, makes the clone URL of an app repo from its "owner/name",
	// replacing {owner} and {name} (GitHub Enterprise, `bot dev`:
	// "http://127.0.0.1:8080/git/{name}.git"). Default: the event's clone URL, and
	// "https://github.com/{owner}/{name}.git" for repos known only by name (re-renders).
	GitURLTemplate string
	// GitAuth returns the credentials for git over HTTPS, e.g. forge.Client.GitAuth wrapped
	// as func(ctx) (transport.AuthMethod, error); it is asked on every git HTTP request, so
	// expiring installation tokens are renewed. nil: anonymous.
	GitAuth func(ctx context.Context) (transport.AuthMethod, error)

	// Author and Committer of env-repo commits (defaults: envrepo's); Signer signs them.
	Author    envrepo.Identity
	Committer envrepo.Identity
	Signer    envrepo.Signer

	// Forge reports to GitHub; nil: no reporting (the CLI, some tests).
	Forge *forge.Client

	// DirectCommitPromotedEnvs lets a rules push commit re-renders straight into
	// environments reached by promotion (until promotion PRs exist, issue 7).
	DirectCommitPromotedEnvs bool
	// PromotionPRs makes a rules push open a re-render PR for each environment reached by
	// promotion (RerenderPromoted) instead of leaving it alone; Standard sets it.
	PromotionPRs bool

	// Replicas of the streams and KV buckets the pipeline creates or updates: the same as the
	// server's (3 on a 3-node NATS cluster). Default 1.
	Replicas int

	// AckWait is how long a delivered message may go unacknowledged (default 1m; long jobs
	// extend it with InProgress). MaxDeliver bounds deliveries of one message (default 10);
	// the last failed one goes to the dead-letter stream. MaxAckPending bounds messages
	// handed out and not yet acknowledged (default 512).
	AckWait       time.Duration
	MaxDeliver    int
	MaxAckPending int
	// Backoff is the delay before redelivering after the n-th failed delivery (n from 1).
	// Default: 2s doubling, capped at 2m.
	Backoff func(n int) time.Duration
	// Settle coalesces bursts: while a branch is busy (its last deploy is less than
	// BurstWindow old), a push is deployed only once it is Settle old, so the newer pushes
	// of the burst supersede it first. A lone push deploys at once. Defaults 300ms and 2s;
	// a negative Settle turns this off.
	Settle      time.Duration
	BurstWindow time.Duration
	// LeaseTTL is the lifetime of a per-repo lease without renewal (default 30s).
	LeaseTTL time.Duration
	// PushAttempts bounds env-repo push retries per job (envrepo's default when 0).
	PushAttempts int

	// AfterDeploy, when set, runs after a push is deployed (or found deployed already) to its
	// first environment and reported: promotion (issue 7) opens or updates the promotion PR
	// there, e.g. func(ctx, p, job, env, repo, commit) { return p.AfterDeploy(ctx, job, env,
	// repo, commit) }. An error retries the event (the redelivery commits nothing and comes
	// back here); a permanent one dead-letters it.
	AfterDeploy func(ctx context.Context, p *Pipeline, job *Job, env, repo, commit string) error

	// Handlers run the event kinds the pipeline does not handle itself (pull_request,
	// issue_comment, ...), keyed by events.Kind*. A kind with no handler is acknowledged and
	// ignored.
	Handlers map[string]Handler

	Logger *slog.Logger
	// Registerer receives the pipeline's metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// Pipeline runs the workers. Build it with New, run it with Run.
type Pipeline struct {
	cfg     Config
	log     *slog.Logger
	cache   *gitcache.Cache
	metrics *metrics
	// owner identifies this process in leases.
	owner string

	rules rulesCache

	envMu    sync.Mutex
	envRepos map[string]*envrepo.Repo

	// Set by Run.
	js       jetstream.JetStream
	locks    jetstream.KeyValue
	deployed jetstream.KeyValue

	// afterApply, when set (tests), runs after the env-repo push and before the ack;
	// returning true makes the worker drop the job as a crash would (no ack, no nak).
	afterApply func(job *Job) (crash bool)
	// rollbackDepths are the history depths a rollback reads the env branch at, in turn
	// (0: all of it); tests make them small.
	rollbackDepths []int
}

// New checks cfg, fills in defaults and prepares the caches. It does not touch the network.
func New(cfg Config) (*Pipeline, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: DataDir is empty", ErrConfig)
	}
	if cfg.RulesURL == "" {
		return nil, fmt.Errorf("%w: RulesURL is empty: set the rules repo's clone URL", ErrConfig)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.RulesBranch == "" {
		cfg.RulesBranch = "main"
	}
	if cfg.RulesRepo == "" {
		if r, err := forge.RepoFromURL(cfg.RulesURL); err == nil {
			cfg.RulesRepo = r.String()
		} else {
			cfg.RulesRepo = cfg.RulesURL
		}
	}
	if cfg.RulesMaxAge <= 0 {
		cfg.RulesMaxAge = 5 * time.Minute
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = time.Minute
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 10
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = 512
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Settle == 0 {
		cfg.Settle = 300 * time.Millisecond
	}
	if cfg.BurstWindow <= 0 {
		cfg.BurstWindow = 2 * time.Second
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("pipeline data dir: %w", err)
	}
	cache, err := gitcache.New(filepath.Join(cfg.DataDir, "gitcache"), gitcache.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("pipeline git cache: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	host, _ := os.Hostname()
	return &Pipeline{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "pipeline"),
		cache:    cache,
		metrics:  m,
		owner:    host + "-" + hex.EncodeToString(id),
		envRepos: map[string]*envrepo.Repo{},
		// The last 64 commits hold most rollbacks' targets; then deeper, then all.
		rollbackDepths: []int{64, 1024, 0},
	}, nil
}

// DefaultBackoff is 2s doubling per failed delivery, capped at 2m.
func DefaultBackoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := 2 * time.Second * time.Duration(math.Pow(2, float64(min(n-1, 10))))
	return min(d, 2*time.Minute)
}

// cloneURL is where an app repo is fetched from: the template when set, else the URL the
// event carries, else github.com.
func (p *Pipeline) cloneURL(repo, fromEvent string) string {
	if p.cfg.GitURLTemplate == "" && fromEvent != "" {
		return fromEvent
	}
	tmpl := p.cfg.GitURLTemplate
	if tmpl == "" {
		tmpl = "https://github.com/{owner}/{name}.git"
	}
	owner, name, _ := strings.Cut(repo, "/")
	return strings.NewReplacer("{owner}", owner, "{name}", name).Replace(tmpl)
}

// gitAuth is the auth of every git request: nil (anonymous) or one that asks
// Config.GitAuth afresh for each request.
func (p *Pipeline) gitAuth(context.Context) (transport.AuthMethod, error) {
	if p.cfg.GitAuth == nil {
		return nil, nil
	}
	return refreshingAuth{get: p.cfg.GitAuth, log: p.log}, nil
}
