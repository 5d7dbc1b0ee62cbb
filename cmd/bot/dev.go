package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/scorebot/scorebot/examples"
	"github.com/scorebot/scorebot/internal/devbox"
	"github.com/scorebot/scorebot/internal/devbox/devbot"
)

const devUsage = `Usage:
  bot dev [--data-dir DIR] [--listen ADDR] [--reset] [--app NAME] [--examples DIR] [--log-level LEVEL]
  bot dev pr open  --repo NAME --head BRANCH [--base BRANCH] [--title TEXT] [--as USER]
  bot dev pr merge --repo NAME NUMBER [--as USER]
  bot dev pr close --repo NAME NUMBER [--as USER]
  bot dev comment  --repo NAME NUMBER TEXT [--as USER]
  bot dev comment  --repo NAME --commit SHA TEXT [--as USER]

bot dev runs the whole Scorebot loop on this machine, on loopback, with no GitHub: the bot
(embedded NATS, webhook intake, workers), a git host serving local repos over smart HTTP at
http://ADDR/git/<name>.git (demo-app, rules and env are seeded), and a stand-in for GitHub's
REST API at http://ADDR/api/v3/. A push to any local repo, and every pull request and comment
made with the commands below, reaches the bot as the signed webhook GitHub would send (a
comment with --commit is a commit comment: commit_comment, as on GitHub's commit page).
State lives in --data-dir; a second start resumes it. Ctrl-C stops everything.

The pr and comment commands talk to a running sandbox (same --listen) through its GitHub API;
"bot dev pr -h" lists their flags.

Flags:
`

const devClientUsage = `Usage:
  bot dev pr open  --repo NAME --head BRANCH [--base BRANCH] [--title TEXT] [--as USER]
  bot dev pr merge --repo NAME NUMBER [--as USER]
  bot dev pr close --repo NAME NUMBER [--as USER]
  bot dev comment  --repo NAME NUMBER TEXT [--as USER]
  bot dev comment  --repo NAME --commit SHA TEXT [--as USER]

Pull requests and comments on a running "bot dev" sandbox (give its --listen if you changed
it), made through its GitHub API; the sandbox sends the bot the webhooks GitHub would.
Push a branch before opening a pull request from it: git push origin HEAD:BRANCH.
"pr open" prints the new pull request's NUMBER. --repo env works too: the bot's promotion
and rollback pull requests are on the env repo.

Flags:
`

// runDev implements `bot dev` and its pr and comment commands.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "pr":
			return runDevPR(ctx, args[1:], stdout, stderr)
		case "comment":
			return runDevComment(ctx, args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", ".scorebot/dev", "`DIR` holding all state (repos, GitHub stand-in, NATS)")
	listen := fs.String("listen", devbox.DefaultListen, "loopback `ADDR` to serve on (port 0 picks one)")
	reset := fs.Bool("reset", false, "start afresh: remove the state of a previous run first")
	app := fs.String("app", "", "example app under examples/apps/ to seed demo-app with on the first start (default blog; later starts go on with it)")
	examplesDir := fs.String("examples", "", "`DIR` with rules/ and apps/ (default: the checkout's examples/, else the copy built into bot)")
	logLevel := fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), devUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bot dev: unexpected arguments %q (commands: pr, comment)\n", fs.Args())
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "bot dev: --log-level %q: use debug, info, warn or error\n", *logLevel)
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *examplesDir == "" {
		if _, err := devbox.FindExamples(); err != nil {
			// Outside a checkout (an installed bot): the examples built into the binary.
			dir, err := writeEmbeddedExamples(*dataDir)
			if err != nil {
				return err
			}
			*examplesDir = dir
		}
	}
	sb, err := devbox.Start(ctx, devbox.Config{
		DataDir: *dataDir, Listen: *listen, Reset: *reset, App: *app, ExamplesDir: *examplesDir,
		Workers: devbot.Workers(nil), Logger: log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, sb.Instructions(devCLI()))
	err = sb.Wait()
	log.Info("bot dev stopped")
	return err
}

// writeEmbeddedExamples writes the examples built into the binary to <dataDir>/examples,
// replacing what an earlier start wrote there, and returns that folder.
func writeEmbeddedExamples(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "examples")
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("examples: %w", err)
	}
	if err := os.CopyFS(dir, examples.FS()); err != nil {
		return "", fmt.Errorf("examples: write the built-in examples to %s: %w", dir, err)
	}
	return dir, nil
}

// devCLI is how the printed instructions call the bot. They are followed inside the demo-app
// clone, where "go run ./cmd/bot" finds no Go module: a built binary is named by its absolute
// path, and under "go run" (a temporary binary) the checkout is named with "go -C".
func devCLI() string {
	if exe, err := os.Executable(); err == nil && !strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return shellQuote(exe)
	}
	if examples, err := devbox.FindExamples(); err == nil {
		return "go -C " + shellQuote(filepath.Dir(examples)) + " run ./cmd/bot"
	}
	return "go run ./cmd/bot"
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// devClientFlags are the flags every sandbox client command has.
type devClientFlags struct {
	listen *string
	repo   *string
	as     *string
}

