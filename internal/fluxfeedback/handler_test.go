package fluxfeedback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/gitcache"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

const testSecret = "flux-provider-token"

// world is a git host with an app repo and an env repo, the GitHub stand-in with one
// deployment of the app commit, and the handler mounted as serve would mount it.
type world struct {
	srv       *httptest.Server
	gh        *standin.Server
	client    *forge.Client
	appCommit string
	envCommit string
	deployID  int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	host, err := githost.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gh, err := standin.New(standin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/git/", host)
	mux.Handle("/api/v3/", gh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	w := &world{srv: srv, gh: gh}
	w.appCommit, err = host.Seed("shop", map[string][]byte{"score.yaml": []byte("apiVersion: score.dev/v1b1\nmetadata:\n  name: web\n")}, "app")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := envtree.Build(envtree.App{Env: "development", AppID: "shop", Namespace: "shop-development",
		Provenance: envtree.Provenance{SourceRepo: "local/shop", SourceCommit: w.appCommit, RulesCommit: strings.Repeat("a", 40)}})
	if err != nil {
		t.Fatal(err)
	}
	w.envCommit, err = host.Seed("env", tree.Files, "deploy shop")
	if err != nil {
		t.Fatal(err)
	}
	w.client, err = forge.New(forge.Config{BaseURL: srv.URL + "/api/v3/", Token: "as:" + standin.DefaultBot,
		Retry: forge.RetryPolicy{MaxAttempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	w.deployID, err = w.client.CreateDeployment(ctx, forge.Repo{Owner: "local", Name: "shop"},
		forge.Deployment{Ref: w.appCommit, Environment: "development"})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := gitcache.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{
		Secret: []byte(testSecret),
		Provenance: &EnvRepoProvenance{Cache: cache, Locate: func(context.Context) (string, string, error) {
			return githost.URL(srv.URL, "env"), "", nil
		}},
		Forge: w.client,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("POST /hooks/flux/{env}", h)
	mux.Handle("POST /hooks/flux", h)
	return w
}

func (w *world) post(t *testing.T, path string, body []byte, sig string) (int, Result, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Gotk-Component", "kustomize-controller")
	if sig != "" {
		req.Header.Set("X-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var res Result
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(buf.Bytes(), &res); err != nil {
			t.Fatalf("answer %q: %v", buf.String(), err)
		}
	}
	return resp.StatusCode, res, buf.String()
}

func event(t *testing.T, name, revision string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("{{REVISION}}"), []byte(revision))
}

func (w *world) lastStatus(t *testing.T) (string, string, int) {
	t.Helper()
	for _, d := range w.gh.Deployments("local", "shop") {
		if d.ID == w.deployID {
			if len(d.Statuses) == 0 {
				return "", "", 0
			}
			s := d.Statuses[len(d.Statuses)-1]
			return s.State, s.Description, len(d.Statuses)
		}
	}
	t.Fatalf("deployment %d not found", w.deployID)
	return "", "", 0
}

func TestSignatureRequired(t *testing.T) {
	w := newWorld(t)
	body := event(t, "kustomization-succeeded.json", w.envCommit)
	tampered := bytes.Replace(body, []byte("412ms"), []byte("413ms"), 1)
	big := append(bytes.Repeat([]byte(" "), DefaultMaxBody), body...)
	for _, tc := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"unsigned", body, "", http.StatusUnauthorized},
		{"forged", body, Sign([]byte("not-the-token"), body), http.StatusUnauthorized},
		{"tampered body", tampered, Sign([]byte(testSecret), body), http.StatusUnauthorized},
		{"unknown hash", body, "md5=00", http.StatusUnauthorized},
		{"not hex", body, "sha256=zz", http.StatusUnauthorized},
		{"no hash function", body, "deadbeef", http.StatusUnauthorized},
		{"too big", big, Sign([]byte(testSecret), big), http.StatusRequestEntityTooLarge},
		{"signed garbage", []byte("{"), Sign([]byte(testSecret), []byte("{")), http.StatusBadRequest},
		{"signed, no environment", body, Sign([]byte(testSecret), body), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/hooks/flux/development"
			if tc.name == "signed, no environment" {
				path = "/hooks/flux"
			}
			code, _, text := w.post(t, path, tc.body, tc.sig)
			if code != tc.want {
				t.Fatalf("status %d (%s), want %d", code, text, tc.want)
			}
		})
	}
	if state, _, n := w.lastStatus(t); n != 0 {
		t.Fatalf("a refused request changed the deployment: %s", state)
	}
}

func TestReportsDeploymentStatus(t *testing.T) {
	w := newWorld(t)
	sign := func(b []byte) string { return Sign([]byte(testSecret), b) }

	// Progress says nothing final.
	prog := event(t, "kustomization-progressing.json", w.envCommit)
	if code, res, text := w.post(t, "/hooks/flux/development", prog, sign(prog)); code != 200 || res.Action != "ignored" {
		t.Fatalf("progressing: %d %s", code, text)
	}

	// Ready at the deployed revision: success on the app commit's deployment.
	ok := event(t, "kustomization-succeeded.json", w.envCommit)
	code, res, text := w.post(t, "/hooks/flux/development", ok, sign(ok))
	if code != 200 || res.Action != "reported" || res.DeploymentID != w.deployID || res.Commit != w.appCommit || res.Repo != "local/shop" {
		t.Fatalf("succeeded: %d %s", code, text)
	}
	if state, _, _ := w.lastStatus(t); state != "success" {
		t.Fatalf("deployment state %q, want success", state)
	}
	// The next reconcile (every 10m) sends the same event: no second status.
	_, res, _ = w.post(t, "/hooks/flux/development", ok, sign(ok))
	if _, _, n := w.lastStatus(t); res.Action != "unchanged" || n != 1 {
		t.Fatalf("repeat: action %q, %d statuses", res.Action, n)
	}

	// A failure carries Flux's message.
	bad := event(t, "kustomization-failed.json", w.envCommit)
	if code, res, text := w.post(t, "/hooks/flux/development", bad, sign(bad)); code != 200 || res.Action != "reported" || res.State != "failure" {
		t.Fatalf("failed: %d %s", code, text)
	}
	state, desc, _ := w.lastStatus(t)
	if state != "failure" || !strings.Contains(desc, `spec.type: Unsupported value: "Ingress"`) {
		t.Fatalf("deployment %s %q, want failure with Flux's message", state, desc)
	}

	// The environment may come from the Alert's eventMetadata instead of the path.
	var ev map[string]any
	if err := json.Unmarshal(ok, &ev); err != nil {
		t.Fatal(err)
	}
	ev["metadata"].(map[string]any)["env"] = "development"
	withEnv, _ := json.Marshal(ev)
	if code, res, text := w.post(t, "/hooks/flux", withEnv, sign(withEnv)); code != 200 || res.Action != "reported" || res.State != "success" {
		t.Fatalf("env from metadata: %d %s", code, text)
	}
}

func TestIgnoredEvents(t *testing.T) {
	w := newWorld(t)
	base := event(t, "kustomization-succeeded.json", w.envCommit)
	for _, tc := range []struct {
		name string
		edit func(ev *Event)
		env  string
	}{
		{"shared kustomization", func(ev *Event) { ev.InvolvedObject.Name = "shared" }, "development"},
		{"flux-system", func(ev *Event) { ev.InvolvedObject.Name = "flux-system" }, "development"},
		{"other kind", func(ev *Event) { ev.InvolvedObject.Kind = "GitRepository" }, "development"},
		{"other namespace", func(ev *Event) { ev.InvolvedObject.Namespace = "apps" }, "development"},
		{"app not in env repo", func(ev *Event) { ev.InvolvedObject.Name = "blog" }, "development"},
		{"other environment", func(*Event) {}, "production"},
		{"no revision", func(ev *Event) { ev.Metadata = nil }, "development"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ev Event
			if err := json.Unmarshal(base, &ev); err != nil {
				t.Fatal(err)
			}
			tc.edit(&ev)
			b, _ := json.Marshal(ev)
			code, res, text := w.post(t, "/hooks/flux/"+tc.env, b, Sign([]byte(testSecret), b))
			if code != 200 || res.Action != "ignored" {
				t.Fatalf("%d %s, want 200 ignored", code, text)
			}
		})
	}
	if _, _, n := w.lastStatus(t); n != 0 {
		t.Fatalf("an ignored event set %d statuses", n)
	}
}

func TestGitHubDownIsRetryable(t *testing.T) {
	w := newWorld(t)
	ok := event(t, "kustomization-succeeded.json", w.envCommit)
	w.gh.FailNext(50, http.StatusBadGateway, "")
	code, _, text := w.post(t, "/hooks/flux/development", ok, Sign([]byte(testSecret), ok))
	if code != http.StatusBadGateway {
		t.Fatalf("status %d (%s), want 502 so that notification-controller retries", code, text)
	}
}

func TestRevision(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	for _, tc := range []struct {
		meta map[string]string
		want bool
	}{
		{map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:" + sha}, true},
		{map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main/" + sha}, true},
		{map[string]string{"revision": "sha1:" + strings.ToUpper(sha)}, true},
		{map[string]string{"revision": "v1.0.0@sha256:" + sha + sha}, false},
		{map[string]string{"revision": "main@sha1:abc"}, false},
		{nil, false},
	} {
		ev := Event{Metadata: tc.meta}
		got, ok := ev.Revision()
		if ok != tc.want || (ok && got != sha) {
			t.Errorf("%v: got %q %v", tc.meta, got, ok)
		}
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("err %v, want ErrConfig", err)
	}
	if _, err := New(Config{Secret: []byte("x")}); !errors.Is(err, ErrConfig) {
		t.Fatalf("err %v, want ErrConfig", err)
	}
}

// TestProvenanceFirstLayout: an app the layout before the shard folders wrote
// (apps/<env>/<app>/) is still found, so Flux events for it keep reaching its Deployment.
func TestProvenanceFirstLayout(t *testing.T) {
	host, err := githost.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(host)
	t.Cleanup(srv.Close)
	app := strings.Repeat("b", 40)
	tree, err := envtree.Build(envtree.App{Env: "development", AppID: "shop", Namespace: "shop-development",
		Provenance: envtree.Provenance{SourceRepo: "local/shop", SourceCommit: app}})
	if err != nil {
		t.Fatal(err)
	}
	dir := envtree.AppDir("", "development", "shop")
	first := map[string][]byte{}
	for p, b := range tree.Files {
		if rest, ok := strings.CutPrefix(p, dir); ok {
			first["apps/development/shop"+rest] = b
		}
	}
	commit, err := host.Seed("env", first, "deploy shop (first layout)")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := gitcache.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	asked := 0
	p := &EnvRepoProvenance{Cache: cache, URL: githost.URL(srv.URL, "env"),
		GitAuth: func(context.Context) (transport.AuthMethod, error) {
			asked++
			return &githttp.BasicAuth{Username: "x-access-token", Password: "t"}, nil
		}}
	src, err := p.Source(context.Background(), "development", "shop", commit)
	if err != nil {
		t.Fatal(err)
	}
	if asked == 0 {
		t.Error("the env repo was fetched without asking for credentials (a private env repo would fail)")
	}
	if src.Repo != "local/shop" || src.Commit != app {
		t.Errorf("Source = %+v, want local/shop@%s", src, app)
	}
	if _, err := p.Source(context.Background(), "development", "blog", commit); !errors.Is(err, ErrNoProvenance) {
		t.Errorf("an app with no record anywhere: %v, want ErrNoProvenance", err)
	}
}
