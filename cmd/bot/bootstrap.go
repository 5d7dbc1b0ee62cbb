package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/scorebot/scorebot/internal/bootstrap"
)

const bootstrapUsage = `Usage: bot bootstrap --env-repo URL --env NAME [flags]

Writes the Flux objects that make a cluster follow one environment of the env repo:
<path>/clusters/<env>/flux-system/gotk-sync.yaml (GitRepository and Kustomization
"flux-system", as "flux bootstrap --path clusters/<env>" writes them) and the
kustomization.yaml beside it. Without --out the files are printed to stdout.
Flux's controllers come from "flux install --export > gotk-components.yaml" (see
--components and docs/deploy.md).

Flags:
`

// runBootstrap implements `bot bootstrap`.
func runBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, bootstrapUsage)
		fs.PrintDefaults()
	}
	var opts bootstrap.Options
	var out, components string
	fs.StringVar(&opts.RepoURL, "env-repo", "", "env repo clone URL (http, https or ssh) Flux fetches (required)")
	fs.StringVar(&opts.Env, "env", "", "environment the cluster follows (required)")
	fs.StringVar(&opts.Branch, "branch", bootstrap.DefaultBranch, "env repo branch")
	fs.StringVar(&opts.Path, "path", "", "base path of the environments inside the env repo (the platform file's env repo path)")
	fs.DurationVar(&opts.Interval, "interval", bootstrap.DefaultInterval, "how often Flux fetches the env repo")
	fs.StringVar(&opts.SecretRef, "secret-ref", "", `Secret in flux-system with the git credentials (e.g. "flux-system", made by "flux create secret git"); none if empty`)
	fs.StringVar(&components, "components", "", `file holding "flux install --export" output, written as gotk-components.yaml and listed in kustomization.yaml`)
	fs.StringVar(&out, "out", "", "write the files under this directory (the env repo checkout) instead of stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bot bootstrap: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	if opts.RepoURL == "" || opts.Env == "" {
		fmt.Fprintln(stderr, "bot bootstrap: --env-repo and --env are required")
		fs.Usage()
		return errUsage
	}
	if components != "" {
		b, err := os.ReadFile(components)
		if err != nil {
			return fmt.Errorf("--components: %w", err)
		}
		opts.Components = b
	}
	files, err := bootstrap.Files(opts)
	if err != nil {
		return err
	}
	if out == "" {
		return printFiles(stdout, files)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeFilesAtomically(out, files); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (commit it to the env repo, then apply it once: kubectl apply -k %s)\n",
		filepath.Join(out, filepath.FromSlash(bootstrap.Dir(opts))), filepath.Join(out, filepath.FromSlash(bootstrap.Dir(opts))))
	return nil
}

func sortedPaths(files map[string][]byte) []string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// printFiles writes each file under a comment naming its path, in path order.
func printFiles(w io.Writer, files map[string][]byte) error {
	for _, p := range sortedPaths(files) {
		if _, err := fmt.Fprintf(w, "# file: %s\n", p); err != nil {
			return err
		}
		if _, err := w.Write(files[p]); err != nil {
			return err
		}
	}
	return nil
}

// writeFilesAtomically stages every file in a temporary directory inside dir (so the
// renames stay on one filesystem), then renames each into place: a reader sees each file
// either old or new, never half-written, and a failure while staging leaves dir untouched.
// Other files in the target folders (gotk-components.yaml written by the Flux CLI, say) are
// kept.
func writeFilesAtomically(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	stage, err := os.MkdirTemp(dir, ".bot-bootstrap-*")
	if err != nil {
		return fmt.Errorf("--out %s: staging directory: %w", dir, err)
	}
	defer os.RemoveAll(stage)
	paths := sortedPaths(files)
	for i, p := range paths {
		tmp := filepath.Join(stage, fmt.Sprintf("%d", i))
		if err := os.WriteFile(tmp, files[p], 0o644); err != nil {
			return fmt.Errorf("stage %s: %w", p, err)
		}
	}
	for i, p := range paths {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
		if err := os.Rename(filepath.Join(stage, fmt.Sprintf("%d", i)), dst); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	return nil
}
