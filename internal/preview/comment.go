package preview

import (
	"slices"
	"strconv"
	"strings"

	"github.com/scorebot/scorebot/internal/render"
)

// Marker is the hidden HTML comment that identifies the preview comment of a PR, so that
// forge.UpsertComment edits it in place instead of posting a second one.
const Marker = "<!-- scorebot:preview -->"

// Env is one environment of an app's preview, in platform order.
type Env struct {
	Name string
	// Current is what the env repo holds now under the app's paths (render.Output's Owned
	// and Shared prefixes; see Restrict), keyed by full path.
	Current map[string][]byte
	// Rendered is what the PR renders there (render.Output.Files restricted the same way).
	Rendered map[string][]byte
	// Explain is the match trace of the render (render.Output.Explain).
	Explain []render.ResourceExplain
	// Problem, when set, is why the PR cannot be rendered for this environment; Current and
	// Rendered are then ignored.
	Problem *Problem
}

// Request is an app-repo PR preview to describe.
type Request struct {
	Repo        string // "owner/name" of the PR
	PR          int
	App         string
	HeadCommit  string
	RulesCommit string
	Envs        []Env
}

// EnvResult is the diff of one environment.
type EnvResult struct {
	Name                    string
	Files                   []FileDiff
	Added, Changed, Removed int
	Plus, Minus             int
	Explain                 []render.ResourceExplain
	Problem                 *Problem
}

// Preview is a computed app preview: build it once, then write the comment and the check
// run from it.
type Preview struct {
	Request
	Results []EnvResult
}

// Build diffs every environment of r.
func Build(r Request) *Preview {
	p := &Preview{Request: r}
	for _, e := range r.Envs {
		p.Results = append(p.Results, result(e))
	}
	return p
}

func result(e Env) EnvResult {
	res := EnvResult{Name: e.Name, Explain: e.Explain, Problem: e.Problem}
	if e.Problem != nil {
		return res
	}
	res.Files = Diff(e.Current, e.Rendered)
	res.count()
	return res
}

func (r *EnvResult) count() {
	r.Added, r.Changed, r.Removed, r.Plus, r.Minus = 0, 0, 0, 0, 0
	for _, f := range r.Files {
		switch f.Op {
		case Added:
			r.Added++
		case Changed:
			r.Changed++
		case Removed:
			r.Removed++
		}
		r.Plus += f.Plus
		r.Minus += f.Minus
	}
}

// Failed reports whether any environment could not be rendered.
func (p *Preview) Failed() bool {
	for _, r := range p.Results {
		if r.Problem != nil {
			return true
		}
	}
	return false
}

// Changes is the number of objects that would change, over all environments.
func (p *Preview) Changes() int {
	n := 0
	for _, r := range p.Results {
		n += len(r.Files)
	}
	return n
}

// Restrict returns the files of files under any of prefixes (a prefix ending in "/" is a
// folder, any other a single file), as render.Output's Owned and Shared describe them.
func Restrict(files map[string][]byte, prefixes ...[]string) map[string][]byte {
	out := make(map[string][]byte)
	for p, data := range files {
		if under(p, prefixes...) {
			out[p] = data
		}
	}
	return out
}

func under(p string, prefixes ...[]string) bool {
	for _, list := range prefixes {
		for _, pre := range list {
			if p == pre || (strings.HasSuffix(pre, "/") && strings.HasPrefix(p, pre)) {
				return true
			}
		}
	}
	return false
}

const tableHead = "| Environment | Added | Changed | Removed | + lines | − lines | Status |\n" +
	"| --- | ---: | ---: | ---: | ---: | ---: | --- |\n"

// Comment is the Markdown body of the PR's preview comment, starting with Marker, at most
// MaxCommentLen bytes (with room left for Outdated's banner).
func (p *Preview) Comment() string {
	d := p.doc(true)
	return d.render(MaxCommentLen-outdatedReserve, "65,536-character comment", Marker+"\nScorebot preview: too large to show.\n")
}

