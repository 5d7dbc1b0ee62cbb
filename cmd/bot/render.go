package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/scorebot/scorebot/internal/render"
	"github.com/scorebot/scorebot/internal/render/envtree"
	"github.com/scorebot/scorebot/internal/render/rules"
)

const renderUsage = `Usage: bot render --rules DIR --env NAME [--app ID] [--out DIR] [--explain] SCORE_FILE...

Renders the workloads of the given Score files for one environment, with the rules repo in
DIR. Without --out, prints the Kubernetes objects as one YAML stream; with --out, writes the
env-repo tree (apps/<env>/<shard>/<app>/, clusters/<env>/) to DIR, replacing a previous render there.
--explain prints, for every resource, which definition matched and why the others did not
(to stderr, or to stdout with --out).

Flags:
`

// runRender implements `bot render`.
func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesDir := fs.String("rules", "", "rules repo `DIR` (required)")
	env := fs.String("env", "", "environment `NAME` from the rules' platform file (required)")
	appID := fs.String("app", "", "app `ID` (default: the first score file's folder name, or the rules' appId for a repo of that name)")
	outDir := fs.String("out", "", "write the env-repo tree to `DIR` instead of printing YAML")
	explain := fs.Bool("explain", false, "explain every resource's match")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), renderUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var missing []string
	if *rulesDir == "" {
		missing = append(missing, "--rules")
	}
	if *env == "" {
		missing = append(missing, "--env")
	}
	if fs.NArg() == 0 {
		missing = append(missing, "SCORE_FILE")
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "bot render: missing %s\n\n", strings.Join(missing, ", "))
		fs.Usage()
		return errUsage
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A render is short-lived and allocates a lot; collecting less often makes it about a
	// third faster for a thousand workloads.
	defer debug.SetGCPercent(debug.SetGCPercent(400))

	if fi, err := os.Stat(*rulesDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("--rules %s: not a folder: give the folder of a rules repo checkout (for example examples/rules)", *rulesDir)
	}
	rs, err := rules.Load(os.DirFS(*rulesDir))
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			return fmt.Errorf("rules repo %s:\n%w", *rulesDir, err)
		}
		return fmt.Errorf("rules repo %s: %w", *rulesDir, err)
	}
	files, err := readScoreFiles(fs.Args())
	if err != nil {
		return err
	}
	id := *appID
	if id == "" {
		id = defaultAppID(rs, fs.Args())
	}
	out, err := render.Render(render.Input{Rules: rs, Env: *env, AppID: id, Files: files})
	if err != nil {
		return err
	}

	explainTo := stderr
	if *outDir != "" {
		explainTo = stdout
	}
	if *explain {
		writeExplain(explainTo, out.Explain)
	}
	if *outDir == "" {
		b, err := envtree.Stream(out.Objects)
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	if err := writeTree(*outDir, out.Files); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bot render: wrote %d files for app %s in %s to %s\n", len(out.Files), id, *env, *outDir)
	return nil
}

// readScoreFiles reads the score files named on the command line; files.source is read
// relative to each file's folder.
func readScoreFiles(paths []string) ([]render.ScoreFile, error) {
	var files []render.ScoreFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("score file %s: no such file: check the path", p)
		case err != nil && isDir(p):
			return nil, fmt.Errorf("score file %s is a folder: name the score files in it, for example %s", p, filepath.Join(p, "score.yaml"))
		case err != nil:
			return nil, fmt.Errorf("read score file %s: %w", p, err)
		}
		dir := filepath.Dir(p)
		files = append(files, render.ScoreFile{
			Path: filepath.ToSlash(filepath.Clean(p)),
			Data: data,
			ReadFile: func(rel string) ([]byte, error) {
				if filepath.IsAbs(rel) {
					return os.ReadFile(rel)
				}
				return os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			},
		})
	}
	return files, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// defaultAppID is the app id for score files rendered from a local folder: the folder of the
// first score file stands for the app repo, so the rules' mapping whose repo is named like
// that folder gives the id, else the folder name made into a DNS label (as the bot names an
// unmapped repo). The mapping's score-file globs do not choose the app: every app has a
// score.yaml.
func defaultAppID(rs *rules.Rules, paths []string) string {
	abs, err := filepath.Abs(paths[0])
	if err != nil {
		abs = paths[0]
	}
	folder := filepath.Base(filepath.Dir(abs))
	for _, m := range rs.Platform.Apps {
		_, name, _ := strings.Cut(m.Repo, "/")
		if strings.EqualFold(name, folder) && m.AppID != "" {
			return m.AppID
		}
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(folder))
	return strings.Trim(name, "-")
}

func writeExplain(w io.Writer, ex []render.ResourceExplain) {
	for _, e := range ex {
		who := "shared"
		if !e.Shared {
			who = "workload " + e.Workload
		}
		fmt.Fprintf(w, "resource %s (%s)\n", e.UID, who)
		text := strings.TrimRight(e.Text, "\n")
		if text == "" {
			text = fmt.Sprintf("definition %s (%s)", e.Definition, e.File)
		}
		for _, line := range strings.Split(text, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// writeTree writes files under dir atomically: into a temporary folder beside dir, then
// renamed into place. An existing dir is replaced only when it holds nothing but a previous
// render's top-level folders, so a typo cannot wipe an unrelated folder.
func writeTree(dir string, files map[string][]byte) error {
	dir = filepath.Clean(dir)
	tops := map[string]bool{}
	for p := range files {
		top, _, _ := strings.Cut(p, "/")
		tops[top] = true
	}
	entries, err := os.ReadDir(dir)
	exists := err == nil
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("--out %s: %w", dir, err)
	default:
		for _, e := range entries {
			if !tops[e.Name()] {
				return fmt.Errorf("--out %s: the folder exists and holds %s, which this render does not write: give an empty or new folder, or remove it first", dir, e.Name())
			}
		}
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	paths := make([]string, 0, len(files))
	dirs := map[string]bool{}
	for p := range files {
		paths = append(paths, p)
		dirs[path.Dir(p)] = true
	}
	slices.Sort(paths)
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := os.MkdirAll(filepath.Join(tmp, filepath.FromSlash(d)), 0o755); err != nil {
			return fmt.Errorf("--out %s: %w", dir, err)
		}
	}
	// Two writers: on a 2-core machine most of the time is the kernel's.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range errs {
		wg.Go(func() {
			for i := w; i < len(paths); i += len(errs) {
				if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(paths[i])), files[paths[i]], 0o644); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if exists {
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--out %s: move the previous render aside: %w", dir, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			_ = os.Rename(old, dir) // put the previous render back
			return fmt.Errorf("--out %s: %w", dir, err)
		}
		ok = true
		return os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	ok = true
	return nil
}
