package events

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/forge/ghspec"
)

// webhookFixtures is the shared corpus of real GitHub payloads (octokit/webhooks and
// drone/go-scm), beside the repository: /work/shared in development, shared/ in CI.
const webhookFixtures = "../../../shared/fixtures/github-webhooks"

// derivedFixtures holds payloads for events the shared corpus lacks, derived from GitHub's
// webhooks description and the shared fixtures (testdata/webhooks/README.md says how). They
// join the corpus under the name derived/<event>/<file>.
const derivedFixtures = "testdata/webhooks"

// fixture is one payload file and the X-GitHub-Event it was sent with (its folder name).
type fixture struct {
	Name  string // path under webhookFixtures
	Event string
	Body  []byte
}

// Delivery is a stable delivery id per fixture, GUID-shaped like GitHub's.
func (f fixture) Delivery() string {
	sum := sha256.Sum256([]byte(f.Name))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	out, err := readFixtures(webhookFixtures, "")
	if err != nil {
		t.Fatalf("read webhook fixtures in %s (the shared fixtures must sit beside the repo): %v", webhookFixtures, err)
	}
	if len(out) < 30 {
		t.Fatalf("only %d webhook fixtures found in %s", len(out), webhookFixtures)
	}
	derived, err := readFixtures(derivedFixtures, "derived/")
	if err != nil || len(derived) == 0 {
		t.Fatalf("read derived webhook fixtures in %s: %d found, %v", derivedFixtures, len(derived), err)
	}
	out = append(out, derived...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// readFixtures reads every .json file under root: <event>/<file> (or
// supplementary-drone-go-scm/<event>/<file>), named prefix+<path under root>.
func readFixtures(root, prefix string) ([]fixture, error) {
	var out []fixture
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		event := parts[0]
		if event == "supplementary-drone-go-scm" {
			event = parts[1]
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, fixture{Name: prefix + filepath.ToSlash(rel), Event: event, Body: body})
		return nil
	})
	return out, err
}

func sign256(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func sign1(secret, body []byte) string {
	m := hmac.New(sha1.New, secret)
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// TestDerivedFixturesMatchGitHubSchema holds the payloads derived in testdata/webhooks to
// GitHub's webhooks description.
func TestDerivedFixturesMatchGitHubSchema(t *testing.T) {
	derived, err := readFixtures(derivedFixtures, "derived/")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range derived {
		if err := ghspec.ValidateWebhook(f.Event, f.Body); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
}
