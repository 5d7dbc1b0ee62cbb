package reliability

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
)

// Paths relative to this package: the module root is two folders up, shared/ its sibling.
const (
	pushFixture = "../../../shared/fixtures/github-webhooks/push/with-new-branch.payload.json"
	owner       = "local"
)

// Credentials of the harness. They must never show up in the env repo (scanned at the end).
const (
	webhookSecret = "reliability-webhook-secret-7f3a9c"
	githubToken   = "ghp_reliabilityTestToken0123456789abcdef"
	tokenEnv      = "SCOREBOT_RELIABILITY_GITHUB_TOKEN"
)

// world is the outside of the bots: a git host over smart HTTP and the GitHub stand-in, on
// one loopback listener in the test process.
type world struct {
	t    testing.TB
	dir  string
	host *githost.Host
	gh   *standin.Server
	srv  *httptest.Server

	pushTemplate map[string]any

	mu    sync.Mutex
	heads map[string]string // app repo → latest commit pushed
}

func newWorld(t testing.TB, dir string) *world { return newWorldWith(t, dir) }

func newWorldWith(t testing.TB, dir string, opts ...githost.Option) *world {
	t.Helper()
	host, err := githost.New(filepath.Join(dir, "git"), append([]githost.Option{githost.WithLogger(discardLogger())}, opts...)...)
	if err != nil {
		t.Skipf("git host: %v", err)
	}
	gh, err := standin.New(standin.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	gh.SetToken(githubToken, standin.DefaultBot)
	mux := http.NewServeMux()
	mux.Handle("/git/", host)
	mux.Handle("/api/v3/", gh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b, err := os.ReadFile(pushFixture)
	if err != nil {
		t.Fatalf("%v (the shared/ folder must sit beside the repo)", err)
	}
	w := &world{t: t, dir: dir, host: host, gh: gh, srv: srv, heads: map[string]string{}}
	if err := json.Unmarshal(b, &w.pushTemplate); err != nil {
		t.Fatal(err)
	}
	return w
}

func discardLogger() *slog.Logger {
	if testing.Verbose() && os.Getenv("SCOREBOT_RELIABILITY_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (w *world) gitURL(name string) string { return githost.URL(w.srv.URL, name) }

// seedRules commits testdata/rules (env repo URL and postgres host filled in) and an empty
// env repo.
func (w *world) seedRules(pgHost string) string {
	w.t.Helper()
	sha, err := w.host.Seed("rules", w.rulesFiles(pgHost), "rules at "+pgHost)
	if err != nil {
		w.t.Fatal(err)
	}
	if !w.host.Exists("env") {
		if _, err := w.host.Seed("env", map[string][]byte{"README.md": []byte("env repo\n")}, "seed"); err != nil {
			w.t.Fatal(err)
		}
	}
	return sha
}

// rulesFiles is testdata/rules with the env repo URL and the postgres host filled in.
func (w *world) rulesFiles(pgHost string) map[string][]byte {
	w.t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(os.DirFS("testdata/rules"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("testdata/rules", p))
		s := strings.ReplaceAll(string(b), "ENV_REPO_URL", w.gitURL("env"))
		files[p] = []byte(strings.ReplaceAll(s, "HOST", pgHost))
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return files
}

func appName(i int) string { return fmt.Sprintf("app-%03d", i) }

// appFiles is testdata/app.score.yaml for app name at version.
func appFiles(name string, version int) map[string][]byte {
	b, err := os.ReadFile("testdata/app.score.yaml")
	if err != nil {
		panic(err)
	}
	s := strings.ReplaceAll(string(b), "APP", name)
	s = strings.ReplaceAll(s, "VERSION", fmt.Sprintf("v%d", version))
	return map[string][]byte{"score.yaml": []byte(s)}
}

// commit makes a real commit of version in app repo name and returns the push webhook body
// for it (before..after on main).
func (w *world) commit(ctx context.Context, name string, version int) (sha string, body []byte, err error) {
	before, err := w.host.Head(ctx, name, githost.DefaultBranch)
	if err != nil && w.host.Exists(name) {
		return "", nil, err
	}
	if !w.host.Exists(name) {
		before = ""
		sha, err = w.host.Seed(name, appFiles(name, version), "first")
	} else {
		sha, err = w.host.Commit(ctx, name, githost.DefaultBranch, appFiles(name, version), fmt.Sprintf("version %d", version))
	}
	if err != nil {
		return "", nil, err
	}
	if before == "" {
		before = githost.ZeroSHA
	}
	w.mu.Lock()
	w.heads[name] = sha
	w.mu.Unlock()
	return sha, w.pushPayload(name, before, sha), nil
}

// pushPayload is the octokit push fixture rewritten to a push of before..after on main of
// local/<name> on this host.
func (w *world) pushPayload(name, before, after string) []byte {
	b, _ := json.Marshal(w.pushTemplate)
	var p map[string]any
	_ = json.Unmarshal(b, &p) // a deep copy
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"] = name, owner+"/"+name
	repo["clone_url"] = w.gitURL(name)
	repo["default_branch"] = githost.DefaultBranch
	repo["owner"].(map[string]any)["login"] = owner
	repo["owner"].(map[string]any)["name"] = owner
	p["ref"] = "refs/heads/" + githost.DefaultBranch
	p["before"], p["after"] = before, after
	p["created"], p["deleted"] = before == githost.ZeroSHA, false
	if hc, ok := p["head_commit"].(map[string]any); ok {
		hc["id"] = after
	}
	out, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return out
}

// webhook is one signed delivery.
func webhookRequest(ctx context.Context, url, delivery string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write(body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	req.Header.Set("User-Agent", "GitHub-Hookshot/reliability")
	return req, nil
}

// By default the bot processes are the real `bot serve` (built once from ./cmd/bot), with its
// production timings. botEnv=inprocess runs this test binary in bot mode instead
// (main_test.go): the same server and pipeline with shorter leases and backoffs.
const botEnv = "SCOREBOT_FAULT_BOT"

// buildBot builds ./cmd/bot into dir and returns the binary.
func buildBot(t testing.TB, dir string) string {
	t.Helper()
	return goBuild(t, filepath.Join(dir, "bot"), "./cmd/bot")
}

// goBuild builds the main package pkg of this module or one it requires into bin.
func goBuild(t testing.TB, bin, pkg string) string {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = "../.." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startBots starts n bot processes (see botEnv) on the cluster at natsURL.
func (w *world) startBots(t testing.TB, n int, natsURL string, replicas int, direct bool) *bots {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(w.dir, "webhook-secret")
	if err := os.WriteFile(secretFile, []byte(webhookSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &bots{}
	serve := os.Getenv(botEnv) != "inprocess"
	var botBin, tokenFile string
	if serve {
		botBin = buildBot(t, w.dir)
		tokenFile = filepath.Join(w.dir, "github-token")
		if err := os.WriteFile(tokenFile, []byte(githubToken), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i, port := range freePorts(t, n) {
		listen := fmt.Sprintf("127.0.0.1:%d", port)
		dataDir := filepath.Join(w.dir, fmt.Sprintf("bot-%d", i+1))
		p := &proc{
			name:          fmt.Sprintf("bot-%d", i+1),
			log:           filepath.Join(w.dir, fmt.Sprintf("bot-%d.log", i+1)),
			restartOnExit: true,
		}
		if serve {
			p.argv = []string{botBin, "serve", "--listen", listen, "--webhook-secret-file", secretFile,
				"--data-dir", dataDir, "--nats-url", natsURL, "--nats-replicas", fmt.Sprint(replicas),
				"--rules-url", w.gitURL("rules"), "--rules-repo", owner + "/rules",
				"--git-url-template", w.srv.URL + "/git/{name}.git",
				"--github-api-url", w.srv.URL + "/api/v3/", "--github-token-file", tokenFile, "--workers", "4",
				fmt.Sprintf("--direct-commit-promoted-envs=%v", direct)}
		} else {
			cfg, _ := json.Marshal(botConfig{
				Listen: listen, NATSURL: natsURL, Replicas: replicas, SecretFile: secretFile,
				DataDir: dataDir, RulesURL: w.gitURL("rules"),
				RulesRepo: owner + "/rules", GitURLTemplate: w.srv.URL + "/git/{name}.git",
				GitHubAPIURL: w.srv.URL + "/api/v3/", GitHubTokenEnv: tokenEnv, Workers: 4, DirectPromoted: direct,
			})
			p.argv = []string{exe, "-test.run=^$"}
			p.env = []string{botModeEnv + "=" + string(cfg), tokenEnv + "=" + githubToken}
		}
		b.listen = append(b.listen, listen)
		b.procs = append(b.procs, p)
	}
	for _, p := range b.procs {
		p.start(t)
	}
	t.Cleanup(func() {
		for _, p := range b.procs {
			p.signal(t, syscall.SIGTERM)
			p.wg.Wait()
		}
	})
	for i := range b.procs {
		b.ready(t, i, 2*time.Minute)
	}
	return b
}
