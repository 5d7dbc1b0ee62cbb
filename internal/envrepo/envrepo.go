// Package envrepo writes commits to an env repo (the Git repo Flux watches): the Deploy stage's
// writer, and the reader behind previews.
//
// It owns a local bare clone per env repo under a data dir, builds each commit with go-git
// plumbing (only the trees on changed paths are read and written, unchanged subtrees are kept by
// hash, never a worktree or a status scan), and pushes it with optimistic concurrency: the push
// names the head it was built on; when the server has moved on it fetches, rebuilds and retries
// (bounded, jittered backoff), and it never force-pushes a branch it does not own. It must not
// render, decide what to deploy, or talk to GitHub's API.
package envrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage"
)

// Exported errors, for errors.Is.
var (
	// ErrInvalidPath: a file path or owned prefix is not a plain relative path.
	ErrInvalidPath = errors.New("invalid path")
	// ErrPushFailed: the push did not land within the allowed attempts (transient: retry later).
	ErrPushFailed = errors.New("push to env repo failed")
	// ErrNotBotBranch: PushBranch was asked to force-update a branch outside the bot's prefix.
	ErrNotBotBranch = errors.New("branch is not owned by the bot")
	// ErrNoBranch: the branch does not exist in the env repo.
	ErrNoBranch = errors.New("branch not found")
)

// Identity names an author or committer.
type Identity struct {
	Name  string
	Email string
}

// Signer signs the encoded commit (without its signature) and returns an armored signature.
// It has the shape of go-git's git.Signer; see GPGSigner and SSHSigner.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

// Config says which env repo to write and how.
type Config struct {
	URL    string // clone URL (http(s), or a local path in tools)
	Branch string // default "main"
	Dir    string // local bare clone; created when missing
	Auth   transport.AuthMethod

	Author    Identity // default "Scorebot <scorebot@localhost>"
	Committer Identity // default Author
	Signer    Signer   // optional commit signing

	// BotBranchPrefix is the only branch prefix PushBranch may force-update (default "scorebot/").
	BotBranchPrefix string

	MaxAttempts int                                              // push attempts per call, default 10
	Backoff     func(attempt int) time.Duration                  // default: jittered exponential, 50ms..2s
	Sleep       func(ctx context.Context, d time.Duration) error // default: a timer honouring ctx
	Now         func() time.Time                                 // default time.Now
	Logger      *slog.Logger
}

// Trailer is one "Key: value" line at the end of a commit message.
type Trailer struct {
	Key   string
	Value string
}

// Message is a commit message: subject line, optional body, trailers.
type Message struct {
	Subject  string
	Body     string
	Trailers []Trailer
}

// String renders the message the way git writes it.
func (m Message) String() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(m.Subject))
	b.WriteString("\n")
	if body := strings.TrimSpace(m.Body); body != "" {
		b.WriteString("\n" + body + "\n")
	}
	if len(m.Trailers) > 0 {
		b.WriteString("\n")
		for _, t := range m.Trailers {
			fmt.Fprintf(&b, "%s: %s\n", t.Key, strings.ReplaceAll(t.Value, "\n", " "))
		}
	}
	return b.String()
}

// Result tells what a write did.
type Result struct {
	Changed  bool   // false: the change produced the tree already there, nothing was committed
	Commit   string // the new commit (or, when !Changed, the current head)
	Parent   string // the head it was built on ("" for the first commit)
	Attempts int    // push attempts made
}

// Repo is one env repo and its local clone. Its methods are safe for concurrent use; several
// Repos (other processes, other data dirs) may write the same env repo at once.
type Repo struct {
	cfg    Config
	log    *slog.Logger
	mu     sync.Mutex // serialises this Repo's use of the local clone
	repo   *git.Repository
	store  storage.Storer
	remote *git.Remote
}

// Open opens or creates the local bare clone of cfg.URL under cfg.Dir. It does not touch the
// network.
func Open(cfg Config) (*Repo, error) {
	if cfg.URL == "" || cfg.Dir == "" {
		return nil, errors.New("envrepo: Config.URL and Config.Dir are required")
	}
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	if cfg.Author.Name == "" {
		cfg.Author = Identity{Name: "Scorebot", Email: "scorebot@localhost"}
	}
	if cfg.Committer.Name == "" {
		cfg.Committer = cfg.Author
	}
	if cfg.BotBranchPrefix == "" {
		cfg.BotBranchPrefix = "scorebot/"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Repo{cfg: cfg, log: log.With("env_repo", redactURL(cfg.URL))}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Repo) open() error {
	repo, err := git.PlainOpen(r.cfg.Dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(r.cfg.Dir, 0o755); err != nil {
			return fmt.Errorf("envrepo: create %s: %w", r.cfg.Dir, err)
		}
		repo, err = git.PlainInit(r.cfg.Dir, true)
	}
	if err != nil {
		return fmt.Errorf("envrepo: open local clone %s: %w", r.cfg.Dir, err)
	}
	remote, err := repo.Remote("origin")
	if errors.Is(err, git.ErrRemoteNotFound) {
		remote, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.cfg.URL}})
	}
	if err != nil {
		return fmt.Errorf("envrepo: remote of %s: %w", r.cfg.Dir, err)
	}
	if got := remote.Config().URLs; len(got) != 1 || got[0] != r.cfg.URL {
		return fmt.Errorf("envrepo: local clone %s belongs to another repo: use one data dir per env repo", r.cfg.Dir)
	}
	r.repo, r.store, r.remote = repo, repo.Storer, remote
	return nil
}

// DefaultBackoff is exponential from 50ms, capped at 2s, with full jitter in [d/2, d).
func DefaultBackoff(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 6)
	d = min(d, 2*time.Second)
	return d/2 + rand.N(d/2)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redactURL drops any user info from u so it can be logged.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}

func (r *Repo) signature(id Identity) object.Signature {
	return object.Signature{Name: id.Name, Email: id.Email, When: r.cfg.Now()}
}

func branchRef(b string) plumbing.ReferenceName { return plumbing.NewBranchReferenceName(b) }

func trackingRef(b string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", b)
}
