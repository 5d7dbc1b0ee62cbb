// Package devbox is the `bot dev` sandbox: the whole Scorebot loop on one machine, on
// loopback, with no GitHub. One HTTP listener serves the local git host (/git/<name>.git),
// the GitHub REST stand-in (/api/v3/), the bot's webhook intake (/webhooks/github), its
// status page (/status: what runs where) and a small human page (/); the embedded NATS server and the workers run beside them. A push to any
// local repo, and every pull request and comment made through the stand-in, becomes the
// signed webhook GitHub would send, POSTed to the intake.
//
// It owns the sandbox's data dir layout, the seeding of the demo repos, the webhook emitter
// and the glue between the git host, the stand-in and the intake. It must not render, deploy
// or talk to real GitHub: the workers are handed in (Config.Workers) exactly as `bot serve`
// runs them, and the same Sandbox is the end-to-end harness of the pipeline's tests.
package devbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/server"
	"github.com/scorebot/scorebot/internal/statusview"
)

// Owner is the GitHub owner of every local repo: repo <name> is local/<name> on the GitHub side.
const Owner = "local"

// DefaultListen is where `bot dev` listens unless told otherwise.
const DefaultListen = "127.0.0.1:8080"

// DefaultUser is the developer: the pusher of local pushes and the author of PRs and comments
// made with `bot dev pr` and `bot dev comment` (admin on every repo).
const DefaultUser = "developer"

// BotLogin is who the bot's API requests act as in the stand-in.
const BotLogin = standin.DefaultBot

// Repo names the sandbox seeds.
const (
	RepoApp   = "demo-app"
	RepoRules = "rules"
	RepoEnv   = "env"
)

// Layout of the data dir: every path the sandbox creates, so --reset removes only these.
const (
	dirGit    = "git"
	dirGitHub = "github"
	dirNATS   = "nats"
	dirBot    = "bot"
)

// ErrNotLoopback is returned for a listen address that is not a loopback address.
var ErrNotLoopback = errors.New("listen address is not loopback")

// Config says how to run a Sandbox.
type Config struct {
	// DataDir holds all state (default .scorebot/dev); a second start resumes it.
	DataDir string
	// Listen is the loopback address to serve on (default 127.0.0.1:8080; port 0 picks one).
	Listen string
	// Reset removes the state of a previous run before starting.
	Reset bool
	// ExamplesDir holds rules/ (seeds the rules repo) and apps/<App>/ (seeds demo-app).
	// Default: the examples dir of the module, found from the working directory.
	ExamplesDir string
	// App is the example app demo-app is seeded with on the first start (default "blog").
	// On later starts "" means the one it was seeded with; another name is refused (demo-app
	// already holds an app: Reset starts afresh).
	App string
	// User is the developer's login (default DefaultUser).
	User string
	// Workers runs the bot's workers until ctx ends, as `bot serve` runs them. Nil runs none
	// (the intake still stores every event on the stream).
	Workers func(ctx context.Context, bot Bot) error
	// APITransport, when set, carries the bot's GitHub API requests to the stand-in (under
	// the forge client's retry layer), e.g. to record them for validation.
	APITransport http.RoundTripper
	// OnWebhook sees every webhook the sandbox delivers, after delivery (tests).
	OnWebhook func(d Delivery)
	// Logger receives the sandbox's log lines (default slog.Default()).
	Logger *slog.Logger
}

// Bot is what the workers get: the same parts `bot serve` hands them, pointed at the sandbox.
type Bot struct {
	JetStream jetstream.JetStream
	Conn      *nats.Conn
	// Forge is a go-github client of the stand-in, acting as the bot.
	Forge *forge.Client
	// ForgeConfig is how Forge was made (the token is the bot's, in memory only).
	ForgeConfig forge.Config
	// GitURL is the git host's root: repo <name> is GitURL + "/<name>.git".
	GitURL string
	// RulesURL and EnvURL are the clone URLs of the rules and env repos.
	RulesURL string
	EnvURL   string
	// DataDir is a directory the workers may keep caches in.
	DataDir string
	Logger  *slog.Logger
	// ServeStatus hands the sandbox what its /status page shows (the pipeline's promotion
	// state); the workers call it once they can read it. Until then /status answers 503.
	ServeStatus func(read func(context.Context) (statusview.Matrix, error))
}

