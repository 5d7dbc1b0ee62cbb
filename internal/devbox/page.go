package devbox

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scorebot/scorebot/internal/forge/standin"
	"github.com/scorebot/scorebot/internal/githost"
)

// pageCommits is how many commits per repo the page shows.
const pageCommits = 8

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>scorebot dev</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}
code,pre{font:13px ui-monospace,monospace}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}
.success{color:#1a7f37}.failure,.error{color:#cf222e}.pending{color:#9a6700}
pre{white-space:pre-wrap;margin:0}
</style></head><body>
<h1>scorebot dev</h1>
<p>Clone the demo app, edit <code>score.yaml</code>, commit, <code>git push</code>; the bot renders it into the env repo.</p>
<pre>git clone {{.AppURL}}</pre>
<p><a href="/status">What runs where</a>: every app in every environment, from which commit, and the promotions waiting.</p>
{{range .Repos}}{{$repo := .Name}}
<h2 id="{{.Name}}">{{.Name}}</h2>
<p>clone: <code>{{.CloneURL}}</code></p>
<table><tr><th>commit</th><th>message</th><th>when</th><th>statuses</th></tr>
{{range .Commits}}<tr id="{{$repo}}-commit-{{.Short}}"><td><code>{{.Short}}</code></td><td>{{.Subject}}</td><td>{{.When}}</td>
<td>{{range .Statuses}}<span class="{{.State}}">{{.Context}}: {{.State}}</span> {{.Description}}<br>{{end}}
{{if .Statuses}}<a href="{{.StatusesURL}}">json</a>{{end}}</td></tr>
{{end}}</table>
{{range .PRs}}
<h3 id="{{$repo}}-pull-{{.Number}}">#{{.Number}} {{.Title}} ({{.Head}} → {{.Base}}, {{.State}}{{if .Merged}}, merged{{end}})</h3>
{{range .Comments}}<p><b>{{.User}}</b> {{.When}}</p><pre>{{.Body}}</pre>{{end}}
{{end}}
{{end}}
<h2>Webhooks sent to the bot</h2>
<table><tr><th>when</th><th>event</th><th>repo</th><th>delivery</th><th>status</th></tr>
{{range .Deliveries}}<tr><td>{{.At.Format "15:04:05"}}</td><td>{{.Event}} {{.Action}}</td><td>{{.Repo}}</td><td><code>{{.ID}}</code></td>
<td class="{{if .Err}}error{{end}}">{{.Status}} {{.Err}}</td></tr>{{end}}
</table>
</body></html>
`))

type pageData struct {
	AppURL     string
	Repos      []pageRepo
	Deliveries []Delivery
}

type pageRepo struct {
	Name, CloneURL string
	Commits        []pageCommit
	PRs            []pagePR
}

type pageCommit struct {
	Short, Subject, When, StatusesURL string
	Statuses                          []standin.Status
}

type pagePR struct {
	standin.PullRequest
	Comments []pageComment
}

type pageComment struct{ User, When, Body string }

// serveLink answers the web addresses the GitHub stand-in gives pull requests, issues,
// commits and check runs (html_url: http://ADDR/local/<repo>/pull/<n>, .../issues/<n>,
// .../commit/<sha>, .../runs/<id>, the links in the bot's comments and statuses) with a
// redirect to where the page shows them.
func (s *Sandbox) serveLink(w http.ResponseWriter, r *http.Request) {
	repo, kind, id := r.PathValue("repo"), r.PathValue("kind"), r.PathValue("id")
	anchor := repo
	switch kind {
	case "pull", "issues": // a PR's conversation is also its issue
		if _, err := strconv.Atoi(id); err == nil {
			anchor += "-pull-" + id
		}
	case "commit":
		if len(id) >= 12 {
			anchor += "-commit-" + id[:12]
		}
	case "runs": // a check run: the page shows its repo's commits with their checks
	default:
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, "/#"+url.PathEscape(anchor), http.StatusFound)
}

// servePage is the human page: repos, their recent commits with the statuses the bot set,
// pull requests with the bot's comments, and the webhooks sent.
func (s *Sandbox) servePage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	data := pageData{AppURL: s.CloneURL(RepoApp)}
	names, err := s.git.Repos()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, name := range names {
		pr := pageRepo{Name: name, CloneURL: s.CloneURL(name)}
		out, err := git(ctx, s.git.Dir(name), "log", "-n", strconv.Itoa(pageCommits), "--format=%H%x1f%s%x1f%cr", githost.DefaultBranch, "--")
		if err == nil {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				f := strings.Split(line, "\x1f")
				if len(f) != 3 {
					continue
				}
				pr.Commits = append(pr.Commits, pageCommit{
					Short: f[0][:12], Subject: f[1], When: f[2], Statuses: s.gh.Statuses(Owner, name, f[0]),
					StatusesURL: s.url + "/api/v3/repos/" + Owner + "/" + name + "/commits/" + f[0] + "/statuses",
				})
			}
		}
		for _, p := range s.gh.PullRequests(Owner, name) {
			pp := pagePR{PullRequest: p}
			for _, c := range s.gh.Comments(Owner, name, p.Number) {
				pp.Comments = append(pp.Comments, pageComment{User: c.User, When: c.UpdatedAt.Format(time.DateTime), Body: c.Body})
			}
			pr.PRs = append(pr.PRs, pp)
		}
		data.Repos = append(data.Repos, pr)
	}
	d := s.emitter.recent()
	for i := len(d) - 1; i >= 0 && len(data.Deliveries) < 50; i-- {
		data.Deliveries = append(data.Deliveries, d[i])
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, data); err != nil {
		s.log.Error("bot dev: page", "err", err)
	}
}
