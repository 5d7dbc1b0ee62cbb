package bootstrap

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// PRBranchPrefix is the env repo branch prefix `bot bootstrap --pr` owns: one branch per
// environment, force-updated by every run.
const PRBranchPrefix = "scorebot/bootstrap/"

// PRBranch returns the bot-owned branch that carries the bootstrap files of env.
func PRBranch(env string) string { return PRBranchPrefix + env }

// PullRequest is the pull request that proposes the bootstrap files for one environment.
type PullRequest struct {
	Branch string // head branch, PRBranch(opts.Env)
	Base   string // the env branch Flux follows
	Title  string
	Body   string // GitHub Markdown
}

// PR returns the pull request that proposes Files(opts): its title and body say what each
// file is and what merging it does. The same options always give the same text.
func PR(opts Options) (PullRequest, error) {
	if err := Validate(opts); err != nil {
		return PullRequest{}, err
	}
	branch, interval := withDefaults(opts)
	dir := Dir(opts)
	sync := SyncPath(opts)
	code := func(s string) string {
		return "`" + strings.ReplaceAll(strings.ReplaceAll(s, "`", "'"), "|", `\|`) + "`"
	}
	repoURL := opts.RepoURL
	if u, err := url.Parse(repoURL); err == nil {
		repoURL = u.Redacted() // Validate refuses passwords; a user name alone stays
	}

	var b strings.Builder
	fmt.Fprintf(&b, "`bot bootstrap` proposes the Flux bootstrap files of the **%s** environment.\n", opts.Env)
	fmt.Fprintf(&b, "The branch %s belongs to the bot: re-running `bot bootstrap --pr` force-updates it and this pull request, so do not push to it.\n\n", code(PRBranch(opts.Env)))
	b.WriteString("### Files\n\n| File | What it is |\n| --- | --- |\n")
	if len(opts.Components) > 0 {
		fmt.Fprintf(&b, "| %s | Flux's controllers and CRDs, as `flux install --export` wrote them |\n", code(path.Join(dir, ComponentsFile)))
	}
	secret := "no git credentials"
	if opts.SecretRef != "" {
		secret = fmt.Sprintf("credentials from the Secret %s in %s", code(opts.SecretRef), code(Namespace))
	}
	fmt.Fprintf(&b, "| %s | the GitRepository %s (%s, branch %s, fetched every %s, %s) and the Kustomization %s that applies %s with prune |\n",
		code(path.Join(dir, SyncFile)), code(Name), code(repoURL), code(branch), interval, secret, code(Name), code(sync))
	fmt.Fprintf(&b, "| %s | lists the files above, so that %s applies them |\n\n",
		code(path.Join(dir, KustomizationFile)), code("kubectl apply -k "+dir))
	b.WriteString("### What merging does\n\n")
	fmt.Fprintf(&b, "Once these files are on %s, Flux on the cluster of **%s** follows %s of %s: it applies every app Scorebot commits there and, with prune, deletes what is removed from it.\n",
		code(branch), opts.Env, code(sync), code(branch))
	fmt.Fprintf(&b, "A cluster whose %s Kustomization already applies %s picks the change up on its next fetch (within %s). A new cluster needs them applied once, ",
		code(Name), code(sync), interval)
	if len(opts.Components) > 0 {
		b.WriteString("which installs Flux too:\n\n")
	} else {
		b.WriteString("after `flux install`:\n\n")
	}
	fmt.Fprintf(&b, "```sh\nkubectl apply -k %s\n```\n", dir)

	return PullRequest{
		Branch: PRBranch(opts.Env),
		Base:   branch,
		Title:  fmt.Sprintf("Bootstrap Flux for %s: follow %s", opts.Env, strings.TrimPrefix(sync, "./")),
		Body:   b.String(),
	}, nil
}