// CheckRun is the title and summary of the preview check run on the PR head (the summary at
// most MaxCheckLen bytes), and its conclusion: failure when an environment cannot be
// rendered, success otherwise.
func (p *Preview) CheckRun() (title, summary, conclusion string) {
	d := p.doc(false)
	summary = d.render(MaxCheckLen, "65,535-character check-run", "Scorebot preview: too large to show.\n")
	conclusion = "success"
	var failed []string
	for _, r := range p.Results {
		if r.Problem != nil {
			failed = append(failed, r.Name)
		}
	}
	if len(failed) > 0 {
		conclusion = "failure"
		title = capText("cannot render for "+strings.Join(failed, ", "), 200)
	} else if n := p.Changes(); n == 0 {
		title = "no changes in " + plural(len(p.Results), "environment", "environments")
	} else {
		title = plural(n, "object changes", "objects change") + " in " + plural(len(p.Results), "environment", "environments")
	}
	return title, summary, conclusion
}

func (p *Preview) doc(comment bool) *doc {
	d := &doc{tableHead: tableHead}
	var top strings.Builder
	if comment {
		top.WriteString(Marker + "\n")
	}
	top.WriteString("### Scorebot preview")
	if p.App != "" {
		top.WriteString(" of " + code(p.App, 100))
	}
	top.WriteString("\n\n")
	top.WriteString(header(p.Repo, p.PR, "Head", p.HeadCommit, "rules", p.RulesCommit))
	d.top = top.String()
	for _, r := range p.Results {
		d.rows = append(d.rows, row([]string{cell(r.Name, 100)}, r))
	}
	if len(p.Results) == 0 {
		d.tableHead = ""
		d.afterTable = "<i>The platform has no environments.</i>\n\n"
	}
	if !comment {
		d.closing = "The diffs are in the pull request's preview comment.\n"
		return d
	}
	if r, ok := p.sameProblem(); ok {
		// One cause (the Score file does not load, say) fails every environment alike:
		// said once, not once per environment.
		d.sections = append(d.sections, envSection("<b>every environment</b>", r))
		return d
	}
	for _, r := range p.Results {
		d.sections = append(d.sections, envSection("<b>"+htmlText(r.Name, 100)+"</b>", r))
	}
	return d
}

// sameProblem returns the first result when there are several and all of them failed with
// the same problem.
func (p *Preview) sameProblem() (EnvResult, bool) {
	if len(p.Results) < 2 {
		return EnvResult{}, false
	}
	first := p.Results[0].Problem
	for _, r := range p.Results {
		if r.Problem == nil || *r.Problem != *first {
			return EnvResult{}, false
		}
	}
	return p.Results[0], true
}

// header is the line naming the commits the preview was made from.
func header(repo string, pr int, headLabel, head, otherLabel, other string) string {
	var parts []string
	if head != "" {
		parts = append(parts, headLabel+" "+code(short(head), 64))
	}
	if other != "" {
		parts = append(parts, otherLabel+" "+code(short(other), 64))
	}
	if repo != "" && pr > 0 {
		parts = append(parts, htmlText(repo, 200)+"#"+strconv.Itoa(pr))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " · ") + "\n\n"
}

