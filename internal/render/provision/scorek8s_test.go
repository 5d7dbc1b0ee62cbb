package provision

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/scorebot/scorebot/internal/render/rules"
	"github.com/scorebot/scorebot/internal/render/secretref"
)

// loadScoreK8sDefaults loads score-k8s's default provisioners file, unchanged, as the only file
// of a rules repo.
func loadScoreK8sDefaults(t testing.TB) *rules.Rules {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "score-k8s", "default.provisioners.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return loadRulesOnly(t, map[string]string{"zz-default.provisioners.yaml": string(b)})
}

// TestScoreK8sDefaultProvisioners provisions fixture Score files with score-k8s's own default
// provisioners, and checks the outputs workloads read.
func TestScoreK8sDefaultProvisioners(t *testing.T) {
	r := loadScoreK8sDefaults(t)
	tests := []struct {
		name    string
		files   []string
		outputs map[string][]string // workload.resource → outputs that must be set
		secrets []string            // workload.resource.output that must be secret references
	}{
		{name: "postgres", files: []string{"examples__resources__postgres__score.yaml"},
			outputs: map[string][]string{"my-workload.my-postgres": {"host", "port", "name", "database", "username", "password"}},
			secrets: []string{"my-workload.my-postgres.password"}},
		{name: "redis", files: []string{"examples__resources__redis__score.yaml"},
			outputs: map[string][]string{"my-workload.my-redis": {"host", "port", "username", "password"}},
			secrets: []string{"my-workload.my-redis.password"}},
		{name: "volume", files: []string{"examples__specification__volumes__score.yaml"},
			outputs: map[string][]string{"my-workload.data": {"source"}}},
		{name: "dns-route", files: []string{"score-compose__examples__09-dns-and-route__score.yaml"},
			outputs: map[string][]string{"hello-world.dns": {"host"}}},
		{name: "service-port", files: []string{
			"score-compose__examples__08-service-port-resource__scoreA.yaml",
			"score-compose__examples__08-service-port-resource__scoreB.yaml",
		}, outputs: map[string][]string{"workload-b.dependency": {"hostname", "port"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Rules: r, Env: env("development"), AppID: "demo", Namespace: "demo-development"}
			for _, f := range tt.files {
				in.Workloads = append(in.Workloads, loadFixtureWorkload(t, f))
			}
			res, err := Provision(in)
			if err != nil {
				t.Fatal(err)
			}
			got := snapshot(t, res)
			golden(t, filepath.Join("score-k8s", tt.name+".golden.yaml"), got)
			again, err := Provision(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, snapshot(t, again)) {
				t.Error("second run differs")
			}
			for key, names := range tt.outputs {
				w, resName, _ := cutDot(key)
				outs := res.Outputs(w)[resName]
				for _, n := range names {
					if _, ok := outs[n]; !ok {
						t.Errorf("%s: output %s missing (have %v)", key, n, sortedKeys(outs))
					}
				}
			}
			for _, key := range tt.secrets {
				w, rest, _ := cutDot(key)
				resName, out, _ := cutDot(rest)
				s, _ := res.Outputs(w)[resName][out].(string)
				if _, ok := secretref.Whole(s); !ok {
					t.Errorf("%s = %q, want a secret reference", key, s)
				}
			}
		})
	}
}

func TestScoreK8sServicePortTarget(t *testing.T) {
	in := Input{Rules: loadScoreK8sDefaults(t), Env: env("development"), AppID: "demo", Namespace: "demo-development",
		Workloads: []Workload{
			loadFixtureWorkload(t, "score-compose__examples__08-service-port-resource__scoreA.yaml"),
			loadFixtureWorkload(t, "score-compose__examples__08-service-port-resource__scoreB.yaml"),
		}}
	res, err := Provision(in)
	if err != nil {
		t.Fatal(err)
	}
	dep := res.Outputs("workload-b")["dependency"]
	if dep["hostname"] != "workload-a" || dep["port"] != int64(80) {
		t.Errorf("service-port outputs = %v, want hostname workload-a, port 80 (the target port)", dep)
	}
}

func cutDot(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
