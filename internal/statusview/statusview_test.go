package statusview

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/goldenfile"
	"github.com/scorebot/scorebot/internal/promotion"
)

// Commits of the example matrix (made-up, full length).
const (
	apiNew    = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	apiOld    = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	blogNew   = "3333333ccccccccccccccccccccccccccccccccc"
	blogOld   = "4444444ddddddddddddddddddddddddddddddddd"
	workerSHA = "5555555eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	rulesA    = "aaaaaaa000000000000000000000000000000000"
	rulesB    = "bbbbbbb111111111111111111111111111111111"
	branchSHA = "9999999fffffffffffffffffffffffffffffffff"
)

// example is a platform of three environments and apps in each state a cell can show; the
// records are deliberately out of order.
func example() Matrix {
	return Matrix{
		Environments: []string{"development", "staging", "production"},
		EnvRepo:      "acme/env",
		RulesRepo:    "acme/rules",
		Records: []promotion.Record{
			// worker runs only in staging (deployed another way) and an environment the
			// platform no longer names.
			{App: "worker", Env: "staging", SourceRepo: "acme/worker", SourceCommit: workerSHA, RulesCommit: rulesB},
			{App: "worker", Env: "qa", SourceRepo: "acme/worker", SourceCommit: workerSHA, RulesCommit: rulesA},
			// api: the same commit in development and staging, production behind with a
			// promotion PR open.
			{App: "api", Env: "production", SourceRepo: "acme/api", SourceCommit: apiOld, RulesCommit: rulesA,
				Pending: &promotion.Pending{SourceCommit: apiNew, Branch: promotion.Branch("api", "production"), BranchCommit: branchSHA, PR: 12}},
			{App: "api", Env: "development", SourceRepo: "acme/api", SourceCommit: apiNew, RulesCommit: rulesB},
			{App: "api", Env: "staging", SourceRepo: "acme/api", SourceCommit: apiNew, RulesCommit: rulesB},
			// blog: development only; its promotion into staging was rejected, and a new one
			// waits on its branch without a known PR.
			{App: "blog", Env: "development", SourceRepo: "acme/blog", SourceCommit: blogNew, RulesCommit: rulesB},
			{App: "blog", Env: "staging",
				Pending:  &promotion.Pending{SourceCommit: blogNew, Branch: promotion.Branch("blog", "staging"), BranchCommit: branchSHA},
				Rejected: &promotion.Rejected{SourceCommit: blogOld, BranchCommit: branchSHA, PR: 9}},
		},
	}
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		name  string
		m     Matrix
		links Links
	}{
		{"matrix", example(), Links{WebURL: "https://github.com"}},
		{"matrix-nolinks", example(), Links{}},
		{"empty", Matrix{Environments: []string{"development", "production"}}, Links{WebURL: "https://github.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h, j bytes.Buffer
			if err := WriteHTML(&h, tt.m, tt.links); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSON(&j, tt.m); err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, filepath.Join("testdata", tt.name+".html"), h.Bytes())
			goldenfile.Check(t, filepath.Join("testdata", tt.name+".json"), j.Bytes())
		})
	}
}

// TestDeterministic: the records' order going in does not change a byte coming out.
func TestDeterministic(t *testing.T) {
	m := example()
	var first []byte
	for i := range len(m.Records) {
		recs := slices.Clone(m.Records)
		recs = append(recs[i:], recs[:i]...)
		if i%2 == 1 {
			slices.Reverse(recs)
		}
		var b bytes.Buffer
		if err := WriteHTML(&b, Matrix{Environments: m.Environments, EnvRepo: m.EnvRepo, RulesRepo: m.RulesRepo, Records: recs}, Links{WebURL: "https://github.com"}); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&b, Matrix{Environments: m.Environments, EnvRepo: m.EnvRepo, RulesRepo: m.RulesRepo, Records: recs}); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b.Bytes()
		} else if !bytes.Equal(first, b.Bytes()) {
			t.Fatalf("order %d gives different output:\n%s", i, goldenfile.FirstDiff(first, b.Bytes()))
		}
	}
	key := func(r promotion.Record) string { return r.App + "." + r.Env }
	var got, want []string
	for i, r := range m.Records {
		got, want = append(got, key(r)), append(want, key(example().Records[i]))
	}
	if !slices.Equal(got, want) {
		t.Fatal("WriteHTML or WriteJSON reordered the caller's records")
	}
}

// TestJSONRoundTrip: the JSON holds the records as they are.
func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, example()); err != nil {
		t.Fatal(err)
	}
	var got Matrix
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := example().Sorted()
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("round trip:\n got %s\nwant %s", gb, wb)
	}
}

// TestEscaping: names come from repos people push to; the page escapes them and never links
// anything but the forge's web address.
func TestEscaping(t *testing.T) {
	m := Matrix{
		Environments: []string{`dev<b>`},
		EnvRepo:      `javascript:alert(1)//x`,
		Records: []promotion.Record{{App: `<script>alert(1)</script>`, Env: `dev<b>`, SourceRepo: `acme/"x"`, SourceCommit: `"><img src=x>`,
			Rejected: &promotion.Rejected{SourceCommit: "abc", PR: 3}}},
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, m, Links{WebURL: "https://github.com"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>alert", "<b>", `"><img`, `href="javascript`} {
		if strings.Contains(out, bad) {
			t.Errorf("page holds %q unescaped:\n%s", bad, out)
		}
	}
}
