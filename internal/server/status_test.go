package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/events/eventstest"
	"github.com/scorebot/scorebot/internal/promotion"
	"github.com/scorebot/scorebot/internal/statusview"
)

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestStatusPage serves /status and /status.json from records kept in a NATS KV bucket, as
// the pipeline keeps them, read afresh on every request; a failed read answers 503 without
// its cause.
func TestStatusPage(t *testing.T) {
	ctx := context.Background()
	js := eventstest.JetStream(t, t.TempDir())
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "scorebot-promotions"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(r promotion.Record) {
		b, _ := json.Marshal(r)
		if _, err := kv.Put(ctx, r.App+"."+r.Env, b); err != nil {
			t.Fatal(err)
		}
	}
	const dev, dev2, prod = "0123456789abcdef0123456789abcdef01234567", "89abcdef0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210fedcba98"
	put(promotion.Record{App: "blog", Env: "production", SourceRepo: "acme/blog", SourceCommit: prod,
		Pending: &promotion.Pending{SourceCommit: dev, Branch: promotion.Branch("blog", "production"), PR: 4}})
	put(promotion.Record{App: "blog", Env: "development", SourceRepo: "acme/blog", SourceCommit: dev})

	var failing atomic.Bool
	status := func(ctx context.Context) (statusview.Matrix, error) {
		if failing.Load() {
			return statusview.Matrix{}, errors.New("fetch rules repo https://git.internal.example/rules.git: goroutine 1 [running]")
		}
		m := statusview.Matrix{Environments: []string{"development", "production"}, EnvRepo: "acme/env"}
		keys, err := kv.Keys(ctx)
		if err != nil {
			return m, err
		}
		slices.Sort(keys)
		for _, k := range keys {
			e, err := kv.Get(ctx, k)
			if err != nil {
				return m, err
			}
			var r promotion.Record
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				return m, err
			}
			m.Records = append(m.Records, r)
		}
		return m, nil
	}
	s := startConfig(t, Config{Role: RoleWorkers, Status: status, StatusWebURL: "https://github.com"}, nil).srv
	base := "http://" + s.Addr()

	code, h, page := get(t, base+"/status")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("/status: %d %s\n%s", code, h.Get("Content-Type"), page)
	}
	for _, want := range []string{
		`<td id="blog-development"><a href="https://github.com/acme/blog/commit/` + dev + `"`,
		`<a href="https://github.com/acme/env/pull/4">#4</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/status lacks %s:\n%s", want, page)
		}
	}
	code, h, doc := get(t, base+"/status.json")
	var m statusview.Matrix
	if err := json.Unmarshal([]byte(doc), &m); code != 200 || h.Get("Content-Type") != "application/json" || err != nil {
		t.Fatalf("/status.json: %d %s %v\n%s", code, h.Get("Content-Type"), err, doc)
	}
	if len(m.Records) != 2 || m.Records[0].Env != "development" || m.Records[1].Pending == nil || m.Records[1].Pending.PR != 4 ||
		!slices.Equal(m.Environments, []string{"development", "production"}) {
		t.Fatalf("/status.json = %+v, want development then production with its pending PR", m)
	}

	// A new deploy shows on the next request.
	put(promotion.Record{App: "blog", Env: "development", SourceRepo: "acme/blog", SourceCommit: dev2})
	if _, _, page := get(t, base+"/status"); !strings.Contains(page, dev2) {
		t.Fatalf("/status does not show the new deploy %s:\n%s", dev2, page)
	}

	failing.Store(true)
	for _, path := range []string{"/status", "/status.json"} {
		code, _, body := get(t, base+path)
		if code != http.StatusServiceUnavailable || body != statusUnavailable+"\n" {
			t.Fatalf("%s with a failing read: %d %q, want 503 %q", path, code, body, statusUnavailable)
		}
	}
}

// TestStatusPageOnlyWhereAsked: no Status, or an intake-only process, serves no status page.
func TestStatusPageOnlyWhereAsked(t *testing.T) {
	never := func(context.Context) (statusview.Matrix, error) {
		t.Error("Status called")
		return statusview.Matrix{}, nil
	}
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no Status", Config{Role: RoleAll, Secret: secret}},
		{"role webhooks", Config{Role: RoleWebhooks, Secret: secret, Status: never}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startConfig(t, tt.cfg, nil).srv
			for _, path := range []string{"/status", "/status.json"} {
				if code, _, _ := get(t, "http://"+s.Addr()+path); code != http.StatusNotFound {
					t.Errorf("%s: %d, want 404", path, code)
				}
			}
		})
	}
}
