package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// examplesDir is examples/rules at the module root.
const examplesDir = "../../../examples/rules"

// TestExamples: the example rules repo loads, every resource type the example apps use
// matches the intended definition in every environment, and the templates stay deterministic
// and free of plaintext Secrets.
func TestExamples(t *testing.T) {
	r := loadDir(t, examplesDir)
	want := map[string][3]string{ // type → winner in development, staging, production
		"postgres":     {"postgres-in-cluster", "postgres-in-cluster", "postgres-managed"},
		"redis":        {"redis-in-cluster", "redis-in-cluster", "redis-production"},
		"mysql":        {"mysql-in-cluster", "mysql-in-cluster", "mysql-in-cluster"},
		"mongodb":      {"mongodb-in-cluster", "mongodb-in-cluster", "mongodb-in-cluster"},
		"amqp":         {"amqp-rabbitmq", "amqp-rabbitmq", "amqp-rabbitmq"},
		"s3":           {"s3-bucket", "s3-bucket", "s3-bucket"},
		"dns":          {"dns-apps-domain", "dns-apps-domain", "dns-apps-domain"},
		"route":        {"route-public-gateway", "route-public-gateway", "route-public-gateway"},
		"volume":       {"volume-empty-dir", "volume-pvc", "volume-pvc-shared"},
		"service-port": {"service-port", "service-port", "service-port"},
		"environment":  {"environment-development", "environment-defaults", "environment-defaults"},
	}
	for typ, winners := range want {
		for i, e := range r.Platform.Environments {
			m, err := r.Match(Context{Type: typ, ResID: "web.x", AppID: "blog", EnvID: e.Name, EnvType: e.Type})
			if err != nil {
				t.Errorf("%s in %s: %v", typ, e.Name, err)
				continue
			}
			if m.Definition.ID != winners[i] {
				t.Errorf("%s in %s: matched %s, want %s\n%s", typ, e.Name, m.Definition.ID, winners[i], m.Explain())
			}
		}
	}
	// A more specific definition for one app: app_id+env_id beats env_type.
	m, err := r.Match(Context{Type: "postgres", ResID: "web.db", AppID: "shop", EnvID: "production", EnvType: "production"})
	if err != nil || m.Definition.ID != "postgres-shop-production" {
		t.Fatalf("shop postgres in production: %v %v", m, err)
	}
	var ws []string
	for _, w := range r.WorkloadAdjustments(Context{AppID: "shop", EnvID: "production", EnvType: "production"}) {
		ws = append(ws, w.ID)
	}
	if got := strings.Join(ws, ","); got != "workload-defaults,workload-production,workload-shop-production" {
		t.Errorf("shop production workload definitions: %s", got)
	}

	nondeterministic := regexp.MustCompile(`\b(rand[A-Za-z]*|uuidv4|now|date|shuffle|genPrivateKey|htpasswd)\b`)
	plainSecret := regexp.MustCompile(`(?m)^\s*-?\s*kind:\s*Secret\s*$`)
	err = filepath.WalkDir(filepath.Join(examplesDir, "definitions"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if loc := nondeterministic.FindIndex(data); loc != nil {
			t.Errorf("%s uses a non-deterministic function: %q", p, data[loc[0]:loc[1]])
		}
		if plainSecret.Match(data) {
			t.Errorf("%s renders a Secret; use an ExternalSecret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