// row is one summary-table row: the leading cells, the counts and the status.
func row(lead []string, r EnvResult) string {
	cells := slices.Clone(lead)
	if r.Problem != nil {
		cells = append(cells, "–", "–", "–", "–", "–", "❌ error: "+cell(firstLine(r.Problem.Message), 150))
	} else {
		status := "✅ ok"
		if len(r.Files) == 0 {
			status = "✅ no changes"
		}
		cells = append(cells, strconv.Itoa(r.Added), strconv.Itoa(r.Changed), strconv.Itoa(r.Removed),
			"+"+strconv.Itoa(r.Plus), "−"+strconv.Itoa(r.Minus), status)
	}
	return "| " + strings.Join(cells, " | ") + " |\n"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// envSection is the collapsible part of one environment (or one app in one environment).
func envSection(title string, r EnvResult) *section {
	s := &section{close: "</details>\n\n"}
	if r.Problem != nil {
		s.open = "<details open>\n<summary>" + title + ": ❌ cannot render</summary>\n\n"
		s.items = append(s.items, &item{kind: kindFixed, text: problemText(r.Problem)})
		return s
	}
	summary := "no changes"
	if len(r.Files) > 0 {
		summary = strconv.Itoa(r.Added) + " added, " + strconv.Itoa(r.Changed) + " changed, " +
			strconv.Itoa(r.Removed) + " removed (+" + strconv.Itoa(r.Plus) + " −" + strconv.Itoa(r.Minus) + ")"
	}
	s.open = "<details>\n<summary>" + title + ": " + summary + "</summary>\n\n"
	if len(r.Files) == 0 {
		s.items = append(s.items, &item{kind: kindFixed, text: "<i>No changes: the env repo already holds what this would render.</i>\n\n"})
	}
	for _, f := range r.Files {
		s.items = append(s.items, &item{kind: kindDiff, label: f.Path, text: fileText(f)})
	}
	if t := traceText(r.Explain); t != "" {
		s.items = append(s.items, &item{kind: kindTrace, text: t})
	}
	return s
}

// fileText is one object's collapsible diff.
func fileText(f FileDiff) string {
	var b strings.Builder
	b.WriteString("<details>\n<summary>" + string(f.Op) + " " + code(f.Path, 300))
	if f.Note == "" {
		b.WriteString(" (+" + strconv.Itoa(f.Plus) + " −" + strconv.Itoa(f.Minus) + ")")
	}
	b.WriteString("</summary>\n\n")
	if f.Note != "" {
		b.WriteString("<i>" + htmlText(f.Note, 300) + "</i>\n\n</details>\n\n")
		return b.String()
	}
	var body strings.Builder
	shown := 0
	for _, l := range f.Lines {
		l = strings.ToValidUTF8(l, "\uFFFD")
		if body.Len()+len(l)+1 > maxObjectDiff {
			break
		}
		body.WriteString(l + "\n")
		shown++
	}
	b.WriteString(codeBlock("diff", body.String()))
	b.WriteString("\n")
	if left := len(f.Lines) - shown; left > 0 {
		b.WriteString("<i>" + plural(left, "more line", "more lines") + " of this diff not shown.</i>\n\n")
	}
	b.WriteString("</details>\n\n")
	return b.String()
}

// traceText is the collapsible match trace of one environment.
func traceText(ex []render.ResourceExplain) string {
	if len(ex) == 0 {
		return ""
	}
	var t strings.Builder
	for _, e := range ex {
		t.WriteString(strings.TrimRight(e.Text, "\n") + "\n")
	}
	text := capText(t.String(), maxTrace)
	return "<details>\n<summary>Match trace (" + plural(len(ex), "resource", "resources") + ")</summary>\n\n" +
		codeBlock("text", text) + "\n</details>\n\n"
}

// problemText shows an error with its file, line, field and fix.
func problemText(p *Problem) string {
	var b strings.Builder
	var where []string
	if p.File != "" {
		w := "<b>File</b> " + code(p.File, 300)
		if p.Line > 0 {
			w += " line " + strconv.Itoa(p.Line)
		}
		where = append(where, w)
	}
	if p.Field != "" {
		where = append(where, "<b>Field</b> "+code(p.Field, 300))
	}
	if len(where) > 0 {
		b.WriteString(strings.Join(where, " · ") + "\n\n")
	}
	b.WriteString(codeBlock("text", capText(p.Message, maxProblem)))
	b.WriteString("\n")
	if p.Fix != "" && !strings.Contains(p.Message, p.Fix) {
		b.WriteString("<b>Fix</b>: " + htmlText(p.Fix, 1000) + "\n\n")
	}
	return b.String()
}
