package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/pipeline"
)

const promoteUsage = `Usage:
  bot promote --app APP --to ENV [--commit SHA] --rules URL [--github-url URL] [flags]
  bot promote --app APP --to ENV [--commit SHA] --dev ADDR

bot promote opens the promotion PR of an app into an environment now, as
"/scorebot promote ENV" does on a PR: the commit the previous environment runs (or --commit,
which must be that commit) is rendered with ENV's rules onto the env repo branch
scorebot/promote/APP/ENV, and a PR into the env branch is opened or updated. An environment
whose rules say autoMerge is merged by the bot. The env repo comes from the rules repo's
platform.yaml. The GitHub token is read from the environment variable named by
--github-token-env, never from the command line.

--dev ADDR points everything at a running "bot dev" sandbox (http://ADDR).

Flags:
`

// runPromote implements `bot promote`.
func runPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("promote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	app := fs.String("app", "", "app `ID` to promote (required)")
	to := fs.String("to", "", "environment `NAME` to promote into (required; reached by promotion)")
	commit := fs.String("commit", "", "app commit `SHA` expected in the previous environment (default: whatever runs there)")
	rulesURL := fs.String("rules", "", "clone `URL` of the rules repo")
	rulesBranch := fs.String("rules-branch", "main", "`BRANCH` of the rules repo")
	rulesRepo := fs.String("rules-repo", "", "the rules repo's `OWNER/NAME` on GitHub (default: from its URL)")
	apiURL := fs.String("github-url", "https://api.github.com/", "GitHub REST API base `URL` (GitHub Enterprise: https://HOST/api/v3/)")
	tokenEnv := fs.String("github-token-env", "GITHUB_TOKEN", "environment `VARIABLE` holding the GitHub token (empty: no PR, only the branch is pushed)")
	gitTemplate := fs.String("git-url-template", "", "clone `URL` of app repos with {owner} and {name} (default: https://github.com/{owner}/{name}.git)")
	dataDir := fs.String("data-dir", "", "`DIR` for git caches (default: a temporary dir, removed afterwards)")
	dev := fs.String("dev", "", "`ADDR` of a running bot dev sandbox: sets the rules, GitHub and git URLs")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), promoteUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var problems []string
	if *app == "" {
		problems = append(problems, "missing --app")
	}
	if *to == "" {
		problems = append(problems, "missing --to")
	}
	if *rulesURL == "" && *dev == "" {
		problems = append(problems, "missing --rules URL (or --dev ADDR for a bot dev sandbox)")
	}
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q (every input is a flag)", fs.Args()))
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "bot promote: %s\n\n", strings.Join(problems, "; "))
		fs.Usage()
		return errUsage
	}

	var token forge.Secret
	if *tokenEnv != "" {
		token = forge.Secret(os.Getenv(*tokenEnv))
	}
	if *dev != "" {
		root := "http://" + strings.TrimPrefix(*dev, "http://")
		*rulesURL = root + "/git/rules.git"
		*rulesRepo = "local/rules"
		*apiURL = root + "/api/v3/"
		*gitTemplate = root + "/git/{name}.git"
		token = "as:scorebot[bot]" // the stand-in acts as the bot; not a credential
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var fc *forge.Client
	if token != "" {
		var err error
		if fc, err = forge.New(forge.Config{BaseURL: *apiURL, Token: token, Logger: log, UserAgent: "scorebot-promote"}); err != nil {
			return err
		}
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "scorebot-promote-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cfg := pipeline.Config{
		DataDir: dir, RulesURL: *rulesURL, RulesBranch: *rulesBranch, RulesRepo: *rulesRepo,
		GitURLTemplate: *gitTemplate, Forge: fc, Logger: log,
	}
	if fc != nil && *dev == "" {
		cfg.GitAuth = func(ctx context.Context) (transport.AuthMethod, error) { return fc.GitAuth(ctx) }
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		return err
	}
	res, err := p.Promote(ctx, pipeline.PromoteRequest{App: *app, To: *to, Commit: *commit, Explicit: true})
	if err != nil {
		return err
	}
	src := res.SourceRepo + "@" + shortSHA(res.SourceCommit)
	switch {
	case res.UpToDate || res.Skipped:
		fmt.Fprintf(stdout, "nothing to promote: %s\n", res.Reason)
	case res.PR == 0:
		fmt.Fprintf(stdout, "pushed %s (%s) with %s for %s; no GitHub token, so no PR\n", res.Branch, shortSHA(res.BranchCommit), src, res.To)
	default:
		verb := "opened"
		if res.Updated {
			verb = "updated"
		}
		fmt.Fprintf(stdout, "promotion of %s to %s (%s): PR #%d %s %s\n", res.App, res.To, src, res.PR, verb, res.PRURL)
		if res.Merged {
			fmt.Fprintf(stdout, "merged by the bot: %s says autoMerge\n", res.To)
		}
	}
	return nil
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
