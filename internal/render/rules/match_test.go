package rules

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func loadDir(t *testing.T, dir string) *Rules {
	t.Helper()
	r, err := Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return r
}

func TestMatchSpecificity(t *testing.T) {
	r := loadDir(t, "testdata/match")
	ctx := func(typ, class, res, app, env string) Context {
		e, ok := r.Environment(env)
		if !ok {
			t.Fatalf("no environment %s", env)
		}
		return Context{Type: typ, Class: class, ResID: res, AppID: app, EnvID: e.Name, EnvType: e.Type}
	}
	tests := []struct {
		name    string
		ctx     Context
		want    string // winning definition id
		crit    int
		wantErr error
		outcome map[string]string // candidate → substring of its outcome
	}{
		{"env_type selects development", ctx("postgres", "", "web.db", "x", "development"), "pg-dev", 0, nil,
			map[string]string{"pg-any": "lost to pg-dev: env_type beats no criteria", "pg-prod-type": "env_type production ≠ development"}},
		{"env_type selects production", ctx("postgres", "", "web.db", "x", "production"), "pg-prod-type", 0, nil, nil},
		{"env_id beats env_type", ctx("postgres", "", "web.db", "x", "prod-eu"), "pg-prod-eu", 0, nil,
			map[string]string{"pg-prod-type": "lost to pg-prod-eu: env_id beats env_type"}},
		{"app_id+env_type beats app_id and env_type", ctx("postgres", "", "web.db", "shop", "production"), "pg-shop-prod", 0, nil,
			map[string]string{"pg-shop": "both set app_id; env_type makes it more specific", "pg-prod-type": "app_id beats env_type"}},
		{"env_id beats app_id+env_type", ctx("postgres", "", "web.db", "shop", "prod-eu"), "pg-prod-eu", 0, nil,
			map[string]string{"pg-shop-prod": "lost to pg-prod-eu: env_id beats app_id"}},
		{"app_id beats env_type", ctx("postgres", "", "web.db", "shop", "development"), "pg-shop", 0, nil,
			map[string]string{"pg-dev": "app_id beats env_type"}},
		{"no criteria matches everywhere", ctx("postgres", "", "web.db", "x", "staging"), "pg-any", -1, nil,
			map[string]string{"template://test/postgres-any": "provisioner, below matching definitions"}},
		{"res_id beats everything", ctx("postgres", "", "shared-db", "shop", "prod-eu"), "pg-resid", 0, nil,
			map[string]string{"pg-prod-eu": "res_id beats env_id"}},
		{"best criterion of a definition counts", ctx("postgres", "", "web.db", "blog", "staging"), "pg-multi", 1, nil, nil},
		{"class is an exact filter", ctx("postgres", "large", "web.db", "shop", "prod-eu"), "pg-large", -1, nil,
			map[string]string{"pg-prod-eu": "class default ≠ large"}},
		{"unknown class falls back to provisioner", ctx("postgres", "tiny", "web.db", "x", "production"), "template://test/postgres-any", -1, nil,
			map[string]string{"pg-large": "class large ≠ tiny"}},
		{"tie is an error", ctx("redis", "", "cache", "x", "production"), "", -1, ErrAmbiguous,
			map[string]string{"redis-a": "tied with redis-b", "redis-dev": "env_id development ≠ production"}},
		{"no tie in development", ctx("redis", "", "cache", "x", "development"), "redis-dev", 0, nil, nil},
		{"criterion class matches", ctx("s3", "big", "w.b", "x", "production"), "s3-big", 0, nil, nil},
		{"criterion class filters", ctx("s3", "", "w.b", "x", "production"), "", -1, ErrNoMatch,
			map[string]string{"s3-big": "class big ≠ default"}},
		{"provisioners: first match wins", ctx("mysql", "", "special", "x", "production"), "template://test/mysql-special", -1, nil,
			map[string]string{"template://test/mysql-any": "lost to template://test/mysql-special", "template://test/mysql-small": "class small ≠ default"}},
		{"provisioners: null id matches any id", ctx("mysql", "", "web.db", "x", "staging"), "template://test/mysql-any", -1, nil,
			map[string]string{"template://test/mysql-special": "id special ≠ web.db"}},
		{"cmd provisioner is refused", ctx("kafka", "", "web.topic", "x", "staging"), "", -1, ErrUnsupported, nil},
		{"unknown type", ctx("dns", "", "web.dns", "x", "staging"), "", -1, ErrNoMatch, nil},
	}
	var explain strings.Builder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Match(tt.ctx)
			explain.WriteString("## " + tt.name + "\n" + m.Explain())
			if err != nil {
				explain.WriteString("error: " + err.Error() + "\n")
			}
			explain.WriteString("\n")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" {
				if m.Definition == nil || m.Definition.ID != tt.want {
					t.Fatalf("matched %v, want %s\n%s", m.Definition, tt.want, m.Explain())
				}
				if m.Criterion != tt.crit {
					t.Errorf("criterion = %d, want %d", m.Criterion, tt.crit)
				}
			} else if tt.wantErr != ErrUnsupported && m.Definition != nil {
				t.Errorf("matched %s, want none", m.Definition.ID)
			}
			for id, want := range tt.outcome {
				found := false
				for _, c := range m.Trace {
					if c.Definition == id {
						found = true
						if !strings.Contains(c.Outcome, want) {
							t.Errorf("%s outcome %q, want it to contain %q", id, c.Outcome, want)
						}
					}
				}
				if !found {
					t.Errorf("%s missing from trace:\n%s", id, m.Explain())
				}
			}
			won := 0
			for _, c := range m.Trace {
				if c.Won {
					won++
				}
			}
			if (m.Definition != nil) != (won == 1) || won > 1 {
				t.Errorf("%d candidates marked won, definition %v", won, m.Definition)
			}
		})
	}
	golden(t, "explain.golden", explain.String())
}

