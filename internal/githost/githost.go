// Package githost is a local git host: bare repositories under one root directory, served over
// real smart HTTP by Debian's `git http-backend` behind net/http/cgi, at /git/<name>.git.
//
// It owns the bare repositories under its root and the HTTP handler that serves them; it
// reports pushes (OnPush), merges branches in a bare repo (the local pull-request merge), and
// injects faults for tests (FailNext, Hold). It must not know about webhooks, GitHub or the
// pipeline: `bot dev` and the tests wire those to OnPush.
//
// Pushes are observed by wrapping the http-backend handler: a git-receive-pack request runs
// under a per-repo lock, the refs are read before and after it, and the difference is handed to
// OnPush before the HTTP response completes. That needs no hook script in each repo (so a bare
// repo created by anyone under the root is observed too), no loopback callback listener, and a
// `git push` that returned has already been reported, so tests can wait on the push itself.
package githost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ZeroSHA is the object name git uses for "no ref" in a RefUpdate (creation or deletion).
const ZeroSHA = "0000000000000000000000000000000000000000"

// DefaultBranch is the branch Create and Seed use.
const DefaultBranch = "main"

// Exported errors, for errors.Is.
var (
	ErrInvalidName   = errors.New("invalid repository name")
	ErrNotFound      = errors.New("repository not found")
	ErrExists        = errors.New("repository already exists")
	ErrMergeConflict = errors.New("merge conflict")
	ErrNoBackend     = errors.New("git http-backend not found")
)

// RefUpdate is one ref changed by a push: Old or New is ZeroSHA for a creation or a deletion.
type RefUpdate struct {
	Name string // full ref name, e.g. refs/heads/main
	Old  string
	New  string
}

// Host serves the bare repositories under Root. The zero value is not usable; call New.
type Host struct {
	root      string
	backend   string
	gitBin    string
	onPush    func(repo string, updates []RefUpdate)
	log       *slog.Logger
	holdLimit time.Duration
	identity  []string // GIT_AUTHOR_* / GIT_COMMITTER_* for commits the host makes itself

	mu       sync.Mutex
	locks    map[string]*sync.Mutex
	failNext int
	waiting  int
	hold     chan struct{} // non-nil while requests are held; closed on release
}

// Option configures a Host.
type Option func(*Host)

// WithOnPush sets the function called after every push that changed refs, and after Merge.
// It runs synchronously under the repo's push lock before the push's HTTP response completes,
// so it must be quick and must not push to the same repo.
func WithOnPush(f func(repo string, updates []RefUpdate)) Option {
	return func(h *Host) { h.onPush = f }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Host) { h.log = l } }

// WithHoldLimit bounds how long a held request waits before it is answered 503 (default 30s).
func WithHoldLimit(d time.Duration) Option { return func(h *Host) { h.holdLimit = d } }

// WithIdentity sets the author and committer of commits the host makes (Seed, Merge).
func WithIdentity(name, email string) Option {
	return func(h *Host) { h.identity = identityEnv(name, email) }
}

func identityEnv(name, email string) []string {
	return []string{
		"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email,
	}
}

// New returns a Host serving the bare repos under root (created if missing). It finds git and
// its http-backend once, here.
func New(root string, opts ...Option) (*Host, error) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("githost: %w: git is not on PATH (install Debian's git)", ErrNoBackend)
	}
	out, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("githost: git --exec-path: %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("githost: %w at %s: %v", ErrNoBackend, backend, err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("githost: root %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("githost: create root: %w", err)
	}
	h := &Host{
		root:      abs,
		backend:   backend,
		gitBin:    gitBin,
		log:       slog.Default(),
		holdLimit: 30 * time.Second,
		identity:  identityEnv("Scorebot Dev", "scorebot@localhost"),
		locks:     map[string]*sync.Mutex{},
	}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// Root is the directory holding the bare repos.
func (h *Host) Root() string { return h.root }

// URL is the clone URL of repo name on a host served at base (e.g. "http://127.0.0.1:1234").
func URL(base, name string) string {
	return strings.TrimSuffix(base, "/") + "/git/" + name + ".git"
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)

