package promotion

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/preview"
	"github.com/scorebot/scorebot/internal/render/rules"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

var envs = []rules.Environment{
	{Name: "development", Reach: rules.ReachAuto},
	{Name: "staging", Reach: rules.ReachPromotion, AutoMerge: true},
	{Name: "production", Reach: rules.ReachPromotion},
}

func TestBranches(t *testing.T) {
	tests := []struct {
		branch, kind, app, env string
		ok                     bool
	}{
		{Branch("shop", "staging"), KindPromote, "shop", "staging", true},
		{RollbackBranch("shop", "production"), KindRollback, "shop", "production", true},
		{RejectedBranch("blog", "staging"), KindRejected, "blog", "staging", true},
		{RerenderBranch("staging"), KindRerender, "", "staging", true},
		{"scorebot/rerender/a/b", "", "", "", false},
		{"scorebot/promote/shop", "", "", "", false},
		{"scorebot/promote/shop/a/b", "", "", "", false},
		{"scorebot/promote//staging", "", "", "", false},
		{"feature/x", "", "", "", false},
	}
	for _, tt := range tests {
		kind, app, env, ok := ParseBranch(tt.branch)
		if kind != tt.kind || app != tt.app || env != tt.env || ok != tt.ok {
			t.Errorf("ParseBranch(%q) = %q %q %q %v, want %q %q %q %v", tt.branch, kind, app, env, ok, tt.kind, tt.app, tt.env, tt.ok)
		}
	}
}

func TestSteps(t *testing.T) {
	s, err := StepInto(envs, "staging")
	if err != nil || s.From.Name != "development" || s.To.Name != "staging" {
		t.Fatalf("StepInto(staging) = %+v, %v", s, err)
	}
	if _, err := StepInto(envs, "development"); !errors.Is(err, ErrNotPromotable) {
		t.Errorf("StepInto(development) err = %v, want ErrNotPromotable", err)
	}
	if _, err := StepInto(envs, "qa"); !errors.Is(err, ErrUnknownEnv) || !strings.Contains(err.Error(), "development, staging, production") {
		t.Errorf("StepInto(qa) err = %v", err)
	}
	if n, ok := Next(envs, "staging"); !ok || n.To.Name != "production" {
		t.Errorf("Next(staging) = %+v %v", n, ok)
	}
	if _, ok := Next(envs, "production"); ok {
		t.Error("Next(production) should be none")
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		words []string
		want  Command
		err   bool
	}{
		{[]string{"promote", "staging"}, Command{Verb: "promote", Env: "staging"}, false},
		{[]string{"promote", "production", "abc1234"}, Command{Verb: "promote", Env: "production", SHA: "abc1234"}, false},
		{[]string{"rollback", "production"}, Command{Verb: "rollback", Env: "production"}, false},
		{[]string{"rollback", "staging", "0123456789abcdef0123456789abcdef01234567"}, Command{Verb: "rollback", Env: "staging", SHA: "0123456789abcdef0123456789abcdef01234567"}, false},
		{[]string{"promote"}, Command{}, true},
		{[]string{"promote", "Staging"}, Command{}, true},
		{[]string{"promote", "staging", "xyz"}, Command{}, true},
		{[]string{"promote", "staging", "abc1234", "extra"}, Command{}, true},
		{[]string{"deploy", "staging"}, Command{}, true},
		{nil, Command{}, true},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.words)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v", tt.words, got, err)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("ParseCommand(%q) error %v is not ErrUsage", tt.words, err)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	f.Add("promote staging")
	f.Add("rollback production abc1234")
	f.Add("promote \x00 zz")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCommand(strings.Fields(s))
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("error not ErrUsage: %v", err)
			}
			return
		}
		if !envRE.MatchString(c.Env) || (c.SHA != "" && !shaRE.MatchString(c.SHA)) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

func TestProvenanceAndRejection(t *testing.T) {
	p, err := ParseProvenance([]byte("app: shop\nenvironment: development\nsource:\n  repo: acme/shop\n  commit: abc\nrules:\n  commit: def\nscores:\n- path: score.yaml\n  sha256: x\n"))
	if err != nil || p.Source.Repo != "acme/shop" || p.Rules.Commit != "def" || p.ScorePaths()[0] != "score.yaml" {
		t.Fatalf("ParseProvenance = %+v, %v", p, err)
	}
	if _, err := ParseProvenance([]byte("app: shop\n")); err == nil {
		t.Error("provenance without source accepted")
	}
	r := Rejection{App: "shop", Env: "production", SourceRepo: "acme/shop", SourceCommit: "abc", BranchCommit: "def", PR: 3}
	got, err := ParseRejection(r.Marshal())
	if err != nil || got != r {
		t.Fatalf("rejection round trip = %+v, %v", got, err)
	}
}

