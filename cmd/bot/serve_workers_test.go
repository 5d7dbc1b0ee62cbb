package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// TestServeDeploysAPush runs `bot serve` with its workers against a local git host and the
// GitHub stand-in: a signed push webhook for an app repo becomes an env-repo commit and a
// success status, through the same wiring production uses; then Flux's report that the app
// is applied at that env commit turns its GitHub Deployment success.
func TestServeDeploysAPush(t *testing.T) {
	dir := t.TempDir()
	host, err := githost.New(filepath.Join(dir, "git"))
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
	ts := httptest.NewServer(mux)
	defer ts.Close()
	gh.URL = ts.URL

	// rules: examples/rules pointing at this host's env repo.
	rulesFiles := map[string][]byte{}
	root := filepath.Join("..", "..", "examples", "rules")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rulesFiles[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	envURL := githost.URL(ts.URL, "env")
	rulesFiles["platform.yaml"] = rewriteEnvRepoURL(t, rulesFiles["platform.yaml"], envURL)
	if _, err := host.Seed("rules", rulesFiles, "rules"); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Seed("env", map[string][]byte{"README.md": []byte("env\n")}, "seed"); err != nil {
		t.Fatal(err)
	}
	blog, err := os.ReadFile(filepath.Join("..", "..", "examples", "apps", "blog", "score.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sha, err := host.Seed("blog", map[string][]byte{"score.yaml": blog}, "blog")
	if err != nil {
		t.Fatal(err)
	}

	secretFile := filepath.Join(dir, "secret")
	tokenFile := filepath.Join(dir, "token")
	fluxFile := filepath.Join(dir, "flux-token")
	os.WriteFile(secretFile, []byte("s3cret"), 0o600)
	os.WriteFile(tokenFile, []byte("as:scorebot[bot]\n"), 0o600)
	os.WriteFile(fluxFile, []byte("flux-hmac-token\n"), 0o600)
	addr := "127.0.0.1:" + freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--listen", addr, "--data-dir", filepath.Join(dir, "data"),
			"--webhook-secret-file", secretFile,
			"--rules-url", githost.URL(ts.URL, "rules"), "--rules-repo", "local/rules",
			"--git-url-template", ts.URL + "/git/{name}.git",
			"--github-api-url", ts.URL + "/api/v3/", "--github-token-file", tokenFile,
			"--flux-secret-file", fluxFile, "--status-page"}, &stderr, &stderr)
	}()
	waitServeReady(t, addr, done, &stderr)

	body := pushPayload(t, "local", "blog", githost.URL(ts.URL, "blog"), sha)
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "serve-deploy-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook status %d\n%s", resp.StatusCode, stderr.String())
	}

	waitUntil(t, "a success status on the app commit", done, &stderr, func() bool {
		st := gh.Statuses("local", "blog", sha)
		return len(st) > 0 && st[len(st)-1].State == "success"
	})
	files, err := exec.Command("git", "-C", host.Dir("env"), "ls-tree", "-r", "--name-only", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(files), envtree.AppDir("", "development", "blog")+"/kustomization.yaml") ||
		!strings.Contains(string(files), envtree.KustomizationFile("", "development", "blog")) {
		t.Fatalf("env repo lacks the rendered app:\n%s", files)
	}

	// --status-page: the matrix shows the app commit in development, linked on the forge.
	var status struct {
		Environments []string `json:"environments"`
		Records      []struct {
			App          string `json:"app"`
			Env          string `json:"env"`
			SourceCommit string `json:"source_commit"`
		} `json:"records"`
	}
	getJSONFrom(t, "http://"+addr+"/status.json", &status)
	if len(status.Environments) == 0 || status.Environments[0] != "development" || len(status.Records) == 0 ||
		status.Records[0].App != "blog" || status.Records[0].Env != "development" || status.Records[0].SourceCommit != sha {
		t.Fatalf("/status.json = %+v, want blog at %s in development", status, sha)
	}
	if page := getBody(t, "http://"+addr+"/status"); !strings.Contains(page, ts.URL+"/local/blog/commit/"+sha) {
		t.Fatalf("/status does not link the deployed commit %s on the forge:\n%s", sha, page)
	}

	// Flux's notification-controller reports the app's Kustomization Ready at the env commit:
	// the GitHub Deployment of the app commit turns success.
	envHead, err := host.Head(ctx, "env", "main")
	if err != nil {
		t.Fatal(err)
	}
	fluxEvent, _ := json.Marshal(map[string]any{
		"involvedObject":      map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": "blog", "namespace": "flux-system"},
		"metadata":            map[string]any{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:" + envHead},
		"severity":            "info",
		"reason":              "ReconciliationSucceeded",
		"message":             "Applied revision: main@sha1:" + envHead,
		"reportingController": "kustomize-controller",
		"timestamp":           "2026-11-23T00:00:00Z",
	})
	before := 0
	if deps := gh.Deployments("local", "blog"); len(deps) > 0 {
		before = len(deps[len(deps)-1].Statuses)
	}
	fm := hmac.New(sha256.New, []byte("flux-hmac-token"))
	fm.Write(fluxEvent)
	freq, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/flux/development", bytes.NewReader(fluxEvent))
	freq.Header.Set("Content-Type", "application/json")
	freq.Header.Set("X-Signature", "sha256="+hex.EncodeToString(fm.Sum(nil)))
	fresp, err := http.DefaultClient.Do(freq)
	if err != nil {
		t.Fatal(err)
	}
	fresp.Body.Close()
	if fresp.StatusCode/100 != 2 {
		t.Fatalf("flux event status %d\n%s", fresp.StatusCode, stderr.String())
	}
	deps := gh.Deployments("local", "blog")
	if len(deps) == 0 {
		t.Fatal("no GitHub deployment")
	}
	last := deps[len(deps)-1]
	if st := last.Statuses; len(st) <= before || st[len(st)-1].State != "success" || last.Environment != "development" {
		t.Fatalf("deployment %+v, want development with a new success status from Flux (had %d statuses)", last, before)
	}
	n := len(last.Statuses)
	// An unsigned event changes nothing.
	uresp, err := http.Post("http://"+addr+"/hooks/flux/development", "application/json", bytes.NewReader(fluxEvent))
	if err != nil {
		t.Fatal(err)
	}
	uresp.Body.Close()
	if uresp.StatusCode != http.StatusUnauthorized || len(gh.Deployments("local", "blog")[len(deps)-1].Statuses) != n {
		t.Fatalf("unsigned flux event: status %d", uresp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "as:scorebot") || strings.Contains(stderr.String(), "s3cret") || strings.Contains(stderr.String(), "flux-hmac-token") {
		t.Fatalf("a credential reached the logs:\n%s", stderr.String())
	}
}

// rewriteEnvRepoURL points platform.yaml's envRepo.url at url.
func rewriteEnvRepoURL(t *testing.T, platform []byte, url string) []byte {
	t.Helper()
	var out []string
	inEnvRepo := false
	for _, line := range strings.Split(string(platform), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(line, "envRepo:") {
			inEnvRepo = true
		} else if inEnvRepo && strings.HasPrefix(trimmed, "url:") {
			line = line[:strings.Index(line, "url:")] + "url: " + url
			inEnvRepo = false
		}
		out = append(out, line)
	}
	if !strings.Contains(strings.Join(out, "\n"), "url: "+url) {
		t.Fatalf("platform.yaml has no envRepo.url to rewrite")
	}
	return []byte(strings.Join(out, "\n"))
}

// pushPayload is the octokit push fixture pointed at owner/name and commit sha.
func pushPayload(t *testing.T, owner, name, cloneURL, sha string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../shared/fixtures/github-webhooks/push/payload.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["name"], repo["full_name"], repo["clone_url"], repo["default_branch"] = name, owner+"/"+name, cloneURL, "main"
	repo["owner"].(map[string]any)["login"] = owner
	repo["owner"].(map[string]any)["name"] = owner
	p["ref"], p["before"], p["after"] = "refs/heads/main", githost.ZeroSHA, sha
	p["created"], p["deleted"] = true, false
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitServeReady waits until the bot serve at addr answers /readyz 200.
func waitServeReady(t *testing.T, addr string, done <-chan error, logs *syncBuffer) {
	t.Helper()
	waitUntil(t, "serve ready", done, logs, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// waitUntil polls cond until it holds, failing if serve ends or 60 s pass.
func waitUntil(t *testing.T, what string, done <-chan error, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("serve ended while waiting for %s: %v\n%s", what, err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs.String())
		}
	}
}
