package pipeline

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// refreshingAuth asks Config.GitAuth for credentials on every HTTP request, so a GitHub App
// installation token that expires (after an hour) is replaced without reopening the env repo
// or the caches that hold an AuthMethod. The credentials never print.
type refreshingAuth struct {
	get func(ctx context.Context) (transport.AuthMethod, error)
	log *slog.Logger
}

var _ githttp.AuthMethod = refreshingAuth{}

func (a refreshingAuth) Name() string   { return "scorebot-git-auth" }
func (a refreshingAuth) String() string { return "scorebot-git-auth(********)" }

// SetAuth sets the current credentials on r; when they cannot be had, r goes without and the
// server's 401 fails the job as a transient error.
func (a refreshingAuth) SetAuth(r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	m, err := a.get(ctx)
	if err != nil {
		a.log.Warn("git credentials unavailable", "err", err)
		return
	}
	if h, ok := m.(githttp.AuthMethod); ok && h != nil {
		h.SetAuth(r)
	}
}
