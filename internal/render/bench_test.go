package render

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var (
	genDir = flag.String("gen", "", "TestGenerateScores writes -n generated score files to this folder")
	genN   = flag.Int("gen-count", 200, "how many score files TestGenerateScores writes")
)

// generatedScore is a workload with five resources: its own postgres, the redis shared by
// every generated workload, a dns name, a route and a volume.
func generatedScore(i int) []byte {
	return fmt.Appendf(nil, `apiVersion: score.dev/v1b1
metadata:
  name: svc-%04d
service:
  ports:
    http:
      port: 80
      targetPort: 8080
containers:
  main:
    image: ghcr.io/acme/svc:1.%d.0
    variables:
      DB_HOST: ${resources.db.host}
      DB_PORT: ${resources.db.port}
      DB_NAME: ${resources.db.name}
      DB_USER: ${resources.db.username}
      DB_PASSWORD: ${resources.db.password}
      REDIS_ADDR: ${resources.cache.host}:${resources.cache.port}
      PUBLIC_URL: https://${resources.dns.host}/
    volumes:
      /data:
        source: ${resources.data}
resources:
  db:
    type: postgres
  cache:
    type: redis
    id: shared-cache
  dns:
    type: dns
  route:
    type: route
    params:
      host: ${resources.dns.host}
      path: /
      port: 80
  data:
    type: volume
`, i, i%10)
}

func generatedFiles(n int) []ScoreFile {
	files := make([]ScoreFile, n)
	for i := range files {
		files[i] = ScoreFile{Path: fmt.Sprintf("svc-%04d/score.yaml", i), Data: generatedScore(i)}
	}
	return files
}

// TestGenerateScores writes generated score files for timing the whole command:
//
//	go test ./internal/render -run TestGenerateScores -gen /tmp/bench200 -gen-count 200
func TestGenerateScores(t *testing.T) {
	if *genDir == "" {
		// Check the generator's output renders; the benchmark relies on it.
		rs := loadRules(t, exampleRules)
		out, err := Render(Input{Rules: rs, Env: "development", AppID: "bench", Files: generatedFiles(3)})
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, out, rs.Platform.EnvRepo.Path)
		return
	}
	for i := range *genN {
		p := filepath.Join(*genDir, fmt.Sprintf("svc-%04d", i), "score.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, generatedScore(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkRender renders n generated workloads (five resources each) as one app with the
// example rules: load, match, provision, convert, check and lay out.
func BenchmarkRender(b *testing.B) {
	rs := loadRules(b, exampleRules)
	for _, n := range []int{1, 10, 100, 1000} {
		files := generatedFiles(n)
		b.Run(fmt.Sprintf("workloads=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Render(Input{Rules: rs, Env: "development", AppID: "bench", Files: files}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)/1e3, "µs/workload")
		})
	}
}

// BenchmarkLoadScore loads one generated score file: parse, upgrade, schema, map, validate.
func BenchmarkLoadScore(b *testing.B) {
	data := generatedScore(1)
	for b.Loop() {
		if _, err := LoadScore("svc/score.yaml", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}
