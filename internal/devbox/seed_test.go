package devbox

import (
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/scorebot/scorebot/internal/render/rules"
)

// The example rules map acme/shop to two Score files; demo-app seeded from the shop gets the
// same files under its own app id, and an example with the default file needs no entry.
func TestMapDemoApp(t *testing.T) {
	fsys := fstest.MapFS{}
	files, err := readDir("../../examples/rules")
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range files {
		fsys[p] = &fstest.MapFile{Data: b}
	}
	platform := files[platformFile]

	shop, err := mapDemoApp(platform, "local/demo-app", "shop")
	if err != nil {
		t.Fatal(err)
	}
	fsys[platformFile] = &fstest.MapFile{Data: shop}
	rs, err := rules.Load(fsys)
	if err != nil {
		t.Fatalf("the rules no longer load: %v\n%s", err, shop)
	}
	got := rs.AppFor("local/demo-app")
	if got.AppID != RepoApp || !slices.Equal(got.ScoreFiles, []string{"score.yaml", "*.score.yaml"}) {
		t.Errorf("demo-app maps to %+v", got)
	}
	if !strings.Contains(string(shop), "# the sandbox's app repo, seeded from examples/apps/shop") ||
		!strings.Contains(string(shop), "# The platform file of the example rules repo") {
		t.Errorf("comments lost or missing:\n%s", shop)
	}
	if again, err := mapDemoApp(shop, "local/demo-app", "shop"); err != nil || string(again) != string(shop) {
		t.Errorf("a second run changed the file (%v)", err)
	}
	if blog, err := mapDemoApp(platform, "local/demo-app", "blog"); err != nil || string(blog) != string(platform) {
		t.Errorf("blog (default Score file) changed the platform file (%v)", err)
	}
	if _, err := os.Stat("../../examples/apps/shop/worker.score.yaml"); err != nil {
		t.Fatalf("the example this test is about moved: %v", err)
	}
}

// TestCheckExampleApp: an unknown --app names the flag and the example apps there are,
// sorted; a path that leaves examples/apps is not an app.
func TestCheckExampleApp(t *testing.T) {
	for _, c := range []struct {
		app, want string
	}{
		{"shop", ""},
		{"nosuch", "--app nosuch: no such example app; use one of blog, jobs, shop"},
		{"../rules", "--app ../rules: no such example app; use one of blog, jobs, shop"},
		{"", "--app : no such example app; use one of blog, jobs, shop"},
	} {
		err := checkExampleApp("../../examples", c.app)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("checkExampleApp(%q) = %q, want %q", c.app, got, c.want)
		}
	}
	if err := checkExampleApp(t.TempDir(), "blog"); err == nil || !strings.Contains(err.Error(), "--app blog: read the example apps") {
		t.Errorf("no examples dir: %v", err)
	}
}
