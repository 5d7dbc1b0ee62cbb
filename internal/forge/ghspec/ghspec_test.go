package ghspec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// drift lists what the octokit example payloads (older than the webhooks description) lack,
// per fixture file prefix. The test checks the unpatched fixture fails for exactly that
// reason, then that the fixture patched with the missing fields validates: a schema change
// or a validator that accepts anything both show up.
var drift = map[string]struct {
	reason string
	patch  func(map[string]any)
}{
	"push/": {"has_discussions", func(p map[string]any) { addDiscussions(p["repository"]) }},
	"pull_request/labeled": {"has_discussions", func(p map[string]any) {
		pr := p["pull_request"].(map[string]any)
		addDiscussions(pr["head"].(map[string]any)["repo"])
		addDiscussions(pr["base"].(map[string]any)["repo"])
	}},
	"pull_request/synchronize": {"has_discussions", func(p map[string]any) {
		pr := p["pull_request"].(map[string]any)
		addDiscussions(pr["head"].(map[string]any)["repo"])
		addDiscussions(pr["base"].(map[string]any)["repo"])
	}},
	"installation/": {"app_slug", func(p map[string]any) {
		in := p["installation"].(map[string]any)
		in["app_slug"] = "octoapp"
		in["created_at"] = "2019-05-15T15:19:51Z"
		in["updated_at"] = "2019-05-15T15:19:51Z"
	}},
}

func addDiscussions(repo any) { repo.(map[string]any)["has_discussions"] = false }

func TestValidateWebhookFixtures(t *testing.T) {
	dir, err := FixturesDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, event := range []string{"push", "pull_request", "issue_comment", "ping", "installation"} {
		files, err := filepath.Glob(filepath.Join(dir, "github-webhooks", event, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no %s fixtures under %s", event, dir)
		}
		sort.Strings(files)
		for _, f := range files {
			name := event + "/" + filepath.Base(f)
			t.Run(name, func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				err = ValidateWebhook(event, body)
				d, drifted := lookupDrift(name)
				if !drifted {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), d.reason) {
					t.Fatalf("known drift %q no longer reported: %v", d.reason, err)
				}
				var p map[string]any
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatal(err)
				}
				d.patch(p)
				patched, _ := json.Marshal(p)
				if err := ValidateWebhook(event, patched); err != nil {
					t.Fatalf("patched for %s, still invalid: %v", d.reason, err)
				}
			})
		}
	}
}

func lookupDrift(name string) (struct {
	reason string
	patch  func(map[string]any)
}, bool) {
	for prefix, d := range drift {
		if strings.HasPrefix(name, prefix) {
			return d, true
		}
	}
	return drift[""], false
}

func TestValidateWebhookRejects(t *testing.T) {
	tests := []struct {
		name, event, body string
		want              error
	}{
		{"unknown event", "no_such_event", `{}`, ErrUnknownEvent},
		{"not JSON", "push", `{`, nil},
		{"empty push", "push", `{}`, nil},
		{"pull_request without pull_request", "pull_request", `{"action":"opened","number":1}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateWebhook(tt.event, []byte(tt.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFixturesDir(t *testing.T) {
	dir, err := FixturesDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "github-openapi", "rest-api.github.com.json")); err != nil {
		t.Fatal(err)
	}
}
