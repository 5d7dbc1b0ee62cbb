// Package gitcache is the Read stage's view of app and rules repos: it fetches exactly one
// commit of a repo with go-git into a per-repo bare cache on disk (shallow where the server
// allows, incremental after the first fetch) and serves that commit's tree as an fs.FS without
// a worktree.
//
// It owns the cache directories under its data dir; a cache found corrupted is removed and
// fetched again. It must not write to any remote, nor interpret the files it serves.
package gitcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/scorebot/scorebot/internal/gitstore"
)

// Exported errors, for errors.Is.
var (
	// ErrInvalidSource: the Source lacks a URL, or both branch and commit, or has a bad sha.
	ErrInvalidSource = errors.New("invalid source")
	// ErrCommitNotFound: the server does not have the commit (or not on the named branch).
	ErrCommitNotFound = errors.New("commit not found")
)

// Source names what to fetch: a commit of a repo, or the head of a branch when Commit is "".
type Source struct {
	URL    string
	Branch string               // the branch the commit is on (optional when Commit is set)
	Commit string               // 40-hex sha; "" means the branch's current head
	Auth   transport.AuthMethod // overrides the cache's default auth for this source
}

// Cache holds one bare repo per remote URL under its dir. It is safe for concurrent use; work on
// one repo is serialised, different repos proceed in parallel.
type Cache struct {
	dir  string
	auth transport.AuthMethod
	log  *slog.Logger

	mu    sync.Mutex
	repos map[string]*entry
}

type entry struct {
	mu   sync.Mutex
	dir  string
	url  string
	repo *git.Repository
}

// Option configures a Cache.
type Option func(*Cache)

// WithAuth sets the auth used for every source that has none of its own.
func WithAuth(a transport.AuthMethod) Option { return func(c *Cache) { c.auth = a } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Cache) { c.log = l } }

// New returns a cache keeping its repos under dir (created when missing).
func New(dir string, opts ...Option) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gitcache: create %s: %w", dir, err)
	}
	c := &Cache{dir: dir, log: slog.Default(), repos: map[string]*entry{}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dirFor names the cache directory of a URL: readable, and unique by a hash of the URL.
func (c *Cache) dirFor(u string) string {
	sum := sha256.Sum256([]byte(u))
	name := u
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		name = p.Host + p.Path
	}
	name = strings.Trim(unsafeChars.ReplaceAllString(name, "_"), "_.")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return filepath.Join(c.dir, name+"-"+hex.EncodeToString(sum[:6])+".git")
}

func (c *Cache) entry(u string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.repos[u]
	if !ok {
		e = &entry{dir: c.dirFor(u), url: u}
		c.repos[u] = e
	}
	return e
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Fetch makes the commit of src available locally and returns its tree. Fetching a commit the
// cache already has touches no network. A cache that turns out corrupted is removed and fetched
// afresh, once.
func (c *Cache) Fetch(ctx context.Context, src Source) (*Snapshot, error) {
	if src.URL == "" || (src.Branch == "" && src.Commit == "") {
		return nil, fmt.Errorf("gitcache: %w: need a URL and a branch or commit", ErrInvalidSource)
	}
	if src.Commit != "" && !shaRE.MatchString(src.Commit) {
		return nil, fmt.Errorf("gitcache: %w: commit %q is not a 40-hex sha", ErrInvalidSource, src.Commit)
	}
	if src.Branch != "" {
		if err := plumbing.NewBranchReferenceName(src.Branch).Validate(); err != nil {
			return nil, fmt.Errorf("gitcache: %w: branch %q: %v", ErrInvalidSource, src.Branch, err)
		}
	}
	if src.Auth == nil {
		src.Auth = c.auth
	}
	e := c.entry(src.URL)
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := c.fetchLocked(ctx, e, src)
	if err != nil && !transient(ctx, err) {
		c.log.Warn("gitcache: cache unreadable, fetching afresh", "repo", redact(src.URL), "err", err)
		if rerr := e.reset(); rerr != nil {
			return nil, fmt.Errorf("gitcache: reset %s: %w (after: %v)", e.dir, rerr, err)
		}
		s, err = c.fetchLocked(ctx, e, src)
	}
	if err != nil {
		return nil, fmt.Errorf("gitcache: fetch %s@%s: %w", redact(src.URL), orBranch(src), err)
	}
	return s, nil
}

func orBranch(s Source) string {
	if s.Commit != "" {
		return s.Commit
	}
	return s.Branch
}

// transient reports errors that say nothing about the cache's health: the network, the server,
// the caller, or a commit the server does not have.
func transient(ctx context.Context, err error) bool {
	return ctx.Err() != nil || gitstore.Elsewhere(err) || errors.Is(err, ErrCommitNotFound) ||
		errors.Is(err, transport.ErrRepositoryNotFound) || errors.Is(err, transport.ErrEmptyRemoteRepository) ||
		errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrInvalidAuthMethod)
}

