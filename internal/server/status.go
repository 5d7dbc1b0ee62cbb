package server

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/scorebot/scorebot/internal/statusview"
)

// statusTimeout bounds one read of the status (a rebuild from Git when the bucket is empty).
const statusTimeout = 30 * time.Second

// statusUnavailable is all a failed read tells the client; the cause goes to the log (it may
// name internal URLs).
const statusUnavailable = "the promotion state cannot be read right now; the bot's log says why"

// serveStatus answers GET /status (HTML) and GET /status.json from Config.Status.
func (s *Server) serveStatus(asJSON bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
		defer cancel()
		m, err := s.cfg.Status(ctx)
		var buf bytes.Buffer
		if err == nil {
			if asJSON {
				err = statusview.WriteJSON(&buf, m)
			} else {
				err = statusview.WriteHTML(&buf, m, statusview.Links{WebURL: s.cfg.StatusWebURL})
			}
		}
		if err != nil {
			s.log.Warn("status page: read failed", "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", "10")
			http.Error(w, statusUnavailable, http.StatusServiceUnavailable)
			return
		}
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(buf.Bytes())
	}
}
