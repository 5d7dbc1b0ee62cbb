package standin

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultBot is the login of requests that carry no token the stand-in knows.
const DefaultBot = "scorebot[bot]"

// stateFile is the name of the persisted state under Options.Dir.
const stateFile = "github-standin.json"

// ErrMergeConflict is what a Merge hook returns (wrapped) when the branches do not merge; the
// stand-in answers 405 like GitHub.
var ErrMergeConflict = errors.New("merge conflict")

// Options configure a Server.
type Options struct {
	// Dir, when set, is where the state is kept as JSON so a restart resumes it.
	Dir string
	// Now is the clock for created_at/updated_at (default time.Now).
	Now func() time.Time
	// DevUser is the human developer of `bot dev`: admin on every repo, like the repo owner.
	DevUser string
	// AppID and AppKey enable POST /app/installations/{id}/access_tokens: the JWT must be
	// signed by AppKey with issuer AppID. Issued tokens act as AppSlug+"[bot]".
	AppID   int64
	AppKey  *rsa.PublicKey
	AppSlug string // default "scorebot"
	// RequireAuth answers 401 to a request whose token was neither issued nor set with
	// SetToken (and is not an "as:<login>" token).
	RequireAuth bool
	Logger      *slog.Logger
}

// Server is the stand-in. Set the hook fields before serving; they are read without locks.
type Server struct {
	// URL is the public root the stand-in is reached at (e.g. http://127.0.0.1:8080, without
	// /api/v3), used in url/html_url fields and webhooks. Empty: taken from each request.
	URL string
	// Merge merges head into base in the real repository and returns the merge commit; nil
	// makes merges record a synthetic sha. Return an error wrapping ErrMergeConflict for a
	// conflict.
	Merge func(owner, repo, base, head, message string) (sha string, err error)
	// HeadOf resolves a branch to its commit for a new pull request; nil leaves sha empty.
	HeadOf func(owner, repo, branch string) (sha string, err error)
	// Emit receives the webhooks GitHub would send (event name, JSON payload): pull_request
	// opened/closed/reopened/synchronize/edited, issue_comment created/edited, commit_comment
	// created. Called outside
	// the stand-in's lock, synchronously, before the triggering request is answered.
	Emit func(event string, payload []byte)

	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	mu     sync.Mutex
	st     state
	faults []fault
	log2   []Request
}

type fault struct {
	status     int
	retryAfter string
}

// Request is one API request the stand-in answered, for tests.
type Request struct {
	Method string
	Path   string
	User   string
	Status int
}

// New makes a stand-in, loading Options.Dir's state when present.
func New(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AppSlug == "" {
		opts.AppSlug = "scorebot"
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{opts: opts, log: log}
	s.st = state{Repos: map[string]*repoState{}, Users: map[string]int64{}}
	if opts.Dir != "" {
		b, err := os.ReadFile(filepath.Join(opts.Dir, stateFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("github stand-in: read state: %w", err)
		default:
			if err := json.Unmarshal(b, &s.st); err != nil {
				return nil, fmt.Errorf("github stand-in: %s: %w (delete it to start afresh)", filepath.Join(opts.Dir, stateFile), err)
			}
			if s.st.Repos == nil {
				s.st.Repos = map[string]*repoState{}
			}
			if s.st.Users == nil {
				s.st.Users = map[string]int64{}
			}
		}
	}
	s.st.Tokens = map[string]string{}
	s.routes()
	return s, nil
}

// FailNext makes the next n API requests fail with status; retryAfter, when not empty, is
// sent as Retry-After. 403 and 429 answer like GitHub's secondary rate limit.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, retryAfter: retryAfter})
	}
}

// SetToken makes requests with token act as login.
func (s *Server) SetToken(token, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Tokens[token] = login
}

// SetPermission sets user's permission on owner/repo: admin, maintain, write, triage, read or
// none. Without it the owner and DevUser are admin and everyone else read.
func (s *Server) SetPermission(owner, repo, user, level string) error {
	if _, ok := roleToPermission[level]; !ok {
		return fmt.Errorf("permission %q: use admin, maintain, write, triage, read or none", level)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(owner, repo)
	if r.Permissions == nil {
		r.Permissions = map[string]string{}
	}
	r.Permissions[user] = level
	return s.saveLocked()
}

var roleToPermission = map[string]string{
	"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read", "none": "none",
}

// Requests returns the API requests answered so far (the latest ones, up to 10,000), oldest
// first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log2...)
}

// PullRequests returns the pull requests of owner/repo by number.
func (s *Server) PullRequests(owner, repo string) []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PullRequest
	for _, p := range s.repo(owner, repo).PullRequests {
		out = append(out, *p)
	}
	return out
}