func TestMatchTraceIsStable(t *testing.T) {
	r := loadDir(t, "testdata/match")
	c := Context{Type: "postgres", ResID: "web.db", AppID: "shop", EnvID: "prod-eu", EnvType: "production"}
	first, err := r.Match(c)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, _ := r.Match(c)
		if again.Explain() != first.Explain() {
			t.Fatalf("explain changed between runs:\n%s\n%s", first.Explain(), again.Explain())
		}
	}
}

func TestWorkloadAdjustments(t *testing.T) {
	r, err := Load(mapFS(map[string]string{
		"platform.yaml": "environments: [{name: development}, {name: production}]\n",
		"definitions/workloads.yaml": `
- id: prod-replicas
  type: workload
  criteria: [{env_type: production}]
  replicas: 2
  securityContext: {runAsNonRoot: true}
- id: everywhere
  type: workload
  labels: {team: platform}
- id: shop-prod
  type: workload
  criteria: [{app_id: shop, env_id: production}]
  replicas: 3
- id: shop-any
  type: workload
  criteria: [{app_id: shop}]
  annotations: {example.com/owner: shop-team}
`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ws []*WorkloadDefinition) string {
		var s []string
		for _, w := range ws {
			s = append(s, w.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tt := range []struct {
		ctx  Context
		want string
	}{
		{Context{AppID: "shop", EnvID: "production", EnvType: "production"}, "everywhere,prod-replicas,shop-any,shop-prod"},
		{Context{AppID: "blog", EnvID: "production", EnvType: "production"}, "everywhere,prod-replicas"},
		{Context{AppID: "shop", EnvID: "development", EnvType: "development"}, "everywhere,shop-any"},
	} {
		if got := ids(r.WorkloadAdjustments(tt.ctx)); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.ctx, got, tt.want)
		}
	}
}

func TestPlatformHelpers(t *testing.T) {
	r, err := Load(mapFS(map[string]string{
		"platform.yaml": `
environments:
  - {name: dev, type: development, namespace: "team-{app}"}
  - {name: prod, type: production, autoMerge: true}
apps:
  - {repo: acme/Shop-Frontend, appId: shop, scoreFiles: ["services/*/score.yaml"]}
`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Platform.NamespaceFor("shop", "dev"); got != "team-shop" {
		t.Errorf("namespace dev = %s", got)
	}
	if got := r.Platform.NamespaceFor("shop", "prod"); got != "shop-prod" {
		t.Errorf("namespace prod = %s", got)
	}
	e, ok := r.Environment("prod")
	if !ok || e.Reach != ReachPromotion || !e.AutoMerge || e.Type != "production" {
		t.Errorf("prod = %+v", e)
	}
	if e, _ := r.Environment("dev"); e.Reach != ReachAuto {
		t.Errorf("dev reach = %s", e.Reach)
	}
	if a := r.AppFor("ACME/shop-frontend"); a.AppID != "shop" || a.ScoreFiles[0] != "services/*/score.yaml" {
		t.Errorf("mapped app = %+v", a)
	}
	if a := r.AppFor("acme/My_Service.go"); a.AppID != "my-service-go" || len(a.ScoreFiles) != 1 || a.ScoreFiles[0] != "score.yaml" {
		t.Errorf("default app = %+v", a)
	}
	if r.Platform.EnvRepo.Branch != "main" {
		t.Errorf("default branch = %q", r.Platform.EnvRepo.Branch)
	}
}

// TestNoMatchSuggestsType: a mistyped resource type is named with the closest type the
// rules provide, the list of types, and the fix.
func TestNoMatchSuggestsType(t *testing.T) {
	r := loadDir(t, "testdata/match")
	_, err := r.Match(Context{Type: "postgress", ResID: "web.db", AppID: "x", EnvID: "staging", EnvType: "staging"})
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("err = %v, want ErrNoMatch", err)
	}
	for _, want := range []string{
		"no definition or provisioner of type postgress",
		`did you mean "postgres"?`,
		"(the rules provide: kafka, mysql, postgres, redis, s3)",
		"fix: write type: postgres in the Score file, or add a definition to the rules repo",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = r.Match(Context{Type: "dns", ResID: "web.dns", EnvID: "staging", EnvType: "staging"})
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("no suggestion expected for a type far from every known one: %v", err)
	}
}
