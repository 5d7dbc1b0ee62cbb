package promotion

import (
	"fmt"
	"strings"

	"github.com/scorebot/scorebot/internal/preview"
)

// MaxBody is GitHub's limit on a PR body, in characters (counted here in bytes, which is never
// fewer).
const MaxBody = 65536

// bodyBudget leaves room for the closing lines and the note on what was left out.
const bodyBudget = MaxBody - 2000

// Description says what a promotion or rollback PR changes, for its title and body.
type Description struct {
	Kind string // KindPromote or KindRollback
	App  string
	From string // promotion: the environment the source runs in
	To   string // the environment the PR changes

	SourceRepo   string
	SourceCommit string
	SourceURL    string // link to the app commit ("" when unknown)
	RulesCommit  string
	// Current is the app commit To runs now ("" when the app is not deployed there).
	Current string
	// RestoredFrom is the env-repo commit a rollback restores the app's files from.
	RestoredFrom string
	// AutoMerge: the bot merges this PR itself (the environment says autoMerge).
	AutoMerge bool
	// Apps are the apps a re-render changes (KindRerender; App is unused), and Failed those
	// that no longer render with the new rules (left as they are).
	Apps, Failed []string

	Diffs []preview.FileDiff
}

// Marker is the hidden line that identifies a promotion PR body.
func Marker(kind, app, env string) string {
	if app == "" {
		return "<!-- scorebot:" + kind + " " + env + " -->"
	}
	return "<!-- scorebot:" + kind + " " + app + "/" + env + " -->"
}

// Title is the PR title.
func (d Description) Title() string {
	src := d.SourceRepo + "@" + short(d.SourceCommit)
	if d.Kind == KindRerender {
		return fmt.Sprintf("Re-render %s with rules %s: %s", d.To, short(d.RulesCommit), strings.Join(d.Apps, ", "))
	}
	if d.Kind == KindRollback {
		return fmt.Sprintf("Roll back %s in %s to %s", d.App, d.To, src)
	}
	return fmt.Sprintf("Promote %s to %s: %s", d.App, d.To, src)
}

// Markdown is the PR body: the source and its links, a summary of the change to the
// environment, one collapsible diff per object, and what merging or closing does. It stays
// under MaxBody, leaving out the largest diffs first and saying so.
func (d Description) Markdown() string {
	var b strings.Builder
	b.WriteString(Marker(d.Kind, d.App, d.To) + "\n")
	src := "`" + d.SourceRepo + "@" + short(d.SourceCommit) + "`"
	if d.SourceURL != "" {
		src = "[" + d.SourceRepo + "@" + short(d.SourceCommit) + "](" + d.SourceURL + ")"
	}
	switch {
	case d.Kind == KindRerender:
		fmt.Fprintf(&b, "### Re-render **%s** with rules `%s`\n\n", d.To, short(d.RulesCommit))
		fmt.Fprintf(&b, "The rules changed: every app deployed in **%s** rendered again from the commit it runs. Changed: %s.\n", d.To, codeList(d.Apps))
		if len(d.Failed) > 0 {
			fmt.Fprintf(&b, "Not rendered with these rules, left as they are: %s.\n", codeList(d.Failed))
		}
		b.WriteString("\n")
	case d.Kind == KindRollback:
		fmt.Fprintf(&b, "### Roll back `%s` in **%s**\n\n", d.App, d.To)
		fmt.Fprintf(&b, "Restores the app's files as they were in env commit `%s`, rendered from %s", short(d.RestoredFrom), src)
	default:
		fmt.Fprintf(&b, "### Promote `%s` from **%s** to **%s**\n\n", d.App, d.From, d.To)
		fmt.Fprintf(&b, "Source: %s, the commit **%s** runs, re-rendered with **%s**'s rules", src, d.From, d.To)
	}
	if d.Kind != KindRerender {
		if d.RulesCommit != "" {
			fmt.Fprintf(&b, " (rules `%s`)", short(d.RulesCommit))
		}
		b.WriteString(".\n")
		if d.Current != "" {
			fmt.Fprintf(&b, "**%s** runs `%s@%s` now.\n\n", d.To, d.SourceRepo, short(d.Current))
		} else {
			fmt.Fprintf(&b, "`%s` is not deployed in **%s** yet.\n\n", d.App, d.To)
		}
	}

	var added, changed, removed, plus, minus int
	for _, f := range d.Diffs {
		switch f.Op {
		case preview.Added:
			added++
		case preview.Removed:
			removed++
		default:
			changed++
		}
		plus += f.Plus
		minus += f.Minus
	}
	b.WriteString("| environment | added | changed | removed | lines |\n|---|---:|---:|---:|---|\n")
	fmt.Fprintf(&b, "| %s | %d | %d | %d | +%d −%d |\n\n", d.To, added, changed, removed, plus, minus)
	if len(d.Diffs) == 0 {
		b.WriteString("No Kubernetes object changes: only Scorebot's provenance record differs.\n\n")
	}

	closing := d.closing()
	left := 0
	for _, f := range d.Diffs {
		sec := diffSection(f)
		if b.Len()+len(sec)+len(closing) > bodyBudget {
			left++
			continue
		}
		b.WriteString(sec)
	}
	if left > 0 {
		fmt.Fprintf(&b, "<i>Left out to fit GitHub's limit: the diff of %d object(s); the branch holds every file.</i>\n\n", left)
	}
	b.WriteString(closing)
	return b.String()
}

func (d Description) closing() string {
	var b strings.Builder
	b.WriteString("---\n")
	switch {
	case d.Kind == KindRerender && d.AutoMerge:
		fmt.Fprintf(&b, "**%s** accepts changes automatically: Scorebot merges this PR itself.\n", d.To)
	case d.Kind == KindRerender:
		fmt.Fprintf(&b, "Merging this PR applies the new rules to **%s**. A later rules change updates this PR.\n", d.To)
	case d.Kind == KindRollback:
		fmt.Fprintf(&b, "Merging this PR rolls `%s` back in **%s**. Closing it changes nothing.\n", d.App, d.To)
	case d.AutoMerge:
		fmt.Fprintf(&b, "**%s** accepts promotions automatically: Scorebot merges this PR itself. Closing it first rejects the promotion.\n", d.To)
	default:
		fmt.Fprintf(&b, "Merging this PR deploys it to **%s** and opens the promotion to the next environment. Closing it rejects the promotion; a newer deploy to **%s** updates this PR.\n", d.To, d.From)
	}
	return b.String()
}

// diffSection is one object's collapsible diff.
func diffSection(f preview.FileDiff) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary><code>%s</code> (%s, +%d −%d)</summary>\n\n", escapeHTML(f.Path), f.Op, f.Plus, f.Minus)
	if f.Note != "" {
		b.WriteString("<i>" + escapeHTML(f.Note) + "</i>\n")
	} else {
		fence := fenceFor(f.Lines)
		b.WriteString(fence + "diff\n")
		for _, l := range f.Lines {
			b.WriteString(l + "\n")
		}
		b.WriteString(fence + "\n")
	}
	b.WriteString("\n</details>\n\n")
	return b.String()
}

// fenceFor is a backtick fence longer than any run of backticks in lines.
func fenceFor(lines []string) string {
	longest := 0
	for _, l := range lines {
		run := 0
		for _, r := range l {
			if r == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func codeList(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return "`" + strings.Join(items, "`, `") + "`"
}

func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