// reset removes the entry's directory so the next fetch starts afresh.
func (e *entry) reset() error {
	e.repo = nil
	return os.RemoveAll(e.dir)
}

func (e *entry) open() error {
	if e.repo != nil {
		return nil
	}
	repo, err := git.PlainOpen(e.dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInit(e.dir, true)
		if err == nil {
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{e.url}})
		}
	}
	if err != nil {
		return fmt.Errorf("open cache %s: %w", e.dir, err)
	}
	e.repo = repo
	return nil
}

func (e *entry) has(h plumbing.Hash) bool {
	return e.repo.Storer.HasEncodedObject(h) == nil
}

func (c *Cache) fetchLocked(ctx context.Context, e *entry, src Source) (*Snapshot, error) {
	if err := e.open(); err != nil {
		return nil, err
	}
	want := plumbing.NewHash(src.Commit)
	if src.Commit == "" || !e.has(want) {
		if err := e.fetch(ctx, src, &want); err != nil {
			// go-git indexes a fetched pack in memory even when storing it failed (a full
			// disk): open the cache from disk again next time, or the next read looks for a
			// pack that is not there and the whole cache is fetched afresh for it. And what
			// the failed write left on disk goes.
			e.repo = nil
			gitstore.DropUnfinishedPacks(e.dir)
			return nil, err
		}
	}
	commit, err := object.GetCommit(e.repo.Storer, want)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", want, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", want, err)
	}
	return &Snapshot{Commit: want.String(), cache: c, entry: e, src: src, root: tree.Hash}, nil
}

// fetch brings want (or, when zero, the branch head, stored into want) into the cache with as
// little history as the server allows: the commit alone by sha, else the branch tip at depth 1,
// else deeper.
func (e *entry) fetch(ctx context.Context, src Source, want *plumbing.Hash) error {
	run := func(spec string, depth int) error {
		err := e.repo.FetchContext(ctx, &git.FetchOptions{
			RemoteName: "origin", RefSpecs: []config.RefSpec{config.RefSpec(spec)},
			Depth: depth, Auth: src.Auth, Tags: git.NoTags,
		})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	// The first fetch is shallow (depth 1). Later fetches name no depth: servers ignore the
	// commits a client has when asked to deepen, so only an undeepened fetch is incremental.
	depth := 1
	if refs, err := e.repo.References(); err == nil {
		_ = refs.ForEach(func(r *plumbing.Reference) error {
			if strings.HasPrefix(r.Name().String(), "refs/gitcache/") {
				depth = 0
			}
			return nil
		})
	}
	branchRef := "refs/gitcache/heads/" + src.Branch
	if src.Commit == "" {
		if err := run("+refs/heads/"+src.Branch+":"+branchRef, depth); err != nil {
			return noMatch(err, src)
		}
		ref, err := e.repo.Storer.Reference(plumbing.ReferenceName(branchRef))
		if err != nil {
			return fmt.Errorf("read %s: %w", branchRef, err)
		}
		*want = ref.Hash()
		return nil
	}
	dst := "refs/gitcache/commit"
	if src.Branch != "" {
		dst = branchRef
	}
	err := run("+"+src.Commit+":"+dst, depth)
	if err == nil && e.has(*want) {
		return nil
	}
	if err != nil && !errors.Is(err, git.ErrExactSHA1NotSupported) {
		return noMatch(err, src)
	}
	if src.Branch == "" {
		return fmt.Errorf("%w: %s (the server does not serve commits by sha; give the branch)", ErrCommitNotFound, src.Commit)
	}
	for _, deeper := range []int{depth, 50, 1 << 20} {
		if err := run("+refs/heads/"+src.Branch+":"+branchRef, deeper); err != nil {
			return noMatch(err, src)
		}
		if e.has(*want) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not on branch %s", ErrCommitNotFound, src.Commit, src.Branch)
}

func noMatch(err error, src Source) error {
	var nm git.NoMatchingRefSpecError
	if errors.As(err, &nm) || strings.Contains(err.Error(), "not our ref") {
		return fmt.Errorf("%w: %s: %v", ErrCommitNotFound, orBranch(src), err)
	}
	return err
}

// redact drops any user info from a URL so it can be logged.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = nil
	return p.String()
}
