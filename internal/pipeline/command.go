package pipeline

// `/scorebot` commands in PR comments (issue 6): a dispatch table that other jobs extend
// (promotion adds promote and rollback), the write-permission check, the reaction that
// acknowledges a command, and the replies.

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
	// Run does the command. words are the comment's words after "/scorebot", words[0] the
	// command name. A transient error is retried; a reply to the user is the command's job.
	Run func(ctx context.Context, p *Pipeline, job *Job, words []string) error
}

// Commands is a dispatch table: command name → command. Build it with PreviewCommands
// and add to it before wiring Commands.Handle as the issue_comment Handler.
type Commands map[string]Command

// PreviewCommands is the table of the preview's commands: preview and help.
func PreviewCommands() Commands {
	return Commands{
		"preview": {
			Usage: "preview [env]",
			Help:  "renders this PR's head again and updates the preview comment (only env's section when env is given).",
			Run:   commandPreview,
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

// Handle is the Handler of issue_comment events: a new comment on a PR whose first line
// starts with "/scorebot" is acknowledged with a reaction and dispatched; commands that need
// write permission are refused politely to other users; an unknown command gets the help.
func (cs Commands) Handle(ctx context.Context, p *Pipeline, job *Job) error {
	ev := job.Event
	if ev.Kind != events.KindIssueComment || ev.Action != "created" || ev.PRNumber == 0 {
		return nil
	}
	words, ok := ParseCommand(ev.CommentBody)
	if !ok {
		return nil
	}
	fc := p.previewForge(job)
	if fc == nil {
		job.Log.Info("command ignored: no GitHub client configured")
		return nil
	}
	repo, err := forge.ParseRepo(ev.Repo)
	if err != nil {
		return Permanent(fmt.Errorf("command: %w", err))
	}
	if ev.CommentID != 0 {
		if err := fc.React(ctx, repo, ev.CommentID, CommandReaction); err != nil {
			return fmt.Errorf("acknowledge command on %s#%d: %w", repo, ev.PRNumber, err)
		}
	}
	name := "help"
	if len(words) > 0 {
		name = words[0]
	}
	cmd, known := cs[name]
	if !known || cmd.Run == nil {
		// help, and anything the bot does not know: answer with the list.
		return reply(ctx, fc, repo, ev.PRNumber, "help", cs.help(name, known))
	}
	if !cmd.Open {
		ok, err := fc.CanWrite(ctx, repo, ev.CommentAuthor)
		if err != nil {
			return fmt.Errorf("permission of %s on %s: %w", ev.CommentAuthor, repo, err)
		}
		if !ok {
			job.Log.Info("command refused: no write permission", "command", name, "user", ev.CommentAuthor)
			return reply(ctx, fc, repo, ev.PRNumber, "refused "+ev.CommentAuthor,
				fmt.Sprintf("Sorry @%s, `/scorebot %s` needs write access to %s, so I did not run it. "+
					"Someone with write access can run it for you.", ev.CommentAuthor, name, repo))
		}
	}
	job.Log.Info("command", "command", name, "user", ev.CommentAuthor, "pr", ev.PRNumber)
	return cmd.Run(ctx, p, job, words)
}

// help is the list of commands, sorted, after a line about an unknown command.
func (cs Commands) help(name string, known bool) string {
	var b strings.Builder
	if !known && name != "help" {
		fmt.Fprintf(&b, "I do not know `/scorebot %s`.\n\n", clipWord(name))
	}
	b.WriteString("Scorebot commands (in a PR comment, on the first line):\n\n")
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
		fmt.Fprintf(&b, "- `/scorebot %s`: %s%s\n", c.Usage, c.Help, who)
	}
	return b.String()
}

// reply keeps one bot answer per kind on the PR, edited in place by later answers.
func reply(ctx context.Context, fc *forge.Client, repo forge.Repo, number int, kind, body string) error {
	marker := "<!-- scorebot:reply " + kind + " -->"
	if _, _, err := fc.UpsertComment(ctx, repo, number, marker, marker+"\n"+body); err != nil {
		return fmt.Errorf("reply on %s#%d: %w", repo, number, err)
	}
	return nil
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
	fc := p.previewForge(job)
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