// Sandbox is a running `bot dev`. Start it, then Stop (or cancel the context and Wait).
type Sandbox struct {
	cfg     Config
	log     *slog.Logger
	url     string
	addr    string
	secret  []byte
	ln      net.Listener
	srv     *http.Server
	git     *githost.Host
	gh      *standin.Server
	botSrv  *server.Server
	status  statusSource
	emitter *emitter
	bot     Bot

	cancel func()
	wg     sync.WaitGroup
	done   chan struct{}

	errMu sync.Mutex
	errs  []error
}

// Start brings the sandbox up and returns once it is serving. It keeps running until ctx
// ends or Stop is called; Wait returns when everything has stopped.
func Start(ctx context.Context, cfg Config) (_ *Sandbox, err error) {
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(".scorebot", "dev")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := checkLoopback(cfg.Listen); err != nil {
		return nil, err
	}
	if cfg.ExamplesDir == "" {
		dir, err := FindExamples()
		if err != nil {
			return nil, err
		}
		cfg.ExamplesDir = dir
	}
	if cfg.Reset {
		if err := reset(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}

	s := &Sandbox{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	cleanup := []func(){}
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (another `bot dev` running? try --listen 127.0.0.1:0)", cfg.Listen, err)
	}
	cleanup = append(cleanup, func() { _ = s.ln.Close() })
	s.addr = s.ln.Addr().String()
	s.url = "http://" + s.addr

	s.secret, err = randomBytes(32)
	if err != nil {
		return nil, err
	}
	botToken, err := randomBytes(20)
	if err != nil {
		return nil, err
	}

	s.emitter = newEmitter("", s.secret, s.log, cfg.OnWebhook)
	s.emitter.pushPayload = func(ctx context.Context, p *pushItem) ([]byte, error) {
		return pushPayload(ctx, s.gh, s.git.Dir(p.repo), s.url, p.repo, s.cfg.User, p.update, time.Now())
	}
	s.emitter.afterPush = func(p *pushItem) {
		branch, ok := strings.CutPrefix(p.update.Name, "refs/heads/")
		if ok && p.update.New != githost.ZeroSHA {
			s.gh.BranchPushed(Owner, p.repo, branch, p.update.New)
		}
	}

	s.git, err = githost.New(filepath.Join(cfg.DataDir, dirGit),
		githost.WithLogger(s.log),
		githost.WithIdentity("Scorebot dev", "dev@scorebot.invalid"),
		githost.WithOnPush(s.onPush))
	if err != nil {
		return nil, fmt.Errorf("git host: %w", err)
	}

	s.gh, err = standin.New(standin.Options{Dir: filepath.Join(cfg.DataDir, dirGitHub), DevUser: cfg.User, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("github stand-in: %w", err)
	}
	s.gh.URL = s.url
	s.gh.SetToken(hex.EncodeToString(botToken), BotLogin)
	s.gh.Merge = s.merge
	s.gh.HeadOf = func(owner, repo, branch string) (string, error) {
		if owner != Owner {
			return "", fmt.Errorf("repo %s/%s: only %s/<name> repos exist here", owner, repo, Owner)
		}
		return s.git.Head(context.Background(), repo, branch)
	}
	s.gh.Emit = func(event string, payload []byte) { s.emitter.enqueue(item{event: event, payload: payload}) }

	if err := s.seed(ctx); err != nil {
		return nil, err
	}

	fcfg := forge.Config{BaseURL: s.url + "/api/v3/", Token: forge.Secret(hex.EncodeToString(botToken)), Logger: s.log, UserAgent: "scorebot-dev", Transport: cfg.APITransport}
	fc, err := forge.New(fcfg)
	if err != nil {
		return nil, fmt.Errorf("forge client: %w", err)
	}
	// base is never written after this: the workers' goroutine copies it.
	base := Bot{
		Forge: fc, ForgeConfig: fcfg,
		GitURL: s.url + "/git", RulesURL: s.CloneURL(RepoRules), EnvURL: s.CloneURL(RepoEnv),
		DataDir: filepath.Join(cfg.DataDir, dirBot), Logger: s.log, ServeStatus: s.status.set,
	}

	// The bot, exactly as `bot serve` runs it, on a loopback port of its own; this listener
	// proxies its endpoints.
	s.botSrv, err = server.New(server.Config{Listen: "127.0.0.1:0", Secret: s.secret, DataDir: cfg.DataDir, Logger: s.log,
		Status: s.status.matrix, StatusWebURL: s.url})
	if err != nil {
		return nil, fmt.Errorf("bot: %w", err)
	}
	if cfg.Workers != nil {
		s.botSrv.Workers = func(ctx context.Context, js jetstream.JetStream) error {
			b := base
			b.JetStream, b.Conn = js, s.botSrv.Conn()
			return cfg.Workers(ctx, b)
		}
	}
	botCtx, stopBot := context.WithCancel(context.WithoutCancel(ctx))
	botDone := make(chan error, 1)
	go func() { botDone <- s.botSrv.Run(botCtx) }()
	select {
	case <-s.botSrv.Ready():
	case err := <-botDone:
		stopBot()
		return nil, fmt.Errorf("bot: %w", err)
	case <-ctx.Done():
		stopBot()
		<-botDone
		return nil, ctx.Err()
	}
	s.bot = base
	s.bot.JetStream, s.bot.Conn = s.botSrv.JetStream(), s.botSrv.Conn()
	botURL := &url.URL{Scheme: "http", Host: s.botSrv.Addr()}
	s.emitter.url = botURL.String() + "/webhooks/github"

	mux := http.NewServeMux()
	mux.Handle("/git/", s.flushAfter(s.git, false, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/git-receive-pack") }))
	mux.Handle("/api/v3/", s.flushAfter(s.gh, true, func(r *http.Request) bool { return r.Method != http.MethodGet }))
	proxy := httputil.NewSingleHostReverseProxy(botURL)
	for _, p := range []string{"/webhooks/github", "GET /healthz", "GET /readyz", "GET /metrics", "GET /status", "GET /status.json"} {
		mux.Handle(p, proxy)
	}
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.HandleFunc("GET /"+Owner+"/{repo}/{kind}/{id}", s.serveLink)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	emitCtx, stopEmitter := context.WithCancel(context.WithoutCancel(ctx))
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	go func() {
		defer s.wg.Done()
		s.emitter.run(emitCtx)
	}()
	stop := make(chan struct{})
	var once sync.Once
	s.cancel = func() { once.Do(func() { close(stop) }) }
	// The owner of everything above: stops it, in order, when ctx ends or Stop is called.
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		case err := <-botDone:
			// The bot stopped on its own: report it and take the rest down.
			s.fail(fmt.Errorf("bot: %w", err))
			botDone <- nil
		}
		s.shutdown(stopEmitter, stopBot, botDone)
	}()
	return s, nil
}

// shutdown stops the listener first (in-flight pushes and API calls finish and their webhooks
// go out), then the emitter, then the bot (workers, intake, NATS), and closes done.
func (s *Sandbox) shutdown(stopEmitter, stopBot context.CancelFunc, botDone chan error) {
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.fail(fmt.Errorf("http shutdown: %w", err))
	}
	stopEmitter()
	s.wg.Wait()
	stopBot()
	if err := <-botDone; err != nil {
		s.fail(fmt.Errorf("bot: %w", err))
	}
	close(s.done)
}

// Stop stops the sandbox and waits for everything to end.
func (s *Sandbox) Stop() error {
	s.cancel()
	return s.Wait()
}

// Wait blocks until the sandbox has stopped and returns what went wrong while it ran.
func (s *Sandbox) Wait() error {
	<-s.done
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return errors.Join(s.errs...)
}

func (s *Sandbox) fail(err error) {
	s.log.Error("bot dev", "err", err)
	s.errMu.Lock()
	s.errs = append(s.errs, err)
	s.errMu.Unlock()
}

// URL is the sandbox's root, e.g. http://127.0.0.1:8080.
func (s *Sandbox) URL() string { return s.url }

// Addr is the address the sandbox listens on (the real port when Listen asked for 0).
func (s *Sandbox) Addr() string { return s.addr }

// CloneURL is the clone URL of local repo name.
func (s *Sandbox) CloneURL(name string) string { return githost.URL(s.url, name) }

// Git is the local git host.
func (s *Sandbox) Git() *githost.Host { return s.git }

// GitHub is the GitHub stand-in.
func (s *Sandbox) GitHub() *standin.Server { return s.gh }

// JetStream is the bot's JetStream context (the intake's streams are there).
func (s *Sandbox) JetStream() jetstream.JetStream { return s.bot.JetStream }

// Bot is what the workers were (or would be) given.
func (s *Sandbox) Bot() Bot { return s.bot }

// DataDir is the sandbox's data dir.
func (s *Sandbox) DataDir() string { return s.cfg.DataDir }

// Deliveries returns the most recent webhook deliveries, oldest first (without payloads).
func (s *Sandbox) Deliveries() []Delivery { return s.emitter.recent() }

// Flush waits until every webhook caused so far (and those they caused) is delivered.
func (s *Sandbox) Flush(ctx context.Context) error { return s.emitter.flush(ctx) }

// flushAfter wraps h so that a request matching when returns only after the webhooks it
// caused were delivered: a `git push` or `bot dev pr open` that returned has reached the bot.
// With buffer, the answer is held back until then (go-github stops reading at the end of the
// JSON, so it would not wait for the end of the response); git reads to the end itself.
func (s *Sandbox) flushAfter(h http.Handler, buffer bool, when func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !when(r) {
			h.ServeHTTP(w, r)
			return
		}
		var bw *bufferedWriter
		if buffer {
			bw = &bufferedWriter{header: http.Header{}}
			h.ServeHTTP(bw, r)
		} else {
			h.ServeHTTP(w, r)
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		if err := s.emitter.flush(ctx); err != nil {
			s.log.Warn("bot dev: webhooks still queued after the request", "path", r.URL.Path, "err", err)
		}
		if bw != nil {
			if bw.status == 0 {
				bw.status = http.StatusOK
			}
			s.log.Info("bot dev: GitHub API", "method", r.Method, "path", r.URL.Path, "status", bw.status)
			for k, v := range bw.header {
				w.Header()[k] = v
			}
			w.WriteHeader(bw.status)
			_, _ = w.Write(bw.body.Bytes())
		}
	})
}