// validName reports whether name is a safe repository name: segments of letters, digits, '.',
// '_' and '-', joined by '/', none starting with '.', none ending in ".git".
func validName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name+"/", ".git/") || strings.Contains(name, "..") {
		return fmt.Errorf("%w %q: use letters, digits, '.', '_', '-' (and '/' between parts), without .git", ErrInvalidName, name)
	}
	return nil
}

// Dir is the bare repository directory of name.
func (h *Host) Dir(name string) string { return filepath.Join(h.root, filepath.FromSlash(name)+".git") }

// Exists reports whether the bare repo name exists.
func (h *Host) Exists(name string) bool {
	if validName(name) != nil {
		return false
	}
	st, err := os.Stat(filepath.Join(h.Dir(name), "HEAD"))
	return err == nil && !st.IsDir()
}

// Create makes an empty bare repo whose default branch is main. Pushes to it are allowed.
func (h *Host) Create(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if h.Exists(name) {
		return fmt.Errorf("githost: create %s: %w", name, ErrExists)
	}
	dir := h.Dir(name)
	if _, err := h.git(context.Background(), "", nil, "init", "--quiet", "--bare", "--initial-branch="+DefaultBranch, dir); err != nil {
		return fmt.Errorf("githost: create %s: %w", name, err)
	}
	// REMOTE_USER set by the handler already allows pushes; the config makes the repo
	// pushable by a plain `git http-backend` too.
	if _, err := h.git(context.Background(), dir, nil, "config", "http.receivepack", "true"); err != nil {
		return fmt.Errorf("githost: create %s: %w", name, err)
	}
	return nil
}

// Repos lists the bare repos under the root, sorted.
func (h *Host) Repos() ([]string, error) {
	var names []string
	err := filepath.WalkDir(h.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasSuffix(d.Name(), ".git") && p != h.root {
			rel, _ := filepath.Rel(h.root, p)
			names = append(names, strings.TrimSuffix(filepath.ToSlash(rel), ".git"))
			return filepath.SkipDir
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}

// lock returns the push lock of repo name.
func (h *Host) lock(name string) *sync.Mutex {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[name]
	if !ok {
		l = &sync.Mutex{}
		h.locks[name] = l
	}
	return l
}

// git runs git with dir as GIT_DIR (when non-empty), stdin, and the host's identity, and
// returns its trimmed stdout.
func (h *Host) git(ctx context.Context, dir string, stdin *strings.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.gitBin, args...)
	cmd.Env = append(os.Environ(), h.identity...)
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	if dir != "" {
		cmd.Env = append(cmd.Env, "GIT_DIR="+dir)
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out)), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Refs returns the refs of repo name (full name → sha).
func (h *Host) Refs(ctx context.Context, name string) (map[string]string, error) {
	if !h.Exists(name) {
		return nil, fmt.Errorf("githost: %s: %w", name, ErrNotFound)
	}
	out, err := h.git(ctx, h.Dir(name), nil, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return nil, fmt.Errorf("githost: refs of %s: %w", name, err)
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		sha, ref, ok := strings.Cut(line, " ")
		if ok {
			refs[ref] = sha
		}
	}
	return refs, nil
}

// Head returns the sha of branch in repo name, or "" when the branch does not exist.
func (h *Host) Head(ctx context.Context, name, branch string) (string, error) {
	refs, err := h.Refs(ctx, name)
	if err != nil {
		return "", err
	}
	return refs["refs/heads/"+branch], nil
}

// diffRefs lists the refs that changed between before and after, sorted by name.
func diffRefs(before, after map[string]string) []RefUpdate {
	var ups []RefUpdate
	for ref, n := range after {
		if o := before[ref]; o != n {
			if o == "" {
				o = ZeroSHA
			}
			ups = append(ups, RefUpdate{Name: ref, Old: o, New: n})
		}
	}
	for ref, o := range before {
		if _, ok := after[ref]; !ok {
			ups = append(ups, RefUpdate{Name: ref, Old: o, New: ZeroSHA})
		}
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].Name < ups[j].Name })
	return ups
}
