package githost

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRepoFromPath: a request path never names a repo outside the root.
func FuzzRepoFromPath(f *testing.F) {
	for _, s := range []string{"/git/app.git/info/refs", "/git/a/b.git/git-receive-pack", "/git/../x.git/HEAD", "/git/.git/", "/git/a.git.git/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := repoFromPath(p)
		if !ok {
			return
		}
		root := "/srv/root"
		dir := filepath.Join(root, filepath.FromSlash(name)+".git")
		if !strings.HasPrefix(dir, root+"/") || strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
			t.Fatalf("path %q gives repo %q outside the root (%s)", p, name, dir)
		}
	})
}
