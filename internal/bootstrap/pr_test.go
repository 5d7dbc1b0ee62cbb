package bootstrap_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/goldenfile"
)

func TestPRGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := bootstrap.PR(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := bootstrap.PR(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if pr != again {
				t.Fatal("two calls with the same options gave different pull requests")
			}
			if pr.Branch != "scorebot/bootstrap/"+tc.opts.Env {
				t.Errorf("branch %q", pr.Branch)
			}
			// Every file the PR carries is named in its body.
			files, err := bootstrap.Files(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for p := range files {
				if !strings.Contains(pr.Body, "`"+p+"`") {
					t.Errorf("body does not name %s", p)
				}
			}
			got := "branch: " + pr.Branch + "\nbase: " + pr.Base + "\ntitle: " + pr.Title + "\n\n" + pr.Body
			goldenfile.Check(t, filepath.Join("testdata", "pr-"+tc.name+".golden"), []byte(got))
		})
	}
}

func TestPRInvalid(t *testing.T) {
	_, err := bootstrap.PR(bootstrap.Options{RepoURL: "https://github.com/acme/env", Env: "Prod"})
	if !errors.Is(err, bootstrap.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
}
