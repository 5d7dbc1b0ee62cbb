package githost

import (
	"log/slog"
	"net/http"
	"net/http/cgi"
	"os"
	"strings"
	"time"
)

// ServeHTTP serves /git/<name>.git/... with git http-backend. Any bare repo under the root is
// served, including ones created after the Host started.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := repoFromPath(r.URL.Path)
	if !ok || !h.Exists(name) {
		http.NotFound(w, r)
		return
	}
	if !h.waitHeld(w, r) {
		return
	}
	if h.takeFailure() {
		h.log.Info("githost: injected failure", "repo", name, "path", r.URL.Path)
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	}
	backend := &cgi.Handler{
		Path: h.backend,
		Root: "/git",
		Dir:  h.root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + h.root,
			"GIT_HTTP_EXPORT_ALL=1",
			// A user name lets http-backend accept pushes to repos that do not set
			// http.receivepack (e.g. made by `git init --bare` under the root).
			"REMOTE_USER=scorebot-dev",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			// Like GitHub: a client may fetch any commit reachable from a ref by its sha.
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=uploadpack.allowReachableSHA1InWant",
			"GIT_CONFIG_VALUE_0=true",
			"PATH=" + os.Getenv("PATH"),
		},
		Stderr: logWriter{h.log, name},
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
		backend.ServeHTTP(w, r)
		return
	}
	// A push: serialise pushes to this repo and report the refs it changed.
	l := h.lock(name)
	l.Lock()
	defer l.Unlock()
	before, err := h.Refs(r.Context(), name)
	if err != nil {
		http.Error(w, "read refs", http.StatusInternalServerError)
		return
	}
	backend.ServeHTTP(w, r)
	after, err := h.Refs(r.Context(), name)
	if err != nil {
		h.log.Error("githost: read refs after push", "repo", name, "err", err)
		return
	}
	h.notify(name, diffRefs(before, after))
}

func (h *Host) notify(name string, ups []RefUpdate) {
	if len(ups) == 0 || h.onPush == nil {
		return
	}
	h.onPush(name, ups)
}

// repoFromPath extracts <name> from /git/<name>.git[/...].
func repoFromPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/git/")
	if !ok {
		return "", false
	}
	i := strings.Index(rest+"/", ".git/")
	if i <= 0 {
		return "", false
	}
	name := rest[:i]
	if validName(name) != nil {
		return "", false
	}
	return name, true
}

// FailNext makes the next n requests to any repo answer 500 Internal Server Error.
func (h *Host) FailNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failNext = n
}

func (h *Host) takeFailure() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failNext > 0 {
		h.failNext--
		return true
	}
	return false
}

// Hold makes every request wait, until release is called, the request is cancelled, or the
// hold limit passes (then it is answered 503). release is idempotent.
func (h *Host) Hold() (release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan struct{})
	h.hold = ch
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.hold == ch {
			h.hold = nil
		}
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// waitHeld blocks while requests are held; it reports whether to go on serving.
func (h *Host) waitHeld(w http.ResponseWriter, r *http.Request) bool {
	h.mu.Lock()
	ch := h.hold
	h.mu.Unlock()
	if ch == nil {
		return true
	}
	h.mu.Lock()
	h.waiting++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.waiting--
		h.mu.Unlock()
	}()
	t := time.NewTimer(h.holdLimit)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	case <-t.C:
		http.Error(w, "held past the hold limit", http.StatusServiceUnavailable)
		return false
	}
}

// Waiting is the number of requests currently held by Hold (for tests to wait on).
func (h *Host) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.waiting
}

// logWriter sends http-backend's stderr to the log, one record per write.
type logWriter struct {
	log  *slog.Logger
	repo string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info("githost: git http-backend", "repo", w.repo, "stderr", strings.TrimSpace(string(p)))
	return len(p), nil
}
