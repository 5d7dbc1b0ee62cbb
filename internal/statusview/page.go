package statusview

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/scorebot/scorebot/internal/promotion"
)

// shortLen is how many hex digits of a commit the page shows (as GitHub does).
const shortLen = 7

var pageTemplate = template.Must(template.New("status").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>scorebot: what runs where</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em}
code{font:13px ui-monospace,monospace}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
.none,.rules,.same{color:#888}.pending{color:#9a6700}.rejected{color:#cf222e}
</style></head><body>
<h1>What runs where</h1>
<p>Rows are apps, columns environments in promotion order. A cell shows the app commit the
environment runs (<span class="same">=</span>: the same commit as the environment to its left),
the promotion waiting to go there and the last one rejected; below, the rules commit it was
rendered with.{{if .EnvRepo}} Promotion PRs are on <code>{{.EnvRepo}}</code>.{{end}}
The same, as JSON: <a href="status.json">status.json</a>.</p>
{{if .Rows}}<table>
<tr><th>app</th>{{range .Envs}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}{{$app := .App}}<tr id="app-{{.App}}"><th>{{.App}}{{if .Repo}}<br><span class="none">{{.Repo}}</span>{{end}}</th>
{{range .Cells}}<td id="{{$app}}-{{.Env}}">{{if .Commit}}{{if .SameAs}}<span class="same" title="same as {{.SameAs}}">=</span> {{end}}{{template "commit" .Commit}}{{if .Repo}} <span class="none">{{.Repo}}</span>{{end}}{{else}}<span class="none">—</span>{{end}}
{{- with .Pending}}<br><span class="pending">pending {{if .PR.Number}}{{template "pr" .PR}} {{end}}{{template "commit" .Commit}}{{if not .PR.Number}} on <code>{{.Branch}}</code>{{end}}</span>{{end}}
{{- with .Rejected}}<br><span class="rejected">rejected {{if .PR.Number}}{{template "pr" .PR}} {{end}}{{template "commit" .Commit}}</span>{{end}}
{{- with .Rules}}<br><span class="rules">rules {{template "commit" .}}</span>{{end}}</td>
{{end}}</tr>
{{end}}</table>
{{else}}<p class="none">No app is deployed yet.</p>
{{end}}</body></html>
{{define "commit"}}{{if .URL}}<a href="{{.URL}}" title="{{.Full}}"><code>{{.Short}}</code></a>{{else}}<code title="{{.Full}}">{{.Short}}</code>{{end}}{{end}}
{{define "pr"}}{{if .Number}}{{if .URL}}<a href="{{.URL}}">#{{.Number}}</a>{{else}}#{{.Number}}{{end}}{{end}}{{end}}
`))

type page struct {
	EnvRepo string
	Envs    []string
	Rows    []row
}

type row struct {
	// App is the app's name; Repo its source repo (the first its records name, in the
	// environments' order).
	App, Repo string
	Cells     []cell
}

type cell struct {
	Env string
	// Commit is the deployed app commit (nil: the app is not there); Repo names its repo when
	// it is not the row's.
	Commit   *commit
	Repo     string
	SameAs   string // the environment to the left when it runs the same commit
	Rules    *commit
	Pending  *change
	Rejected *change
}

type commit struct{ Short, Full, URL string }

type pr struct {
	Number int
	URL    string
}

type change struct {
	PR     pr
	Commit *commit
	Branch string
}

// build lays m (sorted) out as the page's rows and cells.
func build(m Matrix, l Links) page {
	p := page{EnvRepo: m.EnvRepo, Envs: columns(m)}
	col := make(map[string]int, len(p.Envs))
	for i, e := range p.Envs {
		col[e] = i
	}
	for i := 0; i < len(m.Records); {
		app := m.Records[i].App
		recs := make([]*promotion.Record, len(p.Envs))
		for ; i < len(m.Records) && m.Records[i].App == app; i++ {
			recs[col[m.Records[i].Env]] = &m.Records[i]
		}
		r := row{App: app, Cells: make([]cell, len(p.Envs))}
		for _, rec := range recs {
			if rec != nil && rec.SourceRepo != "" {
				r.Repo = rec.SourceRepo
				break
			}
		}
		for j, rec := range recs {
			c := cell{Env: p.Envs[j]}
			if rec != nil {
				c = fill(c, rec, r.Repo, m, l)
				if rec.SourceCommit != "" {
					if j > 0 && recs[j-1] != nil && recs[j-1].SourceCommit == rec.SourceCommit && recs[j-1].SourceRepo == rec.SourceRepo {
						c.SameAs = p.Envs[j-1]
					}
					if rec.SourceRepo != r.Repo {
						c.Repo = rec.SourceRepo
					}
				}
			}
			r.Cells[j] = c
		}
		p.Rows = append(p.Rows, r)
	}
	return p
}

// fill says what rec holds; pending and rejected commits are of the cell's source repo,
// else of the row's (an app not yet in an environment has no source repo there).
func fill(c cell, rec *promotion.Record, rowRepo string, m Matrix, l Links) cell {
	repo := rec.SourceRepo
	if repo == "" {
		repo = rowRepo
	}
	if rec.SourceCommit != "" {
		c.Commit = link(l, rec.SourceRepo, rec.SourceCommit)
	}
	if rec.RulesCommit != "" {
		c.Rules = link(l, m.RulesRepo, rec.RulesCommit)
	}
	if pd := rec.Pending; pd != nil {
		c.Pending = &change{PR: prLink(l, m.EnvRepo, pd.PR), Commit: link(l, repo, pd.SourceCommit), Branch: pd.Branch}
	}
	if rj := rec.Rejected; rj != nil {
		c.Rejected = &change{PR: prLink(l, m.EnvRepo, rj.PR), Commit: link(l, repo, rj.SourceCommit)}
	}
	return c
}

// link is sha of repo ("owner/name"), linked when the forge and the repo are known.
func link(l Links, repo, sha string) *commit {
	c := &commit{Short: sha, Full: sha}
	if len(sha) > shortLen {
		c.Short = sha[:shortLen]
	}
	if l.WebURL != "" && isRepoName(repo) && sha != "" {
		c.URL = l.WebURL + "/" + repo + "/commit/" + sha
	}
	return c
}

func prLink(l Links, repo string, n int) pr {
	p := pr{Number: n}
	if n > 0 && l.WebURL != "" && isRepoName(repo) {
		p.URL = l.WebURL + "/" + repo + "/pull/" + strconv.Itoa(n)
	}
	return p
}

// isRepoName reports whether s is "owner/name" (not a clone URL or a path).
func isRepoName(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	return ok && owner != "" && name != "" && !strings.ContainsAny(s, ":?#\\ ") && !strings.Contains(name, "/")
}
