package devbox

import (
	"fmt"
	"strings"
)

// Instructions is what `bot dev` prints once the sandbox is up: what to do next and where
// to look. cli is how to run the bot (e.g. "go run ./cmd/bot"); it is used for the PR and
// comment commands, which get --listen when the sandbox is not on the default address.
func (s *Sandbox) Instructions(cli string) string {
	listen := ""
	if s.addr != DefaultListen {
		listen = " --listen " + s.addr
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("Scorebot sandbox running at %s (state in %s; Ctrl-C stops it).", s.url, s.cfg.DataDir)
	w("It runs the bot, a git host and a GitHub stand-in; repos: %s (app), %s, %s.", RepoApp, RepoRules, RepoEnv)
	w("")
	w("Deploy a change:")
	w("  git clone %s && cd %s", s.CloneURL(RepoApp), RepoApp)
	w("  edit score.yaml (e.g. the image tag), then:")
	w("  git commit -am 'my change' && git push")
	w("")
	w("Where to look:")
	w("  everything           %s/", s.url)
	w("  what runs where      %s/status", s.url)
	w("  env repo log         git clone %s && git -C %s log --stat", s.CloneURL(RepoEnv), RepoEnv)
	w("  statuses of a commit %s/api/v3/repos/%s/%s/commits/<sha>/statuses", s.url, Owner, RepoApp)
	w("  comments on PR <n>   %s/api/v3/repos/%s/%s/issues/<n>/comments", s.url, Owner, RepoApp)
	w("  the rules            git clone %s", s.CloneURL(RepoRules))
	w("  and this terminal: every webhook sent and what the bot did.")
	w("")
	w("Pull requests and comments:")
	w("  git push origin HEAD:my-branch")
	w("  %s dev pr open%s --repo %s --head my-branch", cli, listen, RepoApp)
	w("  %s dev comment%s --repo %s <n> '/scorebot help'", cli, listen, RepoApp)
	w("  %s dev comment%s --repo %s --commit <sha> '/scorebot promote staging'   (on a commit)", cli, listen, RepoApp)
	w("  %s dev pr merge%s --repo %s <n>     (or pr close)", cli, listen, RepoApp)
	return b.String()
}
