package standin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzRequestBodies sends arbitrary bodies to the write endpoints: the stand-in answers 4xx
// or 2xx, never 5xx, never panics.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{`{"body":"hi"}`, `{"state":"success","context":"c"}`, `{"title":"t","head":"a","base":"main"}`,
		`{"ref":"main","payload":"{\"a\":1}"}`, `{"name":"n","head_sha":"x","conclusion":"success"}`, `{`, `null`, `[]`, `{"body":null}`} {
		f.Add(s)
	}
	srv, err := New(Options{Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		f.Fatal(err)
	}
	paths := []struct{ method, path string }{
		{"POST", "/api/v3/repos/o/r/issues/1/comments"},
		{"POST", "/api/v3/repos/o/r/statuses/abc"},
		{"POST", "/api/v3/repos/o/r/pulls"},
		{"POST", "/api/v3/repos/o/r/deployments"},
		{"POST", "/api/v3/repos/o/r/check-runs"},
		{"PATCH", "/api/v3/repos/o/r/pulls/1"},
		{"PUT", "/api/v3/repos/o/r/pulls/1/merge"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(p.method, p.path, strings.NewReader(body)))
			if rec.Code >= http.StatusInternalServerError {
				t.Fatalf("%s %s with %q: %d %s", p.method, p.path, body, rec.Code, rec.Body)
			}
		}
	})
}
