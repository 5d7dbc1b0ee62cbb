package preview

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// AppEnvs is one deployed app of a rules-repo preview: per environment, Current is its
// render under the base rules (or what the env repo holds, when the base does not render),
// Rendered its render under the PR's rules, Problem why the PR's rules cannot render it.
type AppEnvs struct {
	App  string
	Envs []Env
}

// RulesRequest is a rules-repo PR preview to describe: every deployed app under the PR's
// rules against the base rules.
type RulesRequest struct {
	Repo       string // "owner/name" of the rules repo
	PR         int
	HeadCommit string // the PR's head (rules under review)
	BaseCommit string // the base branch's rules
	Apps       []AppEnvs
}

// AppResult is the diff of one app in every environment where it is deployed.
type AppResult struct {
	App  string
	Envs []EnvResult
}

// RulesPreview is a computed rules-repo preview.
type RulesPreview struct {
	RulesRequest
	Results []AppResult // sorted by app
}

// Affected names one app in one environment that a rules PR changes or breaks.
type Affected struct {
	App, Env string
	Broken   bool
}

// BuildRules diffs every app of r in every environment.
func BuildRules(r RulesRequest) *RulesPreview {
	p := &RulesPreview{RulesRequest: r}
	for _, a := range r.Apps {
		ar := AppResult{App: a.App}
		for _, e := range a.Envs {
			ar.Envs = append(ar.Envs, result(e))
		}
		p.Results = append(p.Results, ar)
	}
	slices.SortStableFunc(p.Results, func(a, b AppResult) int { return cmp.Compare(a.App, b.App) })
	return p
}

// Affected lists the app/environment pairs the PR changes or breaks, by app then in
// platform order.
func (p *RulesPreview) Affected() []Affected {
	var out []Affected
	for _, a := range p.Results {
		for _, e := range a.Envs {
			if e.Problem != nil || len(e.Files) > 0 {
				out = append(out, Affected{App: a.App, Env: e.Name, Broken: e.Problem != nil})
			}
		}
	}
	return out
}

const rulesTableHead = "| App | Environment | Added | Changed | Removed | + lines | − lines | Status |\n" +
	"| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"

// Comment is the Markdown body of the rules PR's preview comment: the table of affected
// apps and environments first, then their diffs, at most MaxCommentLen bytes.
func (p *RulesPreview) Comment() string {
	return p.doc(true).render(MaxCommentLen-outdatedReserve, "65,536-character comment", Marker+"\nScorebot rules preview: too large to show.\n")
}

// CheckRun is the title, summary and conclusion of the rules PR's check run: failure when
// the PR's rules break an app.
func (p *RulesPreview) CheckRun() (title, summary, conclusion string) {
	summary = p.doc(false).render(MaxCheckLen, "65,535-character check-run", "Scorebot rules preview: too large to show.\n")
	aff := p.Affected()
	broken := 0
	for _, a := range aff {
		if a.Broken {
			broken++
		}
	}
	switch {
	case broken > 0:
		return plural(broken, "app/environment breaks", "app/environment pairs break"), summary, "failure"
	case len(aff) == 0:
		return "no deployed app changes", summary, "success"
	}
	return plural(len(aff), "app/environment changes", "app/environment pairs change"), summary, "success"
}

func (p *RulesPreview) doc(comment bool) *doc {
	d := &doc{tableHead: rulesTableHead}
	var top strings.Builder
	if comment {
		top.WriteString(Marker + "\n")
	}
	top.WriteString("### Scorebot rules preview\n\n")
	top.WriteString(header(p.Repo, p.PR, "Rules head", p.HeadCommit, "base", p.BaseCommit))
	pairs, apps := 0, len(p.Results)
	aff := p.Affected()
	broken := 0
	for _, a := range aff {
		if a.Broken {
			broken++
		}
	}
	for _, a := range p.Results {
		pairs += len(a.Envs)
	}
	top.WriteString("Checked " + plural(apps, "deployed app", "deployed apps") + " (" +
		plural(pairs, "app/environment pair", "app/environment pairs") + "): " +
		strconv.Itoa(len(aff)-broken) + " would change, " + strconv.Itoa(broken) + " would break, " +
		strconv.Itoa(pairs-len(aff)) + " unchanged.\n\n")
	d.top = top.String()
	if len(aff) == 0 {
		d.tableHead = ""
		d.afterTable = "<i>No deployed app would change.</i>\n\n"
	}
	for _, a := range p.Results {
		for _, e := range a.Envs {
			if e.Problem == nil && len(e.Files) == 0 {
				continue
			}
			d.rows = append(d.rows, row([]string{cell(a.App, 100), cell(e.Name, 100)}, e))
			if comment {
				title := "<b>" + htmlText(a.App, 100) + "</b> in <b>" + htmlText(e.Name, 100) + "</b>"
				d.sections = append(d.sections, envSection(title, e))
			}
		}
	}
	if !comment {
		d.closing = "The diffs are in the pull request's preview comment.\n"
	}
	return d
}
