package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scorebot/scorebot/internal/events"
)

// threeEnvRules adds production (and maps local/shop to five Score files) to the test rules.
func threeEnvRules(files map[string][]byte) {
	files["platform.yaml"] = []byte(strings.Replace(string(files["platform.yaml"]), "envRepo:", `  - name: production
    type: production
    reach: promotion
apps:
  - repo: local/shop
    appId: shop
    scoreFiles: ["workloads/*.yaml"]
envRepo:`, 1))
}

// shopFiles is an app of five workloads, each with a postgres database, at version.
func shopFiles(version string) map[string][]byte {
	out := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("w%d", i)
		out["workloads/"+name+".yaml"] = testApp(name, version)["score.yaml"]
	}
	return out
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPreviewApp: a pull_request synchronize event → the preview comment showing that
// head, for an app of 5 workloads in 3 environments, one of them deployed.
//
//	go test ./internal/pipeline -run XXX -bench BenchmarkPreviewApp -benchtime 20x
func BenchmarkPreviewApp(b *testing.B) {
	h := newHarness(b)
	h.seedRules(threeEnvRules)
	h.deployDirectFiles("shop", shopFiles("1"), []string{"development"})
	h.start(h.previewConfig("bench"))
	number, sha := h.openPR("shop", "feature", shopFiles("2"))
	h.publish(events.KindPullRequest, h.prPayload("opened", "shop", number, "feature", sha, false))
	waitFor(b, "the first preview", func() bool { return h.hasPreviewOf("shop", number, sha) })
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		sha := h.pushBranch("shop", "feature", number, shopFiles(fmt.Sprint(i+3)))
		b.StartTimer()
		start := time.Now()
		h.publish(events.KindPullRequest, h.prPayload("synchronize", "shop", number, "feature", sha, false))
		waitForQuick(b, "the preview", func() bool { return h.hasPreviewOf("shop", number, sha) })
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	body := h.previewComments("shop", number)[0]
	for _, want := range []string{"| development | 0 | 5 | 0 |", "| staging | 8 | 0 | 0 |", "| production | 8 | 0 | 0 |", "deployment-w4.yaml"} {
		if !strings.Contains(body, want) {
			b.Fatalf("preview lacks %q:\n%s", want, body)
		}
	}
	reportPercentiles(b, lat)
}

// BenchmarkPreviewRules200: a rules PR → the rules preview comment, over 200 deployed apps
// (in development), each rendered under the base and the PR's rules.
//
//	go test ./internal/pipeline -run XXX -bench BenchmarkPreviewRules200 -benchtime 2x
func BenchmarkPreviewRules200(b *testing.B) {
	h := newHarness(b)
	var apps []string
	for i := range 200 {
		apps = append(apps, fmt.Sprintf("app%03d", i))
	}
	h.deployDirect(apps, []string{"development"})
	h.start(h.previewConfig("bench"))
	number, sha := h.openPR("rules", "pg", h.rulesFiles(func(files map[string][]byte) {
		p := "definitions/resources.yaml"
		files[p] = []byte(strings.Replace(string(files[p]), "host: pg.db.svc", "host: pg-0.db.svc", 1))
	}))
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i > 0 {
			b.StopTimer()
			sha = h.pushBranch("rules", "pg", number, h.rulesFiles(func(files map[string][]byte) {
				p := "definitions/resources.yaml"
				files[p] = []byte(strings.Replace(string(files[p]), "host: pg.db.svc", fmt.Sprintf("host: pg-%d.db.svc", i), 1))
			}))
			b.StartTimer()
		}
		start := time.Now()
		h.publish(events.KindPullRequest, h.prPayload("synchronize", "rules", number, "pg", sha, false))
		waitForQuick(b, "the rules preview", func() bool { return h.hasPreviewOf("rules", number, sha) })
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	if body := h.previewComments("rules", number)[0]; !strings.Contains(body, "200 would change, 0 would break") {
		b.Fatalf("rules preview does not list 200 changed apps:\n%.2000s", body)
	}
	reportPercentiles(b, lat)
}

// hasPreviewOf reports whether PR number's preview comment shows head sha.
func (h *harness) hasPreviewOf(name string, number int, sha string) bool {
	c := h.previewComments(name, number)
	return len(c) == 1 && strings.Contains(c[0], "<code>"+sha[:7]+"</code>")
}

// waitForQuick is waitFor polling every millisecond, for latency measurements.
func waitForQuick(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval of a bounded wait
	}
}
