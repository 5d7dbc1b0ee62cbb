package fluxfeedback

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scorebot/scorebot/internal/forge"
)

// noProvenance answers every lookup with "not rendered by Scorebot".
type noProvenance struct{}

func (noProvenance) Source(context.Context, string, string, string) (Source, error) {
	return Source{}, ErrNoProvenance
}

// FuzzHandler feeds untrusted bodies and X-Signature values to the handler: it must never
// panic, must answer 401 to anything not signed with the secret, and never 5xx without a
// GitHub or env-repo call.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"involvedObject":{"kind":"Kustomization","name":"shop","namespace":"flux-system"},"severity":"info","reason":"ReconciliationSucceeded","metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:0123456789abcdef0123456789abcdef01234567"}}`), "", true)
	f.Add([]byte(`{"involvedObject":{"kind":"Kustomization"}}`), "sha512=00", false)
	f.Add([]byte(`{`), "", true)
	f.Add([]byte(`{"metadata":{"revision":"main/zz"},"involvedObject":{"kind":"Kustomization","name":"x"},"severity":"error"}`), "", true)
	h, err := New(Config{Secret: []byte(testSecret), Provenance: noProvenance{}, ClientFor: nil, Forge: nil, MaxBody: 1 << 16, Env: "dev"})
	if err == nil {
		f.Fatal("New accepted a config without a GitHub client")
	}
	h, err = New(Config{Secret: []byte(testSecret), Provenance: noProvenance{}, Forge: nil,
		ClientFor: func(context.Context, forge.Repo) (*forge.Client, error) { return nil, nil }, MaxBody: 1 << 16, Env: "dev"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string, signIt bool) {
		if signIt {
			sig = Sign([]byte(testSecret), body)
		}
		req := httptest.NewRequest(http.MethodPost, "/hooks/flux", bytes.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Signature", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !signIt && Verify([]byte(testSecret), body, sig) != nil && rec.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned request answered %d", rec.Code)
		}
		if rec.Code >= 500 {
			t.Fatalf("answered %d: %s", rec.Code, rec.Body)
		}
	})
}
