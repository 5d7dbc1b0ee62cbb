package pipeline

// `/scorebot` commands in PR comments (issue 6) and commit comments (issue 7): a dispatch
// table that other jobs extend (promotion adds promote and rollback), the write-permission
// check, the reaction that acknowledges a command, and the replies, which go where the
// command was written (the PR's conversation, or the commit).

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scorebot/scorebot/internal/events"
	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/render/rules"
)

// CommandPrefix starts every command comment.
const CommandPrefix = "/scorebot"

// CommandReaction is the reaction that acknowledges a command the bot read.
const CommandReaction = "eyes"

// Command is one `/scorebot <name> ...` command.
type Command struct {
	Usage string // e.g. "preview [env]"
	Help  string // one sentence
	// Open commands may be used by anyone; the others only by users with write permission
	// on the repo (checked through the API before Run is called).
	Open bool
	// PROnly commands act on a pull request: written on a commit they get an answer saying so.
	PROnly bool
	// Run does the command. words are the comment's words after "/scorebot", words[0] the
	// command name. A transient error is retried; a reply to the user is the command's job.
	Run func(ctx context.Context, p *Pipeline, job *Job, words []string) error
}

// Commands is a dispatch table: command name → command. Build it with PreviewCommands
// and add to it before wiring Commands.Handle as the issue_comment and commit_comment
// Handler.
type Commands map[string]Command

// PreviewCommands is the table of the preview's commands: preview and help.
func PreviewCommands() Commands {
	return Commands{
		"preview": {
			Usage:  "preview [env]",
			Help:   "renders this PR's head again and updates the preview comment (only env's section when env is given).",
			Run:    commandPreview,
			PROnly: true,
		},
		"help": {
			Usage: "help",
			Help:  "lists the commands.",
			Open:  true,
		},
	}
}

// ParseCommand returns the words after "/scorebot" when body's first line is a command
// (ok false otherwise).
func ParseCommand(body string) (words []string, ok bool) {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != CommandPrefix {
		return nil, false
	}
	return fields[1:], true
}

// Thread is where a command was written and where its answers go: the conversation of pull
// request PR, or commit Commit (a commit comment). Exactly one of PR and Commit is set.
type Thread struct {
	Repo   forge.Repo
	PR     int
	Commit string
}

// ThreadOf returns the thread of a new comment event: an issue_comment created on a PR, or a
// commit_comment created on a commit (ok false for every other event).
func ThreadOf(ev *events.Event) (t Thread, ok bool, err error) {
	switch {
	case ev.Action != "created":
		return Thread{}, false, nil
	case ev.Kind == events.KindIssueComment && ev.PRNumber != 0:
		t.PR = ev.PRNumber
	case ev.Kind == events.KindCommitComment && ev.CommitID != "":
		t.Commit = ev.CommitID
	default:
		return Thread{}, false, nil
	}
	if t.Repo, err = forge.ParseRepo(ev.Repo); err != nil {
		return Thread{}, false, Permanent(fmt.Errorf("command: %w", err))
	}
	return t, true, nil
}

// String names the thread for messages and logs: owner/name#7 or owner/name@abcdef123456.
func (t Thread) String() string {
	if t.PR != 0 {
		return fmt.Sprintf("%s#%d", t.Repo, t.PR)
	}
	return t.Repo.String() + "@" + short(t.Commit)
}

// React acknowledges comment commentID of the thread with reaction content.
func (t Thread) React(ctx context.Context, fc *forge.Client, commentID int64, content string) error {
	if t.PR != 0 {
		return fc.React(ctx, t.Repo, commentID, content)
	}
	return fc.ReactToCommitComment(ctx, t.Repo, commentID, content)
}

// Reply keeps one bot answer per kind in the thread, edited in place by later answers of that
// kind: the comment marked `<!-- scorebot:reply <kind> -->`.
func (t Thread) Reply(ctx context.Context, fc *forge.Client, kind, body string) error {
	marker := "<!-- scorebot:reply " + kind + " -->"
	var err error
	if t.PR != 0 {
		_, _, err = fc.UpsertComment(ctx, t.Repo, t.PR, marker, marker+"\n"+body)
	} else {
		_, _, err = fc.UpsertCommitComment(ctx, t.Repo, t.Commit, marker, marker+"\n"+body)
	}
	if err != nil {
		return fmt.Errorf("reply on %s: %w", t, err)
	}
	return nil
}

