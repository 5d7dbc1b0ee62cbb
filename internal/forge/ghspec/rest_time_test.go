package ghspec

import (
	"path/filepath"
	"testing"
	"time"
)

func TestLoadRESTTime(t *testing.T) {
	dir, _ := FixturesDir()
	start := time.Now()
	r, err := LoadREST(filepath.Join(dir, "github-openapi", "rest-api.github.com.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded in %v", time.Since(start))
	op, err := r.Operation(Exchange{Method: "GET", Path: "/api/v3/repos/local/demo/issues/1/comments"})
	t.Log(op, err)
}