func newDevClientFlags(fs *flag.FlagSet) devClientFlags {
	return devClientFlags{
		listen: fs.String("listen", devbox.DefaultListen, "`ADDR` of the running sandbox"),
		repo:   fs.String("repo", "", "local repo `NAME` (e.g. demo-app, env)"),
		as:     fs.String("as", devbox.DefaultUser, "act as `USER`"),
	}
}

func (f devClientFlags) client() (*devbox.Client, error) {
	return devbox.NewClient("http://"+*f.listen, *f.as)
}

// devPRFlags is the flag set of `bot dev pr VERB`.
type devPRFlags struct {
	fs                *flag.FlagSet
	cf                devClientFlags
	head, base, title *string
}

func newDevPRFlags(verb string, stderr io.Writer) devPRFlags {
	fs := flag.NewFlagSet("dev pr "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := devPRFlags{
		fs:    fs,
		cf:    newDevClientFlags(fs),
		head:  fs.String("head", "", "`BRANCH` to merge from (open)"),
		base:  fs.String("base", "main", "`BRANCH` to merge into (open)"),
		title: fs.String("title", "", "pull request `TEXT` (open; default: Merge HEAD into BASE)"),
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), devClientUsage)
		fs.PrintDefaults()
	}
	return f
}

func runDevPR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		newDevPRFlags("", stderr).fs.Usage()
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "open" && args[0] != "merge" && args[0] != "close") {
		fmt.Fprint(stderr, "bot dev pr: say open, merge or close\n\n")
		newDevPRFlags("", stderr).fs.Usage()
		return errUsage
	}
	verb := args[0]
	f := newDevPRFlags(verb, stderr)
	fs, cf, head, base, title := f.fs, f.cf, f.head, f.base, f.title
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if *cf.repo == "" {
		fmt.Fprintf(stderr, "bot dev pr %s: --repo is required (e.g. --repo %s)\n", verb, devbox.RepoApp)
		return errUsage
	}
	cl, err := cf.client()
	if err != nil {
		return err
	}
	if verb == "open" {
		if *head == "" || len(pos) > 0 {
			fmt.Fprintln(stderr, "bot dev pr open: --head BRANCH is required and takes no arguments (push the branch first: git push origin HEAD:BRANCH)")
			return errUsage
		}
		n, err := cl.OpenPR(ctx, *cf.repo, *head, *base, *title)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, n)
		return nil
	}
	n, err := prNumber(pos, 1, "pr "+verb, stderr)
	if err != nil {
		return err
	}
	if verb == "merge" {
		sha, err := cl.MergePR(ctx, *cf.repo, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "merged %s/%s#%d as %s\n", devbox.Owner, *cf.repo, n, sha)
		return nil
	}
	if err := cl.ClosePR(ctx, *cf.repo, n); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "closed %s/%s#%d\n", devbox.Owner, *cf.repo, n)
	return nil
}

func runDevComment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev comment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := newDevClientFlags(fs)
	commit := fs.String("commit", "", "comment on the commit `SHA` (all 40 hex digits) instead of a pull request")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), devClientUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *cf.repo == "" {
		fmt.Fprintf(stderr, "bot dev comment: --repo is required (e.g. --repo %s)\n", devbox.RepoApp)
		return errUsage
	}
	if *commit != "" {
		if len(pos) != 1 {
			fmt.Fprint(stderr, "bot dev comment --commit: give only the TEXT (quote it)\n")
			return errUsage
		}
		cl, err := cf.client()
		if err != nil {
			return err
		}
		id, err := cl.CommentOnCommit(ctx, *cf.repo, *commit, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "commented on %s/%s@%s (commit comment %d)\n", devbox.Owner, *cf.repo, *commit, id)
		return nil
	}
	n, err := prNumber(pos, 2, "comment", stderr)
	if err != nil {
		return err
	}
	cl, err := cf.client()
	if err != nil {
		return err
	}
	id, err := cl.Comment(ctx, *cf.repo, n, pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "commented on %s/%s#%d (comment %d)\n", devbox.Owner, *cf.repo, n, id)
	return nil
}

// prNumber reads the pull request number from the first of want positional arguments.
func prNumber(pos []string, want int, cmd string, stderr io.Writer) (int, error) {
	if len(pos) != want {
		if want == 1 {
			fmt.Fprintf(stderr, "bot dev %s: give the pull request NUMBER (what `bot dev pr open` printed)\n", cmd)
		} else {
			fmt.Fprintf(stderr, "bot dev %s: give the pull request NUMBER and the TEXT (quote it)\n", cmd)
		}
		return 0, errUsage
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n <= 0 {
		fmt.Fprintf(stderr, "bot dev %s: %q is not a pull request number\n", cmd, pos[0])
		return 0, errUsage
	}
	return n, nil
}

// parseInterleaved parses flags that may come before, between or after the positional
// arguments (`comment --repo demo-app 1 'text' --as bob`); "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse consumed a "--" when the argument before rest is one.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