func TestSameCommit(t *testing.T) {
	full := "0123456789abcdef0123456789abcdef01234567"
	for sha, want := range map[string]bool{full: true, "0123456": true, "0123456789ABC": true, "012345": false, "1234567": false, "": false} {
		if got := SameCommit(full, sha); got != want {
			t.Errorf("SameCommit(%q) = %v", sha, got)
		}
	}
}

func TestDescriptionGolden(t *testing.T) {
	diffs := preview.Diff(
		map[string][]byte{"apps/staging/shop/deployment-web.yaml": []byte("image: web:1\nhost: pg-dev\n"), "apps/staging/shop/old.yaml": []byte("x: 1\n")},
		map[string][]byte{"apps/staging/shop/deployment-web.yaml": []byte("image: web:2\nhost: pg-staging\n"), "apps/staging/shop/new.yaml": []byte("y: ```\n")},
	)
	cases := map[string]Description{
		"promote": {Kind: KindPromote, App: "shop", From: "development", To: "staging", SourceRepo: "acme/shop",
			SourceCommit: "0123456789abcdef0123456789abcdef01234567", SourceURL: "https://github.com/acme/shop/commit/0123456789abcdef0123456789abcdef01234567",
			RulesCommit: "fedcba9876543210fedcba9876543210fedcba98", Current: "1111111111111111111111111111111111111111", Diffs: diffs},
		"promote-auto-new": {Kind: KindPromote, App: "shop", From: "development", To: "staging", SourceRepo: "acme/shop",
			SourceCommit: "0123456789abcdef0123456789abcdef01234567", AutoMerge: true, Diffs: diffs},
		"rerender": {Kind: KindRerender, To: "staging", RulesCommit: "fedcba9876543210fedcba9876543210fedcba98",
			Apps: []string{"blog", "shop"}, Failed: []string{"jobs"}, Diffs: diffs},
		"rollback": {Kind: KindRollback, App: "shop", To: "production", SourceRepo: "acme/shop",
			SourceCommit: "0123456789abcdef0123456789abcdef01234567", RestoredFrom: "2222222222222222222222222222222222222222",
			Current: "1111111111111111111111111111111111111111", Diffs: diffs},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			got := d.Title() + "\n\n" + d.Markdown()
			goldenfile.Check(t, filepath.Join("testdata", name+".golden.md"), []byte(got))
		})
	}
}

func TestDescriptionLimit(t *testing.T) {
	var diffs []preview.FileDiff
	for i := range 400 {
		lines := make([]string, 60)
		for j := range lines {
			lines[j] = "+ a line of some length to fill the body quickly " + strings.Repeat("x", 40)
		}
		diffs = append(diffs, preview.FileDiff{Path: "apps/staging/shop/f" + strings.Repeat("0", i%3) + ".yaml", Op: preview.Added, Plus: 60, Lines: lines})
	}
	md := Description{Kind: KindPromote, App: "shop", From: "a", To: "b", SourceRepo: "acme/shop", SourceCommit: "abc", Diffs: diffs}.Markdown()
	if len(md) > MaxBody {
		t.Fatalf("body %d > %d", len(md), MaxBody)
	}
	if strings.Count(md, "<details>") != strings.Count(md, "</details>") || strings.Count(md, "```")%2 != 0 {
		t.Error("unbalanced details or fences")
	}
	if !strings.Contains(md, "Left out to fit") {
		t.Error("no note on what was left out")
	}
}

// FuzzParseRecords: provenance and rejection records come from the env repo, which other
// writers can touch; they must never panic, and an accepted record has its required fields.
func FuzzParseRecords(f *testing.F) {
	f.Add([]byte("app: shop\nsource:\n  repo: acme/shop\n  commit: abc\nscores:\n- path: score.yaml\n"))
	f.Add(Rejection{App: "shop", Env: "production", SourceCommit: "abc", PR: 2}.Marshal())
	f.Add([]byte("source: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParseProvenance(data); err == nil && (p.Source.Repo == "" || p.Source.Commit == "") {
			t.Fatalf("accepted provenance without source: %+v", p)
		}
		if r, err := ParseRejection(data); err == nil && r.SourceCommit == "" {
			t.Fatalf("accepted rejection without source commit: %+v", r)
		}
	})
}
