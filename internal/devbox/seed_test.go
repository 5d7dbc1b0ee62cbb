package devbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/scorebot/scorebot/internal/githost"
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

// TestChooseApp: --app decides demo-app's example on the first start only; a later start
// goes on with it, and asking for another names the fix.
func TestChooseApp(t *testing.T) {
	data := t.TempDir()
	host, err := githost.New(filepath.Join(data, "git"))
	if err != nil {
		t.Fatal(err)
	}
	sb := func(app string) *Sandbox { return &Sandbox{cfg: Config{DataDir: data, App: app}, git: host} }
	first := sb("")
	if err := first.chooseApp(); err != nil || first.cfg.App != "blog" {
		t.Fatalf("first start without --app: %q, %v; want blog", first.cfg.App, err)
	}
	// Seeded with shop, as a first `bot dev --app shop` does.
	if _, err := host.Seed(RepoApp, map[string][]byte{"score.yaml": []byte("x")}, "seed"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, seededAppFile), []byte("shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"", "shop"} {
		later := sb(app)
		if err := later.chooseApp(); err != nil || later.cfg.App != "shop" {
			t.Errorf("later start with --app %q: %q, %v; want shop", app, later.cfg.App, err)
		}
	}
	err = sb("blog").chooseApp()
	if err == nil || !strings.Contains(err.Error(), "--app blog: the sandbox in "+data+" was started with --app shop") || !strings.Contains(err.Error(), "--reset") {
		t.Errorf("another --app on a later start: %v; want a refusal naming --reset", err)
	}
}
