package pipeline

import (
	"context"
	"fmt"

	"github.com/scorebot/scorebot/internal/promotion"
)

// promotionCommand runs `/scorebot promote <env> [<sha>]` and `/scorebot rollback <env>
// [<sha>]` from an issue_comment job on an app repo's PR or a commit_comment job on an app
// commit; words are the comment's words after "/scorebot" (words[0] is "promote" or
// "rollback"). On a commit, promote's sha defaults to the commented commit: the promotion is
// opened only when the previous environment runs that commit. It runs from the command table
// (PromotionCommands), whose Handle has already refused users without write permission on
// the app repo. The answer is one comment per command and environment where the command was
// written (the PR, or the commit), edited in place by a later command. Transient failures are
// returned for a retry; everything else is answered.
func (p *Pipeline) promotionCommand(ctx context.Context, job *Job, words []string) error {
	ev := job.Event
	fc := p.jobForge(job)
	if fc == nil {
		p.promoLog(job).Warn("promotion command ignored: no GitHub client")
		return nil
	}
	th, ok, err := ThreadOf(ev)
	if err != nil {
		return err
	}
	if !ok {
		return Permanent(fmt.Errorf("promotion command: %s event of %s is not a new comment on a PR or a commit", ev.Kind, ev.Repo))
	}
	cmd, perr := promotion.ParseCommand(words)
	if perr == nil && cmd.Verb == promotion.KindPromote && cmd.SHA == "" && th.Commit != "" {
		cmd.SHA = th.Commit
	}
	reply := func(body string) error {
		return th.Reply(ctx, fc, cmd.Verb+" "+cmd.Env, body)
	}
	if perr != nil {
		return reply(fmt.Sprintf("@%s, I could not read that command: %v", ev.CommentAuthor, perr))
	}
	var res PromoteResult
	switch cmd.Verb {
	case promotion.KindPromote:
		res, err = p.Promote(ctx, PromoteRequest{SourceRepo: ev.Repo, To: cmd.Env, Commit: cmd.SHA, Explicit: true, Job: job})
	default:
		res, err = p.Rollback(ctx, RollbackRequest{SourceRepo: ev.Repo, Env: cmd.Env, Commit: cmd.SHA, Job: job})
	}
	if err != nil && !IsPermanent(err) {
		return err
	}
	if err != nil {
		return reply(fmt.Sprintf("@%s, %s %s was refused: %s", ev.CommentAuthor, cmd.Verb, cmd.Env, err.Error()))
	}
	return reply(promoAnswer(cmd.Verb, res))
}

// promoAnswer says what a promote or rollback did, for a comment or the CLI.
func promoAnswer(verb string, res PromoteResult) string {
	src := res.SourceRepo + "@" + short(res.SourceCommit)
	switch {
	case res.Skipped || res.UpToDate:
		return fmt.Sprintf("Nothing opened for %s in %s: %s.", res.App, res.To, res.Reason)
	case res.PR == 0:
		return fmt.Sprintf("Pushed %s (%s) for %s in %s; no PR (no GitHub client).", res.Branch, short(res.BranchCommit), res.App, res.To)
	}
	what := map[string]string{promotion.KindPromote: "Promotion", promotion.KindRollback: "Rollback"}[verb]
	action := "opened"
	if res.Updated {
		action = "updated"
	}
	s := fmt.Sprintf("%s of `%s` to **%s** (%s): PR #%d %s", what, res.App, res.To, src, res.PR, action)
	if res.PRURL != "" {
		s += " — " + res.PRURL
	}
	if res.Merged {
		s += "; merged automatically (the environment says autoMerge)"
	}
	return s + "."
}

// PromotionCommands is the table of promotion's commands, promote and rollback, to add to
// the /scorebot dispatch table (StandardCommands). Both need write permission.
func PromotionCommands() Commands {
	run := func(ctx context.Context, p *Pipeline, job *Job, words []string) error {
		return p.promotionCommand(ctx, job, words)
	}
	return Commands{
		promotion.KindPromote: {
			Usage: "promote <env> [<sha>]",
			Help:  "opens the promotion PR into env now, from the commit the previous environment runs (which must be sha when given; on a commit, that commit).",
			Run:   run,
		},
		promotion.KindRollback: {
			Usage: "rollback <env> [<sha>]",
			Help:  "opens a PR restoring this app's previous state in env from the env repo's history (or the state that deployed sha).",
			Run:   run,
		},
	}
}
