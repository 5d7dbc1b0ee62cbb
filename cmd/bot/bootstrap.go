package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/envrepo"
)

const bootstrapUsage = `Usage: bot bootstrap --env-repo URL --env NAME [flags]

Writes the Flux objects that make a cluster follow one environment of the env repo:
<path>/clusters/<env>/flux-system/gotk-sync.yaml (GitRepository and Kustomization
"flux-system", as "flux bootstrap --path clusters/<env>" writes them) and the
kustomization.yaml beside it. Without --out or --commit the files are printed to stdout;
with --commit they are pushed to the env repo's branch as one commit (other files, such
as a gotk-components.yaml already there, are left alone).
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
	var out, components, pushURL, tokenFile, dataDir string
	var commit bool
	fs.StringVar(&opts.RepoURL, "env-repo", "", "env repo clone URL (http, https or ssh) Flux fetches (required)")
	fs.StringVar(&opts.Env, "env", "", "environment the cluster follows (required)")
	fs.StringVar(&opts.Branch, "branch", bootstrap.DefaultBranch, "env repo branch")
	fs.StringVar(&opts.Path, "path", "", "base path of the environments inside the env repo (the platform file's env repo path)")
	fs.DurationVar(&opts.Interval, "interval", bootstrap.DefaultInterval, "how often Flux fetches the env repo")
	fs.StringVar(&opts.SecretRef, "secret-ref", "", `Secret in flux-system with the git credentials (e.g. "flux-system", made by "flux create secret git"); none if empty`)
	fs.StringVar(&components, "components", "", `file holding "flux install --export" output, written as gotk-components.yaml and listed in kustomization.yaml`)
	fs.StringVar(&out, "out", "", "write the files under this directory (the env repo checkout) instead of stdout")
	fs.BoolVar(&commit, "commit", false, "commit the files to --branch of the env repo and push (instead of stdout)")
	fs.StringVar(&pushURL, "push-url", "", "with --commit: the URL to push to, when it differs from the one Flux fetches (default --env-repo)")
	fs.StringVar(&tokenFile, "git-token-file", "", "with --commit: file holding an HTTPS token for the push (GitHub App installation or personal token)")
	fs.StringVar(&dataDir, "data-dir", "", "with --commit: keep the local clone here (default: a temporary directory, removed afterwards)")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	if commit && out != "" {
		fmt.Fprintln(stderr, "bot bootstrap: --commit and --out exclude each other: push to the env repo, or write files to a checkout")
		fs.Usage()
		return errUsage
	}
	if !commit && (pushURL != "" || tokenFile != "" || dataDir != "") {
		fmt.Fprintln(stderr, "bot bootstrap: --push-url, --git-token-file and --data-dir only apply with --commit")
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
	if commit {
		if pushURL == "" {
			pushURL = opts.RepoURL
		}
		return commitFiles(ctx, opts, files, pushURL, tokenFile, dataDir, stdout, stderr)
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

// commitFiles pushes files to the env repo's branch as one commit with internal/envrepo:
// only these paths change, and a re-run that changes nothing makes no commit.
func commitFiles(ctx context.Context, opts bootstrap.Options, files map[string][]byte, pushURL, tokenFile, dataDir string, stdout, stderr io.Writer) error {
	cfg := envrepo.Config{
		URL:    pushURL,
		Branch: opts.Branch,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("--git-token-file: %w", err)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return fmt.Errorf("--git-token-file %s is empty: put the token in it", tokenFile)
		}
		// GitHub takes any user name with a token; x-access-token is what App tokens use.
		cfg.Auth = &githttp.BasicAuth{Username: "x-access-token", Password: token}
	}
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "bot-bootstrap-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	cfg.Dir = filepath.Join(dataDir, "env.git")
	repo, err := envrepo.Open(cfg)
	if err != nil {
		return fmt.Errorf("open env repo: %w", err)
	}
	msg := envrepo.Message{
		Subject: fmt.Sprintf("bootstrap Flux for %s", opts.Env),
		Body: fmt.Sprintf("A cluster bootstrapped with %s follows %s of this repo.",
			bootstrap.Dir(opts), bootstrap.SyncPath(opts)),
		Trailers: []envrepo.Trailer{{Key: "Scorebot-Env", Value: opts.Env}},
	}
	res, err := repo.Apply(ctx, msg, envrepo.Change{Files: files})
	if err != nil {
		return fmt.Errorf("commit to %s: %w", redacted(pushURL), err)
	}
	if !res.Changed {
		fmt.Fprintf(stdout, "%s already holds these files at %s; nothing committed\n", redacted(pushURL), res.Commit)
		return nil
	}
	fmt.Fprintf(stdout, "committed %s to %s\n", res.Commit, redacted(pushURL))
	return nil
}

// redacted hides a password in a URL, for messages.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the env repo"
	}
	return u.Redacted()
}
