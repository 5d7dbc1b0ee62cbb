package devbox

import (
	"context"
	"errors"
	"sync"

	"github.com/scorebot/scorebot/internal/statusview"
)

// errNoStatus: the workers have not handed the sandbox their promotion state (not started,
// or run without one); /status answers 503 until they do.
var errNoStatus = errors.New("the workers have not started, or give no promotion state")

// statusSource holds what the sandbox's /status shows: set once by the workers (Bot.ServeStatus).
type statusSource struct {
	mu   sync.Mutex
	read func(context.Context) (statusview.Matrix, error)
}

func (s *statusSource) set(read func(context.Context) (statusview.Matrix, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = read
}

func (s *statusSource) matrix(ctx context.Context) (statusview.Matrix, error) {
	s.mu.Lock()
	read := s.read
	s.mu.Unlock()
	if read == nil {
		return statusview.Matrix{}, errNoStatus
	}
	return read(ctx)
}
