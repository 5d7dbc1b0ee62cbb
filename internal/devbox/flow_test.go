package devbox_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/devbox/devbot"
	"github.com/scorebot/scorebot/internal/forge/ghspec"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// recorder is a RoundTripper that keeps every exchange the bot had with the stand-in.
type recorder struct {
	mu  sync.Mutex
	all []ghspec.Exchange
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	rec.mu.Lock()
	rec.all = append(rec.all, ghspec.Exchange{
		Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, RequestHeader: req.Header.Clone(), RequestBody: body,
		Status: resp.StatusCode, ResponseHeader: resp.Header.Clone(), ResponseBody: rb,
	})
	rec.mu.Unlock()
	return resp, nil
}

func (rec *recorder) list() []ghspec.Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]ghspec.Exchange(nil), rec.all...)
}

// TestFlow is the "Done when", driven the way a newcomer does it: clone demo-app with
// the real git client, edit score.yaml, commit, push; the env repo gets a commit with the
// rendered app for the first environment, and the app commit a success status. Every webhook
// validates against GitHub's webhooks description (startSandbox) and every request the bot
// sent, with the stand-in's answer, against the REST description.
func TestFlow(t *testing.T) {
	rec := &recorder{}
	dir := t.TempDir()
	hooks := &webhooks{}
	sb, err := devbox.Start(context.Background(), devbox.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Workers: devbot.Workers(nil), OnWebhook: hooks.add, APITransport: rec,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		checkWebhooks(t, hooks.list())
	})
	ctx := context.Background()
	envBefore, err := sb.Git().Head(ctx, devbox.RepoEnv, "main")
	if err != nil {
		t.Fatal(err)
	}

	wt := clone(t, sb, devbox.RepoApp)
	score := readFile(t, filepath.Join(wt, "score.yaml"))
	edited := strings.Replace(score, "image: ghost:5-alpine", "image: ghost:5.96-alpine", 1)
	if edited == score {
		t.Fatalf("the demo app's score.yaml changed; update this test's edit:\n%s", score)
	}
	sha := commitFile(t, wt, "score.yaml", edited, "Pin ghost 5.96")
	gitRun(t, wt, "push", "-q", "origin", "main")

	deployment := envtree.AppDir("", "development", devbox.RepoApp) + "/deployment-blog.yaml"
	var envFile string
	eventually(t, "the env repo to get the rendered app and the app commit a success status", func() bool {
		head, err := sb.Git().Head(ctx, devbox.RepoEnv, "main")
		if err != nil || head == envBefore {
			return false
		}
		envFile = gitShow(t, sb.Git().Dir(devbox.RepoEnv), "main:"+deployment)
		if !strings.Contains(envFile, "ghost:5.96-alpine") {
			return false
		}
		for _, st := range sb.GitHub().Statuses(devbox.Owner, devbox.RepoApp, sha) {
			if st.State == "success" {
				return true
			}
		}
		return false
	})

	// Through the URLs `bot dev` prints: the statuses, and the env repo's log.
	var statuses []struct {
		State, Context string
	}
	getJSON(t, sb.URL()+"/api/v3/repos/local/demo-app/commits/"+sha+"/statuses", &statuses)
	if len(statuses) == 0 || statuses[0].State != "success" {
		t.Fatalf("statuses on %s = %+v, want success first (newest first)", sha, statuses)
	}
	env := clone(t, sb, devbox.RepoEnv)
	if log := gitRun(t, env, "log", "--format=%s%n%b"); !strings.Contains(log, sha) {
		t.Fatalf("env repo log does not name the app commit %s:\n%s", sha, log)
	}
	if _, err := os.Stat(filepath.Join(env, deployment)); err != nil {
		t.Fatalf("clone of the env repo lacks %s", deployment)
	}
	page, err := httpGet(sb.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), sha[:12]) || !strings.Contains(string(page), "success") {
		t.Errorf("the human page does not show the app commit and its status")
	}
	assertLinksTo(t, sb.URL(), "/local/demo-app/commit/"+sha, "demo-app-commit-"+sha[:12])

	// What runs where: /status (linked from the page) shows the pushed commit in development,
	// linked to the commit on the sandbox's GitHub; /status.json holds the same record.
	if !strings.Contains(string(page), `href="/status"`) {
		t.Errorf("the human page does not link /status")
	}
	cell := `<td id="demo-app-development"><a href="` + sb.URL() + `/local/demo-app/commit/` + sha + `"`
	eventually(t, "/status to show "+sha[:12]+" in development", func() bool {
		b, err := httpGet(sb.URL() + "/status")
		return err == nil && strings.Contains(string(b), cell)
	})
	var matrix struct {
		Environments []string `json:"environments"`
		Records      []struct {
			App          string `json:"app"`
			Env          string `json:"env"`
			SourceCommit string `json:"source_commit"`
		} `json:"records"`
	}
	getJSON(t, sb.URL()+"/status.json", &matrix)
	if len(matrix.Environments) == 0 || matrix.Environments[0] != "development" || len(matrix.Records) == 0 ||
		matrix.Records[0].App != devbox.RepoApp || matrix.Records[0].Env != "development" || matrix.Records[0].SourceCommit != sha {
		t.Errorf("/status.json = %+v, want %s at %s in development first", matrix, devbox.RepoApp, sha)
	}

	// Honesty: every request the bot sent to the stand-in, and every answer, validates
	// against GitHub's REST description.
	rest := loadREST(t)
	exchanges := rec.list()
	if len(exchanges) == 0 {
		t.Fatal("the bot sent no API requests")
	}
	for _, ex := range exchanges {
		if err := rest.Validate(ctx, ex); err != nil {
			t.Errorf("%s %s (%d) does not validate against GitHub's REST description: %v", ex.Method, ex.Path, ex.Status, err)
		}
	}
}

func gitShow(t *testing.T, gitDir, object string) string {
	t.Helper()
	cmd := exec.Command("git", "--git-dir", gitDir, "show", object)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

var (
	restOnce sync.Once
	rest     *ghspec.REST
	restErr  error
)

func loadREST(t *testing.T) *ghspec.REST {
	t.Helper()
	restOnce.Do(func() {
		dir, err := ghspec.FixturesDir()
		if err != nil {
			restErr = err
			return
		}
		rest, restErr = ghspec.LoadREST(filepath.Join(dir, "github-openapi", "rest-api.github.com.json"))
	})
	if restErr != nil {
		t.Fatal(restErr)
	}
	return rest
}