// bufferedWriter keeps a whole answer in memory.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// onPush runs under the git host's repo lock (and, for a merge, under the stand-in's lock):
// it only enqueues.
func (s *Sandbox) onPush(repo string, updates []githost.RefUpdate) {
	for _, u := range updates {
		s.emitter.enqueue(item{push: &pushItem{repo: repo, update: u}})
	}
}

// merge is the stand-in's Merge hook: a real merge in the bare repo.
func (s *Sandbox) merge(owner, repo, base, head, message string) (string, error) {
	if owner != Owner {
		return "", fmt.Errorf("repo %s/%s: only %s/<name> repos exist here", owner, repo, Owner)
	}
	sha, err := s.git.Merge(repo, base, head, message)
	if errors.Is(err, githost.ErrMergeConflict) {
		return "", fmt.Errorf("merge %s into %s of %s: %w", head, base, repo, standin.ErrMergeConflict)
	}
	return sha, err
}

func checkLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w (use host:port, e.g. %s)", listen, err, DefaultListen)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: %w: the sandbox has no authentication, use 127.0.0.1", listen, ErrNotLoopback)
	}
	return nil
}

// reset removes the state a previous run left in dataDir (and only that).
func reset(dataDir string) error {
	for _, d := range []string{dirGit, dirGitHub, dirNATS, dirBot} {
		if err := os.RemoveAll(filepath.Join(dataDir, d)); err != nil {
			return fmt.Errorf("--reset: %w", err)
		}
	}
	return nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

// FindExamples finds the module's examples dir by walking up from the working directory to
// the go.mod of the Scorebot module.
func FindExamples() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/scorebot/scorebot\n") {
			return filepath.Join(dir, "examples"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("examples dir not found: run `bot dev` inside the Scorebot checkout, or pass --examples DIR (a dir with rules/ and apps/)")
		}
		dir = parent
	}
}