// Handle is the Handler of issue_comment and commit_comment events: a new comment on a PR or
// a commit whose first line starts with "/scorebot" is acknowledged with a reaction and
// dispatched; commands that need write permission are refused politely to other users; a
// PR-only command on a commit is answered with where it works; an unknown command gets the
// help. Answers go to the thread the command was written in.
func (cs Commands) Handle(ctx context.Context, p *Pipeline, job *Job) error {
	ev := job.Event
	words, ok := ParseCommand(ev.CommentBody)
	if !ok {
		return nil
	}
	th, ok, err := ThreadOf(ev)
	if !ok || err != nil {
		return err
	}
	fc := p.jobForge(job)
	if fc == nil {
		job.Log.Info("command ignored: no GitHub client configured")
		return nil
	}
	if ev.CommentID != 0 {
		if err := th.React(ctx, fc, ev.CommentID, CommandReaction); err != nil {
			return fmt.Errorf("acknowledge command on %s: %w", th, err)
		}
	}
	name := "help"
	if len(words) > 0 {
		name = words[0]
	}
	cmd, known := cs[name]
	if !known || cmd.Run == nil {
		// help, and anything the bot does not know: answer with the list.
		return th.Reply(ctx, fc, "help", cs.help(name, known))
	}
	if cmd.PROnly && th.PR == 0 {
		return th.Reply(ctx, fc, name, fmt.Sprintf("@%s, `/scorebot %s` works on pull requests only: write it in a comment on the PR.",
			ev.CommentAuthor, name))
	}
	if !cmd.Open {
		ok, err := fc.CanWrite(ctx, th.Repo, ev.CommentAuthor)
		if err != nil {
			return fmt.Errorf("permission of %s on %s: %w", ev.CommentAuthor, th.Repo, err)
		}
		if !ok {
			job.Log.Info("command refused: no write permission", "command", name, "user", ev.CommentAuthor)
			return th.Reply(ctx, fc, "refused "+ev.CommentAuthor,
				fmt.Sprintf("Sorry @%s, `/scorebot %s` needs write access to %s, so I did not run it. "+
					"Someone with write access can run it for you.", ev.CommentAuthor, name, th.Repo))
		}
	}
	job.Log.Info("command", "command", name, "user", ev.CommentAuthor, "on", th.String())
	return cmd.Run(ctx, p, job, words)
}

// help is the list of commands, sorted, after a line about an unknown command.
func (cs Commands) help(name string, known bool) string {
	var b strings.Builder
	if !known && name != "help" {
		fmt.Fprintf(&b, "I do not know `/scorebot %s`.\n\n", clipWord(name))
	}
	b.WriteString("Scorebot commands (in a PR or commit comment, on the first line):\n\n")
	names := make([]string, 0, len(cs))
	for n := range cs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c := cs[n]
		who := ""
		if !c.Open {
			who = " (write access)"
		}
		if c.PROnly {
			who += " (PRs only)"
		}
		fmt.Fprintf(&b, "- `/scorebot %s`: %s%s\n", c.Usage, c.Help, who)
	}
	return b.String()
}

// reply keeps one bot answer per kind on the PR, edited in place by later answers.
func reply(ctx context.Context, fc *forge.Client, repo forge.Repo, number int, kind, body string) error {
	return Thread{Repo: repo, PR: number}.Reply(ctx, fc, kind, body)
}

func clipWord(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '`' || r == '<' || r == '>' {
			return -1
		}
		return r
	}, s)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// commandPreview runs `/scorebot preview [env]`: the preview of the PR's current head.
func commandPreview(ctx context.Context, p *Pipeline, job *Job, words []string) error {
	ev := job.Event
	fc := p.jobForge(job)
	repo, err := forge.ParseRepo(ev.Repo)
	if err != nil {
		return Permanent(err)
	}
	only := ""
	if len(words) > 1 {
		only = words[1]
		lr, err := p.Rules(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(lr.Rules.Platform.Environments, func(e rules.Environment) bool { return e.Name == only }) {
			var names []string
			for _, e := range lr.Rules.Platform.Environments {
				names = append(names, "`"+e.Name+"`")
			}
			return reply(ctx, fc, repo, ev.PRNumber, "preview",
				fmt.Sprintf("@%s, there is no environment `%s`; the environments are %s.", ev.CommentAuthor, clipWord(only), strings.Join(names, ", ")))
		}
	}
	pr, err := fc.GetPR(ctx, repo, ev.PRNumber)
	if err != nil {
		return fmt.Errorf("preview: read %s#%d: %w", repo, ev.PRNumber, err)
	}
	if pr.GetState() == "closed" {
		return reply(ctx, fc, repo, ev.PRNumber, "preview", fmt.Sprintf("@%s, this PR is closed: no preview.", ev.CommentAuthor))
	}
	head := &events.Ref{Ref: pr.GetHead().GetRef(), SHA: pr.GetHead().GetSHA(), CloneURL: pr.GetHead().GetRepo().GetCloneURL()}
	if head.SHA == "" {
		return Permanent(fmt.Errorf("preview: %s#%d has no head commit", repo, ev.PRNumber))
	}
	return p.RunPreview(ctx, job, fc, repo, ev.PRNumber, head, only)
}
