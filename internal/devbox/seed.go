package devbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	yaml "go.yaml.in/yaml/v3"

	"github.com/scorebot/scorebot/internal/githost"
)

// platformFile is the rules repo's platform file, whose envRepo.url points at the env repo.
const platformFile = "platform.yaml"

const envReadme = `# env

The env repo of the ` + "`bot dev`" + ` sandbox: Scorebot commits the rendered apps here, one folder
per environment and app, the way Flux reads them.
`

// checkExampleApp says, naming the --app flag and the apps there are, when app is not one of
// the folders of examplesDir/apps.
func checkExampleApp(examplesDir, app string) error {
	dir := filepath.Join(examplesDir, "apps")
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return fmt.Errorf("--app %s: read the example apps: %w", app, err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			if e.Name() == app {
				return nil
			}
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("--app %s: %s has no example apps; point Scorebot at a checkout with examples/apps", app, dir)
	}
	return fmt.Errorf("--app %s: no such example app; use one of %s", app, strings.Join(names, ", "))
}

// seededAppFile, in the data dir, names the example app demo-app was seeded with.
const seededAppFile = "seeded-app"

// chooseApp settles cfg.App: on a first start the one asked for ("blog" by default); on a
// later one the one demo-app was seeded with, refusing another (it would not be what runs).
func (s *Sandbox) chooseApp() error {
	seeded := ""
	if b, err := os.ReadFile(filepath.Join(s.cfg.DataDir, seededAppFile)); err == nil && s.git.Exists(RepoApp) {
		seeded = strings.TrimSpace(string(b))
	}
	switch {
	case seeded == "" && s.cfg.App == "":
		s.cfg.App = "blog"
	case seeded == "":
	case s.cfg.App == "":
		s.cfg.App = seeded
	case s.cfg.App != seeded:
		return fmt.Errorf("--app %s: the sandbox in %s was started with --app %s, and demo-app holds that app: drop --app to go on with it, or add --reset to start afresh with %s (removes the sandbox's repos and state)",
			s.cfg.App, s.cfg.DataDir, seeded, s.cfg.App)
	}
	return nil
}

// seed creates the demo repos on a first start, and on every start points the rules repo's
// env repo at this sandbox (the address may have changed).
func (s *Sandbox) seed(ctx context.Context) error {
	if err := s.chooseApp(); err != nil {
		return err
	}
	if !s.git.Exists(RepoApp) {
		if err := checkExampleApp(s.cfg.ExamplesDir, s.cfg.App); err != nil {
			return err
		}
		files, err := readDir(filepath.Join(s.cfg.ExamplesDir, "apps", s.cfg.App))
		if err != nil {
			return fmt.Errorf("seed %s from example app %q: %w", RepoApp, s.cfg.App, err)
		}
		if _, err := s.git.Seed(RepoApp, files, "Example app "+s.cfg.App+" from Scorebot's examples/apps"); err != nil {
			return fmt.Errorf("seed %s: %w", RepoApp, err)
		}
		if err := os.WriteFile(filepath.Join(s.cfg.DataDir, seededAppFile), []byte(s.cfg.App+"\n"), 0o644); err != nil {
			return fmt.Errorf("record the seeded app: %w", err)
		}
	}
	if !s.git.Exists(RepoEnv) {
		if _, err := s.git.Seed(RepoEnv, map[string][]byte{"README.md": []byte(envReadme)}, "Empty env repo"); err != nil {
			return fmt.Errorf("seed %s: %w", RepoEnv, err)
		}
	}
	if !s.git.Exists(RepoRules) {
		files, err := readDir(filepath.Join(s.cfg.ExamplesDir, "rules"))
		if err != nil {
			return fmt.Errorf("seed %s from examples: %w", RepoRules, err)
		}
		if files[platformFile], err = pointEnvRepo(files[platformFile], s.CloneURL(RepoEnv)); err != nil {
			return fmt.Errorf("seed %s: %w", RepoRules, err)
		}
		if files[platformFile], err = mapDemoApp(files[platformFile], Owner+"/"+RepoApp, s.cfg.App); err != nil {
			return fmt.Errorf("seed %s: %w", RepoRules, err)
		}
		if _, err := s.git.Seed(RepoRules, files, "Example rules from Scorebot's examples/rules, env repo "+s.CloneURL(RepoEnv)); err != nil {
			return fmt.Errorf("seed %s: %w", RepoRules, err)
		}
		return nil
	}
	files, err := headFiles(s.git.Dir(RepoRules), githost.DefaultBranch)
	if err != nil {
		return fmt.Errorf("read %s: %w", RepoRules, err)
	}
	platform, ok := files[platformFile]
	if !ok {
		return nil // the developer moved things around; leave their rules alone
	}
	updated, err := pointEnvRepo(platform, s.CloneURL(RepoEnv))
	if err != nil {
		return fmt.Errorf("%s of repo %s: %w", platformFile, RepoRules, err)
	}
	if bytes.Equal(updated, platform) {
		return nil
	}
	files[platformFile] = updated
	if _, err := s.git.Commit(ctx, RepoRules, githost.DefaultBranch, files, "Point envRepo.url at this sandbox: "+s.CloneURL(RepoEnv)); err != nil {
		return fmt.Errorf("update %s: %w", RepoRules, err)
	}
	return nil
}

