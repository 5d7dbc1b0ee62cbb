package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/scorebot/scorebot/internal/bootstrap"
	"github.com/scorebot/scorebot/internal/envrepo"
	"github.com/scorebot/scorebot/internal/forge"
)

const bootstrapUsage = `Usage: bot bootstrap --env-repo URL --env NAME [flags]

Writes the Flux objects that make a cluster follow one environment of the env repo:
<path>/clusters/<env>/flux-system/gotk-sync.yaml (GitRepository and Kustomization
"flux-system", as "flux bootstrap --path clusters/<env>" writes them) and the
kustomization.yaml beside it. Without --out, --commit or --pr the files are printed to
stdout; with --commit they are pushed to the env repo's branch as one commit (other files,
such as a gotk-components.yaml already there, are left alone); with --pr they are pushed as
one commit on the branch's head to the bot-owned branch scorebot/bootstrap/<env>, and a pull
request into --branch is opened (or the open one updated) and its URL printed.
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
	var commit, pr bool
	var push pushFlags
	fs.StringVar(&opts.RepoURL, "env-repo", "", "env repo clone `URL` (http, https or ssh) Flux fetches (required)")
	fs.StringVar(&opts.Env, "env", "", "environment `NAME` the cluster follows (required)")
	fs.StringVar(&opts.Branch, "branch", bootstrap.DefaultBranch, "env repo `BRANCH`")
	fs.StringVar(&opts.Path, "path", "", "base `PATH` of the environments inside the env repo (the platform file's envRepo.path)")
	fs.DurationVar(&opts.Interval, "interval", bootstrap.DefaultInterval, "how often Flux fetches the env repo (a `DURATION` such as 1m or 30s)")
	fs.StringVar(&opts.SecretRef, "secret-ref", "", "`NAME` of the Secret in flux-system holding the git credentials (e.g. flux-system, made by \"flux create secret git\"); none if empty")
	fs.StringVar(&components, "components", "", "`FILE` holding \"flux install --export\" output, written as gotk-components.yaml and listed in kustomization.yaml")
	fs.StringVar(&out, "out", "", "write the files under `DIR` (the env repo checkout) instead of stdout")
	fs.BoolVar(&commit, "commit", false, "commit the files to --branch of the env repo and push (instead of stdout)")
	fs.BoolVar(&pr, "pr", false, "push the files to the branch scorebot/bootstrap/<env> and open (or update) a pull request into --branch on GitHub; prints its URL")
	fs.StringVar(&push.url, "push-url", "", "with --commit or --pr: the `URL` to push to, when it differs from the one Flux fetches (default --env-repo)")
	fs.StringVar(&push.tokenFile, "git-token-file", "", "with --commit or --pr: `FILE` holding an HTTPS token for the push and, with --pr, the GitHub API (GitHub App installation or personal token)")
	fs.StringVar(&push.dataDir, "data-dir", "", "with --commit or --pr: keep the local clone in `DIR` (default: a temporary directory, removed afterwards)")
	fs.StringVar(&push.apiURL, "github-api-url", "https://api.github.com/", "with --pr: GitHub REST API base `URL` (GitHub Enterprise: https://HOST/api/v3/)")
	fs.StringVar(&push.repo, "github-repo", "", "with --pr: the env repo's `OWNER/NAME` on GitHub (default: the last two path elements of the push URL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	usage := func(msg string) error {
		fmt.Fprintln(stderr, "bot bootstrap: "+msg)
		fs.Usage()
		return errUsage
	}
	switch {
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case opts.RepoURL == "" && opts.Env == "":
		return usage("missing --env-repo URL (the env repo Flux fetches) and --env NAME")
	case opts.RepoURL == "":
		return usage("missing --env-repo URL (the env repo Flux fetches)")
	case opts.Env == "":
		return usage("missing --env NAME (the environment the cluster follows)")
	case commit && out != "":
		return usage("--commit and --out exclude each other: push to the env repo, or write files to a checkout")
	case pr && commit:
		return usage("--pr and --commit exclude each other: --pr proposes the files in a pull request, --commit pushes them to --branch itself")
	case pr && out != "":
		return usage("--pr and --out exclude each other: --pr pushes the files to a branch of the env repo, --out writes them to a checkout")
	case !commit && !pr && (set["push-url"] || set["git-token-file"] || set["data-dir"]):
		return usage("--push-url, --git-token-file and --data-dir only apply with --commit or --pr")
	case !pr && (set["github-api-url"] || set["github-repo"]):
		return usage("--github-api-url and --github-repo only apply with --pr")
	case pr && push.tokenFile == "":
		return usage("--pr needs --git-token-file: the token pushes the branch and opens the pull request")
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
	if push.url == "" {
		push.url = opts.RepoURL
	}
	switch {
	case commit:
		return commitFiles(ctx, opts, files, push, stdout, stderr)
	case pr:
		return proposeFiles(ctx, opts, files, push, stdout, stderr)
	case out == "":
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

// pushFlags say where and how --commit and --pr push, and where --pr opens its pull request.
type pushFlags struct {
	url       string // the env repo URL to push to
	tokenFile string // HTTPS token for git and, with --pr, the GitHub API
	dataDir   string // local clone; "" for a temporary one
	apiURL    string // GitHub REST API root
	repo      string // OWNER/NAME on GitHub; "" to read it from url
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

// openEnvRepo opens the env repo's local clone for a push with internal/envrepo, reading the
// token from push.tokenFile; cleanup removes a temporary clone.
func openEnvRepo(opts bootstrap.Options, push pushFlags, stderr io.Writer) (repo *envrepo.Repo, token forge.Secret, cleanup func(), err error) {
	branch := opts.Branch
	if branch == "" {
		branch = bootstrap.DefaultBranch
	}
	cfg := envrepo.Config{
		URL:    push.url,
		Branch: branch,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if push.tokenFile != "" {
		b, err := readSecretFile(push.tokenFile, "--git-token-file", "the HTTPS token (GitHub App installation or personal token)")
		if err != nil {
			return nil, "", nil, err
		}
		token = forge.Secret(b)
		// GitHub takes any user name with a token; x-access-token is what App tokens use.
		cfg.Auth = &githttp.BasicAuth{Username: "x-access-token", Password: token.Reveal()}
	}
	cleanup = func() {}
	dir := push.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bot-bootstrap-*")
		if err != nil {
			return nil, "", nil, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		dir = tmp
	}
	cfg.Dir = filepath.Join(dir, "env.git")
	repo, err = envrepo.Open(cfg)
	if err != nil {
		cleanup()
		return nil, "", nil, fmt.Errorf("open env repo: %w", err)
	}
	return repo, token, cleanup, nil
}

// bootstrapMessage is the commit message of the bootstrap files, on --branch or on the PR branch.
func bootstrapMessage(opts bootstrap.Options) envrepo.Message {
	return envrepo.Message{
		Subject: fmt.Sprintf("bootstrap Flux for %s", opts.Env),
		Body: fmt.Sprintf("A cluster bootstrapped with %s follows %s of this repo.",
			bootstrap.Dir(opts), bootstrap.SyncPath(opts)),
		Trailers: []envrepo.Trailer{{Key: "Scorebot-Env", Value: opts.Env}},
	}
}

// commitFiles pushes files to the env repo's branch as one commit with internal/envrepo:
// only these paths change, and a re-run that changes nothing makes no commit.
func commitFiles(ctx context.Context, opts bootstrap.Options, files map[string][]byte, push pushFlags, stdout, stderr io.Writer) error {
	repo, _, done, err := openEnvRepo(opts, push, stderr)
	if err != nil {
		return err
	}
	defer done()
	res, err := repo.Apply(ctx, bootstrapMessage(opts), envrepo.Change{Files: files})
	if err != nil {
		return fmt.Errorf("commit to %s: %w", redacted(push.url), err)
	}
	if !res.Changed {
		fmt.Fprintf(stdout, "%s already holds these files at %s; nothing committed\n", redacted(push.url), res.Commit)
		return nil
	}
	fmt.Fprintf(stdout, "committed %s to %s\n", res.Commit, redacted(push.url))
	return nil
}

// proposeFiles pushes files as one commit on the env branch's head to the bot-owned branch
// scorebot/bootstrap/<env> and opens the pull request into the env branch, or updates the
// open one: one pull request per environment. When the env branch already holds the files,
// nothing is pushed and no pull request is opened.
func proposeFiles(ctx context.Context, opts bootstrap.Options, files map[string][]byte, push pushFlags, stdout, stderr io.Writer) error {
	want, err := bootstrap.PR(opts)
	if err != nil {
		return err
	}
	ghRepo, err := envRepoOnGitHub(push)
	if err != nil {
		return err
	}
	repo, token, done, err := openEnvRepo(opts, push, stderr)
	if err != nil {
		return err
	}
	defer done()
	fc, err := forge.New(forge.Config{BaseURL: push.apiURL, Token: token, UserAgent: "scorebot-bootstrap",
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return fmt.Errorf("--github-api-url %s: %w", push.apiURL, err)
	}

	res, err := repo.PushBranch(ctx, want.Branch, want.Base, bootstrapMessage(opts), envrepo.Change{Files: files})
	if errors.Is(err, envrepo.ErrNoBranch) {
		return fmt.Errorf("push %s to %s: %w (the pull request goes into --branch %s: create it, or name an existing branch)", want.Branch, redacted(push.url), err, want.Base)
	}
	if err != nil {
		return fmt.Errorf("push %s to %s: %w", want.Branch, redacted(push.url), err)
	}
	if !res.Changed && res.Parent == "" {
		// The env branch's tree already holds the files: there is nothing to propose.
		fmt.Fprintf(stdout, "%s of %s already holds these files at %s; no pull request needed\n", want.Base, redacted(push.url), res.Commit)
		open, err := fc.ListPRs(ctx, ghRepo, "open", ghRepo.Owner+":"+want.Branch, want.Base)
		if err != nil {
			return err
		}
		for _, p := range open {
			fmt.Fprintf(stderr, "note: pull request #%d from %s is still open, but %s already holds the files this run proposes: close it unless its files are wanted: %s\n",
				p.GetNumber(), want.Branch, want.Base, p.GetHTMLURL())
		}
		return nil
	}
	p, change, err := fc.UpsertPR(ctx, ghRepo, forge.NewPR{Title: want.Title, Head: want.Branch, Base: want.Base, Body: want.Body})
	if err != nil {
		return err
	}
	switch {
	case change == forge.PROpened:
		fmt.Fprintf(stdout, "opened pull request #%d into %s from %s (%s): %s\n", p.GetNumber(), want.Base, want.Branch, shortSHA(res.Commit), p.GetHTMLURL())
	case res.Changed:
		fmt.Fprintf(stdout, "updated pull request #%d: pushed %s to %s: %s\n", p.GetNumber(), shortSHA(res.Commit), want.Branch, p.GetHTMLURL())
	case change == forge.PREdited:
		fmt.Fprintf(stdout, "updated the description of pull request #%d; %s already held these files: %s\n", p.GetNumber(), want.Branch, p.GetHTMLURL())
	default:
		fmt.Fprintf(stdout, "pull request #%d is up to date: %s already holds these files on the head of %s; nothing pushed: %s\n",
			p.GetNumber(), want.Branch, want.Base, p.GetHTMLURL())
	}
	return nil
}

// envRepoOnGitHub is the env repo's owner/name on GitHub: --github-repo, else the last two
// path elements of the push URL (https://github.com/acme/env.git → acme/env).
func envRepoOnGitHub(push pushFlags) (forge.Repo, error) {
	if push.repo != "" {
		r, err := forge.ParseRepo(push.repo)
		if err != nil {
			return forge.Repo{}, fmt.Errorf("--github-repo %q: %w (give OWNER/NAME)", push.repo, err)
		}
		return r, nil
	}
	r, err := forge.RepoFromURL(push.url)
	if err != nil {
		return forge.Repo{}, fmt.Errorf("push URL %s: %w (pass --github-repo OWNER/NAME)", redacted(push.url), err)
	}
	return r, nil
}

// redacted hides a password in a URL, for messages.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the env repo"
	}
	return u.Redacted()
}