// PullRequest returns pull request number of owner/repo.
func (s *Server) PullRequest(owner, repo string, number int) (PullRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.repo(owner, repo).pr(number)
	if p == nil {
		return PullRequest{}, false
	}
	return *p, true
}

// Comments returns the comments on issue or pull request number, oldest first.
func (s *Server) Comments(owner, repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.repo(owner, repo).Comments {
		if c.Issue == number {
			cc := *c
			cc.Reactions = append([]Reaction(nil), c.Reactions...)
			out = append(out, cc)
		}
	}
	return out
}

// CommitComments returns the comments on commit sha of owner/repo, oldest first.
func (s *Server) CommitComments(owner, repo, sha string) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.repo(owner, repo).CommitComments {
		if c.CommitID == sha {
			cc := *c
			cc.Reactions = append([]Reaction(nil), c.Reactions...)
			out = append(out, cc)
		}
	}
	return out
}

// Statuses returns the commit statuses set on sha, oldest first.
func (s *Server) Statuses(owner, repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, st := range s.repo(owner, repo).Statuses {
		if st.SHA == sha {
			out = append(out, *st)
		}
	}
	return out
}

// CheckRuns returns the check runs on sha, oldest first.
func (s *Server) CheckRuns(owner, repo, sha string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, c := range s.repo(owner, repo).CheckRuns {
		if c.HeadSHA == sha {
			out = append(out, *c)
		}
	}
	return out
}

// Deployments returns the deployments of owner/repo with their statuses, oldest first.
func (s *Server) Deployments(owner, repo string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.repo(owner, repo).Deployments {
		dd := *d
		dd.Statuses = append([]DeploymentStatus(nil), d.Statuses...)
		out = append(out, dd)
	}
	return out
}

// Repos lists the repositories the stand-in has state for, as owner/name, sorted.
func (s *Server) Repos() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.st.Repos))
	for k := range s.st.Repos {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// BranchPushed tells the stand-in that branch of owner/repo now points at sha (the git host's
// push hook calls it): open pull requests from that branch get the new head and a
// `synchronize` webhook; those into it get the new base.
func (s *Server) BranchPushed(owner, repo, branch, sha string) {
	s.mu.Lock()
	var events []pendingEvent
	now := s.opts.Now().UTC()
	for _, p := range s.repo(owner, repo).PullRequests {
		if p.State != "open" {
			continue
		}
		if p.Base == branch {
			p.BaseSHA = sha
		}
		if p.Head == branch && p.HeadSHA != sha {
			before := p.HeadSHA
			p.HeadSHA, p.UpdatedAt = sha, now
			events = append(events, s.prEventLocked("", "synchronize", p, p.User, map[string]any{"before": before, "after": sha}))
		}
	}
	if err := s.saveLocked(); err != nil {
		s.log.Error("github stand-in: save state", slog.Any("err", err))
	}
	s.mu.Unlock()
	s.emit(events)
}

// repo returns the state of owner/repo, creating it. Callers hold s.mu.
func (s *Server) repo(owner, name string) *repoState {
	k := owner + "/" + name
	r, ok := s.st.Repos[k]
	if !ok {
		r = &repoState{NextNumber: 1}
		s.st.Repos[k] = r
	}
	return r
}

func (r *repoState) pr(number int) *PullRequest {
	for _, p := range r.PullRequests {
		if p.Number == number {
			return p
		}
	}
	return nil
}

func (s *Server) nextID() int64 {
	s.st.NextID++
	return s.st.NextID
}

// userID gives each login a stable id. Callers hold s.mu.
func (s *Server) userID(login string) int64 {
	if id, ok := s.st.Users[login]; ok {
		return id
	}
	id := int64(1000 + len(s.st.Users))
	s.st.Users[login] = id
	return id
}

// saveLocked writes the state atomically when a Dir is set. Callers hold s.mu.
func (s *Server) saveLocked() error {
	if s.opts.Dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return fmt.Errorf("github stand-in: encode state: %w", err)
	}
	if err := os.MkdirAll(s.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("github stand-in: %w", err)
	}
	tmp := filepath.Join(s.opts.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("github stand-in: write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.opts.Dir, stateFile)); err != nil {
		return fmt.Errorf("github stand-in: write state: %w", err)
	}
	return nil
}

// permission is the role of user on owner/repo. Callers hold s.mu.
func (s *Server) permission(owner, repo, user string) string {
	if p, ok := s.repo(owner, repo).Permissions[user]; ok {
		return p
	}
	if strings.EqualFold(user, owner) || (s.opts.DevUser != "" && user == s.opts.DevUser) {
		return "admin"
	}
	return "read"
}
