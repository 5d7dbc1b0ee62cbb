package provision

import (
	"fmt"
	"testing"
)

// benchInput is n workloads with five resources each (postgres, a shared redis, dns, route,
// volume), provisioned with score-k8s's default provisioners.
func benchInput(b testing.TB, n int) Input {
	in := Input{Rules: loadScoreK8sDefaults(b), Env: env("development"), AppID: "bench", Namespace: "bench-development"}
	for i := range n {
		in.Workloads = append(in.Workloads, parseWorkload(b, fmt.Sprintf("w%03d/score.yaml", i), fmt.Sprintf(`
apiVersion: score.dev/v1b1
metadata: {name: w%03d}
service: {ports: {web: {port: 80, targetPort: 8080}}}
containers: {main: {image: nginx}}
resources:
  db: {type: postgres}
  cache: {type: redis, id: shared-cache}
  dns: {type: dns}
  route: {type: route, params: {host: "${resources.dns.host}", path: /, port: web}}
  data: {type: volume}
`, i)))
	}
	return in
}

func BenchmarkProvision(b *testing.B) {
	in := benchInput(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		res, err := Provision(in)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Resources) != 401 {
			b.Fatalf("%d resources", len(res.Resources))
		}
	}
}
