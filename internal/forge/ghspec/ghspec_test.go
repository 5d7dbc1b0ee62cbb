package ghspec

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestValidateWebhookFixtures(t *testing.T) {
	dir, err := FixturesDir()
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Clean("/work/shared/fixtures") && os.Getenv("CI") == "" {
		t.Logf("fixtures at %s", dir)
	}
	for _, event := range []string{"push", "pull_request", "issue_comment", "ping", "installation"} {
		files, err := filepath.Glob(filepath.Join(dir, "github-webhooks", event, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		for _, f := range files {
			t.Run(event+"/"+filepath.Base(f), func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := ValidateWebhook(event, body); err != nil {
					t.Errorf("%v", err)
				}
			})
		}
	}
}