// pointEnvRepo sets envRepo.url in a platform file, keeping its comments and layout.
func pointEnvRepo(platform []byte, url string) ([]byte, error) {
	if platform == nil {
		return nil, fmt.Errorf("%s missing: the rules repo needs one (see docs/rules.md)", platformFile)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(platform, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", platformFile, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a mapping", platformFile)
	}
	root := doc.Content[0]
	envRepo := mapValue(root, "envRepo")
	if envRepo == nil {
		envRepo = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "envRepo"}, envRepo)
	}
	if envRepo.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: field envRepo is not a mapping; set it to {url: %s}", platformFile, url)
	}
	if v := mapValue(envRepo, "url"); v != nil {
		if v.Value == url {
			return platform, nil
		}
		v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "!!str", url, 0
	} else {
		envRepo.Content = append(envRepo.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "url"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: url})
	}
	return encodePlatform(&doc)
}

// mapDemoApp gives repo (demo-app) the Score files of the example app it was seeded from: the
// example rules map acme/<example> to them (the shop has two, score.yaml and
// worker.score.yaml), and without an entry of its own demo-app would deploy score.yaml
// alone. The app id stays demo-app. A platform file that maps repo already, or an example
// with the default Score file, is returned unchanged.
func mapDemoApp(platform []byte, repo, example string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(platform, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", platformFile, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a mapping", platformFile)
	}
	apps := mapValue(doc.Content[0], "apps")
	if apps == nil || apps.Kind != yaml.SequenceNode {
		return platform, nil
	}
	var scoreFiles *yaml.Node
	for _, a := range apps.Content {
		if a.Kind != yaml.MappingNode {
			continue
		}
		if r := mapValue(a, "repo"); r != nil && r.Value == repo {
			return platform, nil
		}
		if id := mapValue(a, "appId"); id != nil && id.Value == example {
			scoreFiles = mapValue(a, "scoreFiles")
		}
	}
	if scoreFiles == nil {
		return platform, nil
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	entry := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		str("repo"), str(repo), str("appId"), str(RepoApp), str("scoreFiles"), scoreFiles,
	}}
	entry.HeadComment = "the sandbox's app repo, seeded from examples/apps/" + example
	apps.Content = append(apps.Content, entry)
	return encodePlatform(&doc)
}

func encodePlatform(doc *yaml.Node) ([]byte, error) {
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("%s: %w", platformFile, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", platformFile, err)
	}
	return out.Bytes(), nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// readDir reads every regular file under dir, keyed by slash path relative to dir.
func readDir(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no files", dir)
	}
	return files, nil
}

// headFiles reads the whole tree of branch in a bare repo.
func headFiles(gitDir, branch string) (map[string][]byte, error) {
	repo, err := gogit.PlainOpen(gitDir)
	if err != nil {
		return nil, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, err
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	err = tree.Files().ForEach(func(f *object.File) error {
		c, err := f.Contents()
		if err != nil {
			return err
		}
		files[f.Name] = []byte(c)
		return nil
	})
	return files, err
}
