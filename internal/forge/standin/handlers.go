package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// MaxCommentLen is GitHub's limit on a comment body, in characters.
const MaxCommentLen = 65536

const docsURL = "https://docs.github.com/rest"

// maxRequestLog bounds the request log Requests returns.
const maxRequestLog = 10000

func (s *Server) routes() {
	m := http.NewServeMux()
	h := func(pattern string, f func(*call)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, f) })
	}
	const repo = "/api/v3/repos/{owner}/{repo}"
	h("POST "+repo+"/statuses/{sha}", s.createStatus)
	h("GET "+repo+"/commits/{ref}/statuses", s.listStatuses)
	h("GET "+repo+"/commits/{ref}/status", s.combinedStatus)
	h("POST "+repo+"/check-runs", s.createCheckRun)
	h("PATCH "+repo+"/check-runs/{id}", s.updateCheckRun)
	h("GET "+repo+"/check-runs/{id}", s.getCheckRun)
	h("GET "+repo+"/commits/{ref}/check-runs", s.listCheckRuns)
	h("POST "+repo+"/deployments", s.createDeployment)
	h("GET "+repo+"/deployments", s.listDeployments)
	h("GET "+repo+"/deployments/{id}", s.getDeployment)
	h("POST "+repo+"/deployments/{id}/statuses", s.createDeploymentStatus)
	h("GET "+repo+"/deployments/{id}/statuses", s.listDeploymentStatuses)
	h("GET "+repo+"/issues/{a}/{b}", s.getIssueThing) // issues/{number}/comments or issues/comments/{id}
	h("POST "+repo+"/issues/{number}/comments", s.createComment)
	h("PATCH "+repo+"/issues/comments/{id}", s.editComment)
	h("POST "+repo+"/issues/comments/{id}/reactions", s.createReaction)
	h("GET "+repo+"/issues/comments/{id}/reactions", s.listReactions)
	h("GET "+repo+"/commits/{ref}/comments", s.listCommitComments)
	h("POST "+repo+"/commits/{ref}/comments", s.createCommitComment)
	h("GET "+repo+"/comments/{id}", s.getCommitComment)
	h("PATCH "+repo+"/comments/{id}", s.editCommitComment)
	h("POST "+repo+"/comments/{id}/reactions", s.createCommitCommentReaction)
	h("GET "+repo+"/comments/{id}/reactions", s.listCommitCommentReactions)
	h("POST "+repo+"/pulls", s.createPR)
	h("GET "+repo+"/pulls", s.listPRs)
	h("GET "+repo+"/pulls/{number}", s.getPR)
	h("PATCH "+repo+"/pulls/{number}", s.updatePR)
	h("PUT "+repo+"/pulls/{number}/merge", s.mergePR)
	h("GET "+repo+"/collaborators/{user}/permission", s.getPermission)
	h("POST /api/v3/app/installations/{id}/access_tokens", s.createInstallationToken)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c := &call{w: w}
		c.json(http.StatusNotFound, obj{"message": "Not Found", "documentation_url": docsURL, "status": "404"})
		c.write()
	})
	s.mux = m
}

// ServeHTTP answers the GitHub REST API under /api/v3/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// call is one request being answered, under the server's lock.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	u      urls
	user   string
	owner  string
	repo   string
	st     *repoState
	status int
	body   []byte // the answer, written once the call's webhooks are out
	events []pendingEvent
}

// json records the answer; serve writes it after emitting the call's webhooks, so a client
// that sees the answer can count on GitHub's webhooks having been sent (as a go-github client
// may return as soon as it has decoded the body).
func (c *call) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Server Error"}`)
	}
	c.status, c.body = status, b
}

func (c *call) fail(status int, message string, errs ...obj) {
	body := obj{"message": message, "documentation_url": docsURL, "status": strconv.Itoa(status)}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	c.json(status, body)
}

func (c *call) invalid(resource, field, message string) {
	c.fail(http.StatusUnprocessableEntity, "Validation Failed", obj{"resource": resource, "field": field, "code": "custom", "message": message})
}

// write sends the recorded answer.
func (c *call) write() {
	if c.status == 0 {
		return
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(c.status)
	_, _ = c.w.Write(c.body)
}

func (s *Server) root(r *http.Request) string {
	if s.URL != "" {
		return strings.TrimRight(s.URL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, f func(*call)) {
	s.mu.Lock()
	c := &call{w: w, r: r, u: urls{root: s.root(r)}, owner: r.PathValue("owner"), repo: r.PathValue("repo")}
	defer func() {
		if len(s.log2) >= maxRequestLog { // bounded: `bot dev` runs for hours
			s.log2 = append(s.log2[:0], s.log2[len(s.log2)-maxRequestLog/2:]...)
		}
		s.log2 = append(s.log2, Request{Method: r.Method, Path: r.URL.Path, User: c.user, Status: c.status})
		s.mu.Unlock()
		s.emit(c.events)
		c.write()
	}()
	if len(s.faults) > 0 {
		ft := s.faults[0]
		s.faults = s.faults[1:]
		if ft.retryAfter != "" {
			w.Header().Set("Retry-After", ft.retryAfter)
		}
		msg := "Server Error"
		if ft.status == http.StatusForbidden || ft.status == http.StatusTooManyRequests {
			msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
		}
		body := obj{"message": msg, "documentation_url": docsURL, "status": strconv.Itoa(ft.status)}
		if ft.status == http.StatusForbidden || ft.status == http.StatusTooManyRequests {
			body["documentation_url"] = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		}
		c.json(ft.status, body)
		return
	}
	user, ok := s.authenticate(r)
	if !ok {
		c.fail(http.StatusUnauthorized, "Bad credentials")
		return
	}
	c.user = user
	if c.owner != "" {
		c.st = s.repo(c.owner, c.repo)
	}
	f(c)
	if c.status >= 200 && c.status < 300 && r.Method != http.MethodGet {
		if err := s.saveLocked(); err != nil {
			s.log.Error("github stand-in: save state", "err", err)
		}
	}
}

// authenticate maps the request's token to a login. Callers hold s.mu.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	tok := strings.TrimSpace(auth[strings.IndexByte(auth, ' ')+1:])
	if auth == "" {
		tok = ""
	}
	if login, ok := s.st.Tokens[tok]; ok {
		return login, true
	}
	if login, ok := strings.CutPrefix(tok, "as:"); ok && login != "" {
		return login, true
	}
	if strings.HasSuffix(r.URL.Path, "/access_tokens") {
		return "", true // checked by the handler: a JWT, not a token
	}
	if s.opts.RequireAuth {
		return "", false
	}
	return DefaultBot, true
}

func decode(c *call, v any) bool {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 4<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

func (c *call) intParam(name string) (int64, bool) {
	n, err := strconv.ParseInt(c.r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		c.fail(http.StatusNotFound, "Not Found")
		return 0, false
	}
	return n, true
}

// page answers a list with GitHub's pagination (page, per_page ≤ 100, Link header).
func page[T any](c *call, items []T, render func(T) obj) {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	n, _ := strconv.Atoi(q.Get("page"))
	n = max(n, 1)
	last := max((len(items)+per-1)/per, 1)
	lo, hi := min((n-1)*per, len(items)), min(n*per, len(items))
	out := make([]obj, 0, hi-lo)
	for _, it := range items[lo:hi] {
		out = append(out, render(it))
	}
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", c.u.root, c.r.URL.Path, q.Encode(), rel)
	}
	var links []string
	if n < last {
		links = append(links, link(n+1, "next"), link(last, "last"))
	}
	if n > 1 {
		links = append(links, link(1, "first"), link(n-1, "prev"))
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	c.json(http.StatusOK, out)
}

func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

// ---- statuses ----

var statusStates = map[string]bool{"error": true, "failure": true, "pending": true, "success": true}

func (s *Server) createStatus(c *call) {
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if !decode(c, &in) {
		return
	}
	if !statusStates[in.State] {
		c.invalid("Status", "state", "state must be one of error, failure, pending, success")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	now := s.now()
	st := &Status{ID: s.nextID(), SHA: c.r.PathValue("sha"), State: in.State, Context: in.Context,
		Description: in.Description, TargetURL: in.TargetURL, Creator: c.user, CreatedAt: now, UpdatedAt: now}
	c.st.Statuses = append(c.st.Statuses, st)
	c.json(http.StatusCreated, s.statusJSON(c.u, c.owner, c.repo, st))
}

func (s *Server) statusesFor(c *call, ref string) []*Status {
	var out []*Status
	for i := len(c.st.Statuses) - 1; i >= 0; i-- { // newest first, like GitHub
		if st := c.st.Statuses[i]; st.SHA == ref {
			out = append(out, st)
		}
	}
	return out
}

func (s *Server) listStatuses(c *call) {
	page(c, s.statusesFor(c, c.r.PathValue("ref")), func(st *Status) obj { return s.statusJSON(c.u, c.owner, c.repo, st) })
}

func (s *Server) combinedStatus(c *call) {
	ref := c.r.PathValue("ref")
	seen := map[string]bool{}
	var latest []obj
	state := "success"
	var list []*Status
	for _, st := range s.statusesFor(c, ref) {
		if !seen[st.Context] {
			seen[st.Context] = true
			list = append(list, st)
		}
	}
	for _, st := range list {
		latest = append(latest, s.statusJSON(c.u, c.owner, c.repo, st))
		switch {
		case st.State == "failure" || st.State == "error":
			state = "failure"
		case st.State == "pending" && state != "failure":
			state = "pending"
		}
	}
	if len(list) == 0 {
		state, latest = "pending", []obj{}
	}
	c.json(http.StatusOK, obj{"state": state, "sha": ref, "total_count": len(list), "statuses": latest,
		"repository": s.repoJSON(c.u, c.owner, c.repo), "commit_url": c.u.api("/repos/%s/%s/commits/%s", c.owner, c.repo, ref),
		"url": c.u.api("/repos/%s/%s/commits/%s/status", c.owner, c.repo, ref)})
}

// ---- check runs ----

type checkRunIn struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title   string `json:"title"`
		Summary string `json:"summary"`
		Text    string `json:"text"`
	} `json:"output"`
}

func (s *Server) applyCheckRun(c *call, cr *CheckRun, in checkRunIn) bool {
	if in.Name != nil {
		cr.Name = *in.Name
	}
	if in.Status != nil {
		cr.Status = *in.Status
	}
	if in.Conclusion != nil {
		cr.Conclusion = *in.Conclusion
		cr.Status = "completed"
	}
	if in.DetailsURL != nil {
		cr.DetailsURL = *in.DetailsURL
	}
	if in.ExternalID != nil {
		cr.ExternalID = *in.ExternalID
	}
	if o := in.Output; o != nil {
		if len([]rune(o.Summary)) > 65535 || len([]rune(o.Text)) > 65535 {
			c.invalid("CheckRun", "output", "Only 65535 characters are allowed in summary and text")
			return false
		}
		cr.Title, cr.Summary, cr.Text = o.Title, o.Summary, o.Text
	}
	if cr.Status == "completed" {
		if cr.Conclusion == "" {
			c.invalid("CheckRun", "conclusion", "conclusion is required when status is completed")
			return false
		}
		now := s.now()
		cr.CompletedAt = &now
	}
	return true
}

func (s *Server) createCheckRun(c *call) {
	var in checkRunIn
	if !decode(c, &in) {
		return
	}
	if in.Name == nil || *in.Name == "" || in.HeadSHA == "" {
		c.invalid("CheckRun", "name", "name and head_sha are required")
		return
	}
	cr := &CheckRun{ID: s.nextID(), HeadSHA: in.HeadSHA, Status: "queued", StartedAt: s.now()}
	if !s.applyCheckRun(c, cr, in) {
		return
	}
	c.st.CheckRuns = append(c.st.CheckRuns, cr)
	c.json(http.StatusCreated, s.checkRunJSON(c.u, c.owner, c.repo, cr))
}

func (s *Server) findCheckRun(c *call) *CheckRun {
	id, ok := c.intParam("id")
	if !ok {
		return nil
	}
	for _, cr := range c.st.CheckRuns {
		if cr.ID == id {
			return cr
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) updateCheckRun(c *call) {
	cr := s.findCheckRun(c)
	if cr == nil {
		return
	}
	var in checkRunIn
	if !decode(c, &in) {
		return
	}
	next := *cr
	if !s.applyCheckRun(c, &next, in) {
		return
	}
	*cr = next
	c.json(http.StatusOK, s.checkRunJSON(c.u, c.owner, c.repo, cr))
}

func (s *Server) getCheckRun(c *call) {
	if cr := s.findCheckRun(c); cr != nil {
		c.json(http.StatusOK, s.checkRunJSON(c.u, c.owner, c.repo, cr))
	}
}

func (s *Server) listCheckRuns(c *call) {
	ref := c.r.PathValue("ref")
	runs := []obj{}
	for _, cr := range c.st.CheckRuns {
		if cr.HeadSHA == ref {
			runs = append(runs, s.checkRunJSON(c.u, c.owner, c.repo, cr))
		}
	}
	c.json(http.StatusOK, obj{"total_count": len(runs), "check_runs": runs})
}

// ---- deployments ----

func (s *Server) createDeployment(c *call) {
	var in struct {
		Ref                   string          `json:"ref"`
		Task                  string          `json:"task"`
		Payload               json.RawMessage `json:"payload"`
		Environment           string          `json:"environment"`
		Description           *string         `json:"description"`
		TransientEnvironment  bool            `json:"transient_environment"`
		ProductionEnvironment *bool           `json:"production_environment"`
	}
	if !decode(c, &in) {
		return
	}
	if in.Ref == "" {
		c.invalid("Deployment", "ref", "ref is required")
		return
	}
	if in.Task == "" {
		in.Task = "deploy"
	}
	if in.Environment == "" {
		in.Environment = "production"
	}
	sha := in.Ref
	if s.HeadOf != nil && len(in.Ref) != 40 {
		if h, err := s.HeadOf(c.owner, c.repo, in.Ref); err == nil {
			sha = h
		}
	}
	if len(in.Payload) > 0 && in.Payload[0] == '"' { // a JSON string holding JSON
		var str string
		if json.Unmarshal(in.Payload, &str) == nil {
			in.Payload = json.RawMessage(str)
		}
	}
	now := s.now()
	d := &Deployment{ID: s.nextID(), SHA: sha, Ref: in.Ref, Task: in.Task, Environment: in.Environment,
		Payload: in.Payload, Transient: in.TransientEnvironment, Production: in.Environment == "production",
		Creator: c.user, CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		d.Description = *in.Description
	}
	if in.ProductionEnvironment != nil {
		d.Production = *in.ProductionEnvironment
	}
	c.st.Deployments = append(c.st.Deployments, d)
	c.json(http.StatusCreated, s.deploymentJSON(c.u, c.owner, c.repo, d))
}

func (s *Server) listDeployments(c *call) {
	q := c.r.URL.Query()
	var list []*Deployment
	for i := len(c.st.Deployments) - 1; i >= 0; i-- {
		d := c.st.Deployments[i]
		if (q.Get("sha") == "" || q.Get("sha") == d.SHA) && (q.Get("ref") == "" || q.Get("ref") == d.Ref) &&
			(q.Get("environment") == "" || q.Get("environment") == d.Environment) && (q.Get("task") == "" || q.Get("task") == d.Task) {
			list = append(list, d)
		}
	}
	page(c, list, func(d *Deployment) obj { return s.deploymentJSON(c.u, c.owner, c.repo, d) })
}

func (s *Server) findDeployment(c *call) *Deployment {
	id, ok := c.intParam("id")
	if !ok {
		return nil
	}
	for _, d := range c.st.Deployments {
		if d.ID == id {
			return d
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) getDeployment(c *call) {
	if d := s.findDeployment(c); d != nil {
		c.json(http.StatusOK, s.deploymentJSON(c.u, c.owner, c.repo, d))
	}
}

var deploymentStates = map[string]bool{"error": true, "failure": true, "inactive": true, "in_progress": true, "queued": true, "pending": true, "success": true}

func (s *Server) createDeploymentStatus(c *call) {
	d := s.findDeployment(c)
	if d == nil {
		return
	}
	var in struct {
		State          string `json:"state"`
		TargetURL      string `json:"target_url"`
		LogURL         string `json:"log_url"`
		Description    string `json:"description"`
		EnvironmentURL string `json:"environment_url"`
	}
	if !decode(c, &in) {
		return
	}
	if !deploymentStates[in.State] {
		c.invalid("DeploymentStatus", "state", "state must be one of error, failure, inactive, in_progress, queued, pending, success")
		return
	}
	if in.LogURL == "" {
		in.LogURL = in.TargetURL
	}
	now := s.now()
	ds := DeploymentStatus{ID: s.nextID(), State: in.State, Description: in.Description, EnvironmentURL: in.EnvironmentURL,
		LogURL: in.LogURL, Creator: c.user, CreatedAt: now, UpdatedAt: now}
	d.Statuses = append(d.Statuses, ds)
	d.UpdatedAt = now
	c.json(http.StatusCreated, s.deploymentStatusJSON(c.u, c.owner, c.repo, d, ds))
}

func (s *Server) listDeploymentStatuses(c *call) {
	d := s.findDeployment(c)
	if d == nil {
		return
	}
	var list []DeploymentStatus
	for i := len(d.Statuses) - 1; i >= 0; i-- {
		list = append(list, d.Statuses[i])
	}
	page(c, list, func(ds DeploymentStatus) obj { return s.deploymentStatusJSON(c.u, c.owner, c.repo, d, ds) })
}

// ---- comments and reactions ----

// getIssueThing splits the two GET paths net/http cannot tell apart by pattern.
func (s *Server) getIssueThing(c *call) {
	a, b := c.r.PathValue("a"), c.r.PathValue("b")
	switch {
	case a == "comments":
		c.r.SetPathValue("id", b)
		s.getComment(c)
	case b == "comments":
		c.r.SetPathValue("number", a)
		s.listComments(c)
	default:
		c.fail(http.StatusNotFound, "Not Found")
	}
}

func (s *Server) listComments(c *call) {
	n, ok := c.intParam("number")
	if !ok {
		return
	}
	var list []*Comment
	for _, cm := range c.st.Comments {
		if cm.Issue == int(n) {
			list = append(list, cm)
		}
	}
	page(c, list, func(cm *Comment) obj { return s.commentJSON(c.u, c.owner, c.repo, cm) })
}

func commentBody(c *call) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if !decode(c, &in) {
		return "", false
	}
	if in.Body == nil || *in.Body == "" {
		c.invalid("IssueComment", "body", "body is missing")
		return "", false
	}
	if len([]rune(*in.Body)) > MaxCommentLen {
		c.invalid("IssueComment", "body", fmt.Sprintf("Body is too long (maximum is %d characters)", MaxCommentLen))
		return "", false
	}
	return *in.Body, true
}

func (s *Server) createComment(c *call) {
	n, ok := c.intParam("number")
	if !ok {
		return
	}
	body, ok := commentBody(c)
	if !ok {
		return
	}
	now := s.now()
	cm := &Comment{ID: s.nextID(), Issue: int(n), Body: body, User: c.user, CreatedAt: now, UpdatedAt: now}
	c.st.Comments = append(c.st.Comments, cm)
	c.events = append(c.events, s.commentEventLocked(c.u, c.owner, c.repo, "created", cm, nil))
	c.json(http.StatusCreated, s.commentJSON(c.u, c.owner, c.repo, cm))
}

func (s *Server) findComment(c *call) *Comment { return findByID(c, c.st.Comments) }

// findByID returns the comment of list whose id the request's path names, or answers 404.
func findByID(c *call, list []*Comment) *Comment {
	id, ok := c.intParam("id")
	if !ok {
		return nil
	}
	for _, cm := range list {
		if cm.ID == id {
			return cm
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) getComment(c *call) {
	if cm := s.findComment(c); cm != nil {
		c.json(http.StatusOK, s.commentJSON(c.u, c.owner, c.repo, cm))
	}
}

func (s *Server) editComment(c *call) {
	cm := s.findComment(c)
	if cm == nil {
		return
	}
	body, ok := commentBody(c)
	if !ok {
		return
	}
	old := cm.Body
	cm.Body, cm.UpdatedAt = body, s.now()
	c.events = append(c.events, s.commentEventLocked(c.u, c.owner, c.repo, "edited", cm, obj{"body": obj{"from": old}}))
	c.json(http.StatusOK, s.commentJSON(c.u, c.owner, c.repo, cm))
}

var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

func (s *Server) createReaction(c *call) {
	if cm := s.findComment(c); cm != nil {
		s.react(c, cm)
	}
}

// react adds the request's reaction to cm (an issue or a commit comment).
func (s *Server) react(c *call, cm *Comment) {
	var in struct {
		Content string `json:"content"`
	}
	if !decode(c, &in) {
		return
	}
	if !reactionContents[in.Content] {
		c.invalid("Reaction", "content", "content must be one of +1, -1, laugh, confused, heart, hooray, rocket, eyes")
		return
	}
	for _, r := range cm.Reactions {
		if r.User == c.user && r.Content == in.Content {
			c.json(http.StatusOK, s.reactionJSON(c.u, r)) // GitHub answers 200 for an existing reaction
			return
		}
	}
	r := Reaction{ID: s.nextID(), Content: in.Content, User: c.user, CreatedAt: s.now()}
	cm.Reactions = append(cm.Reactions, r)
	c.json(http.StatusCreated, s.reactionJSON(c.u, r))
}

func (s *Server) listReactions(c *call) {
	if cm := s.findComment(c); cm != nil {
		page(c, cm.Reactions, func(r Reaction) obj { return s.reactionJSON(c.u, r) })
	}
}

// ---- commit comments ----
// Another kind of comment than an issue's: its own endpoints, and webhook commit_comment
// (action created only; GitHub sends none for edits). Comments may be posted on any sha (GitHub
// would need the commit to exist).

func (s *Server) listCommitComments(c *call) {
	sha := c.r.PathValue("ref")
	var list []*Comment
	for _, cm := range c.st.CommitComments {
		if cm.CommitID == sha {
			list = append(list, cm)
		}
	}
	page(c, list, func(cm *Comment) obj { return s.commitCommentJSON(c.u, c.owner, c.repo, cm) })
}

func (s *Server) createCommitComment(c *call) {
	sha := c.r.PathValue("ref")
	if !isSHA(sha) {
		c.invalid("CommitComment", "commit_id", "commit_id must be a 40-character commit sha")
		return
	}
	body, ok := commentBody(c)
	if !ok {
		return
	}
	now := s.now()
	cm := &Comment{ID: s.nextID(), CommitID: sha, Body: body, User: c.user, CreatedAt: now, UpdatedAt: now}
	c.st.CommitComments = append(c.st.CommitComments, cm)
	c.events = append(c.events, s.commitCommentEventLocked(c.u, c.owner, c.repo, cm))
	c.json(http.StatusCreated, s.commitCommentJSON(c.u, c.owner, c.repo, cm))
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func (s *Server) findCommitComment(c *call) *Comment { return findByID(c, c.st.CommitComments) }

func (s *Server) getCommitComment(c *call) {
	if cm := s.findCommitComment(c); cm != nil {
		c.json(http.StatusOK, s.commitCommentJSON(c.u, c.owner, c.repo, cm))
	}
}

func (s *Server) editCommitComment(c *call) {
	cm := s.findCommitComment(c)
	if cm == nil {
		return
	}
	body, ok := commentBody(c)
	if !ok {
		return
	}
	cm.Body, cm.UpdatedAt = body, s.now()
	c.json(http.StatusOK, s.commitCommentJSON(c.u, c.owner, c.repo, cm))
}

func (s *Server) createCommitCommentReaction(c *call) {
	if cm := s.findCommitComment(c); cm != nil {
		s.react(c, cm)
	}
}

func (s *Server) listCommitCommentReactions(c *call) {
	if cm := s.findCommitComment(c); cm != nil {
		page(c, cm.Reactions, func(r Reaction) obj { return s.reactionJSON(c.u, r) })
	}
}

// ---- pull requests ----

func (s *Server) createPR(c *call) {
	var in struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if !decode(c, &in) {
		return
	}
	if _, branch, ok := strings.Cut(in.Head, ":"); ok {
		in.Head = branch
	}
	if in.Title == "" || in.Head == "" || in.Base == "" {
		c.invalid("PullRequest", "title", "title, head and base are required")
		return
	}
	for _, p := range c.st.PullRequests {
		if p.State == "open" && p.Head == in.Head && p.Base == in.Base {
			c.invalid("PullRequest", "head", fmt.Sprintf("A pull request already exists for %s:%s.", c.owner, in.Head))
			return
		}
	}
	var headSHA, baseSHA string
	if s.HeadOf != nil {
		// GitHub answers 422 for a branch that does not exist (push before opening).
		resolve := func(field, branch string) (string, bool) {
			sha, err := s.HeadOf(c.owner, c.repo, branch)
			if err == nil && sha == "" {
				err = errors.New("no such branch: push it first")
			}
			if err != nil {
				c.invalid("PullRequest", field, fmt.Sprintf("%s branch %q: %v", field, branch, err))
				return "", false
			}
			return sha, true
		}
		var ok bool
		if headSHA, ok = resolve("head", in.Head); !ok {
			return
		}
		if baseSHA, ok = resolve("base", in.Base); !ok {
			return
		}
	}
	now := s.now()
	p := &PullRequest{Owner: c.owner, Repo: c.repo, ID: s.nextID(), Number: c.st.NextNumber, Title: in.Title, Body: in.Body,
		Head: in.Head, Base: in.Base, HeadSHA: headSHA, BaseSHA: baseSHA, State: "open", Draft: in.Draft,
		User: c.user, CreatedAt: now, UpdatedAt: now}
	c.st.NextNumber++
	c.st.PullRequests = append(c.st.PullRequests, p)
	c.events = append(c.events, s.prEventLocked(c.u.root, "opened", p, c.user, nil))
	c.json(http.StatusCreated, s.prJSON(c.u, p))
}

func (s *Server) listPRs(c *call) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	head := q.Get("head")
	if _, b, ok := strings.Cut(head, ":"); ok {
		head = b
	}
	var list []*PullRequest
	for i := len(c.st.PullRequests) - 1; i >= 0; i-- { // newest first
		p := c.st.PullRequests[i]
		if (state == "all" || p.State == state) && (head == "" || p.Head == head) && (q.Get("base") == "" || p.Base == q.Get("base")) {
			list = append(list, p)
		}
	}
	page(c, list, func(p *PullRequest) obj { return s.prJSON(c.u, p) })
}

func (s *Server) findPR(c *call) *PullRequest {
	n, ok := c.intParam("number")
	if !ok {
		return nil
	}
	if p := c.st.pr(int(n)); p != nil {
		return p
	}
	c.fail(http.StatusNotFound, "Not Found")
	return nil
}

func (s *Server) getPR(c *call) {
	if p := s.findPR(c); p != nil {
		c.json(http.StatusOK, s.prJSON(c.u, p))
	}
}

func (s *Server) updatePR(c *call) {
	p := s.findPR(c)
	if p == nil {
		return
	}
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !decode(c, &in) {
		return
	}
	now := s.now()
	action := ""
	changes := obj{}
	if in.Title != nil && *in.Title != p.Title {
		changes["title"] = obj{"from": p.Title}
		p.Title = *in.Title
	}
	if in.Body != nil && *in.Body != p.Body {
		changes["body"] = obj{"from": p.Body}
		p.Body = *in.Body
	}
	if in.Base != nil && *in.Base != p.Base {
		changes["base"] = obj{"ref": obj{"from": p.Base}, "sha": obj{"from": p.BaseSHA}}
		p.Base = *in.Base
	}
	if len(changes) > 0 {
		action = "edited"
	}
	if in.State != nil && *in.State != p.State {
		switch {
		case *in.State == "closed":
			p.State, p.ClosedAt, action = "closed", &now, "closed"
		case *in.State == "open" && !p.Merged:
			p.State, p.ClosedAt, action = "open", nil, "reopened"
		default:
			c.invalid("PullRequest", "state", "state must be open or closed; a merged pull request cannot be reopened")
			return
		}
	}
	p.UpdatedAt = now
	switch action {
	case "edited":
		c.events = append(c.events, s.prEventLocked(c.u.root, action, p, c.user, obj{"changes": changes}))
	case "":
	default:
		c.events = append(c.events, s.prEventLocked(c.u.root, action, p, c.user, nil))
	}
	c.json(http.StatusOK, s.prJSON(c.u, p))
}

func (s *Server) mergePR(c *call) {
	p := s.findPR(c)
	if p == nil {
		return
	}
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if c.r.ContentLength != 0 && !decode(c, &in) {
		return
	}
	if p.State != "open" {
		c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
		return
	}
	if in.SHA != "" && in.SHA != p.HeadSHA {
		c.fail(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
		return
	}
	msg := in.CommitTitle
	if msg == "" {
		msg = fmt.Sprintf("Merge pull request #%d from %s/%s", p.Number, c.owner, p.Head)
	}
	if in.CommitMessage != "" {
		msg += "\n\n" + in.CommitMessage
	}
	sha := fmt.Sprintf("%040x", p.ID) // synthetic when no git host is wired
	if s.Merge != nil {
		// The git host's push hook calls back into the stand-in (BranchPushed), so the
		// merge runs without the lock; the PR is checked again after it.
		var err error
		s.mu.Unlock()
		sha, err = s.Merge(c.owner, c.repo, p.Base, p.Head, msg)
		s.mu.Lock()
		if err == nil && p.State != "open" {
			c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
			return
		}
		if errors.Is(err, ErrMergeConflict) {
			c.fail(http.StatusMethodNotAllowed, "Merge conflict")
			return
		}
		if err != nil {
			s.log.Error("github stand-in: merge", "repo", c.owner+"/"+c.repo, "pr", p.Number, "err", err)
			c.fail(http.StatusInternalServerError, "Server Error")
			return
		}
	}
	now := s.now()
	p.State, p.Merged, p.MergeCommitSHA, p.MergedBy = "closed", true, sha, c.user
	p.MergedAt, p.ClosedAt, p.UpdatedAt, p.BaseSHA = &now, &now, now, sha
	c.events = append(c.events, s.prEventLocked(c.u.root, "closed", p, c.user, nil))
	c.json(http.StatusOK, obj{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

// ---- permissions and app tokens ----

func (s *Server) getPermission(c *call) {
	user := c.r.PathValue("user")
	role := s.permission(c.owner, c.repo, user)
	if role == "none" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	u := s.userJSON(c.u, user)
	u["role_name"] = role
	u["permissions"] = obj{"admin": role == "admin", "maintain": role == "admin" || role == "maintain",
		"push": role != "read" && role != "triage", "triage": role != "read", "pull": true}
	c.json(http.StatusOK, obj{"permission": roleToPermission[role], "role_name": role, "user": u})
}

func (s *Server) createInstallationToken(c *call) {
	id, ok := c.intParam("id")
	if !ok {
		return
	}
	if s.opts.AppKey == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	raw, found := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	claims := &jwt.RegisteredClaims{}
	// Signature and issuer only: expiry is checked by GitHub against its clock, and the
	// stand-in's clock may be a test's fake one.
	parser := jwt.Parser{ValidMethods: []string{"RS256"}, SkipClaimsValidation: true}
	_, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return s.opts.AppKey, nil })
	if !found || err != nil || claims.Issuer != strconv.FormatInt(s.opts.AppID, 10) {
		c.fail(http.StatusUnauthorized, "A JSON web token could not be decoded")
		return
	}
	tok := fmt.Sprintf("ghs_standin%d_%d", id, s.nextID())
	s.st.Tokens[tok] = s.opts.AppSlug + "[bot]"
	c.user = s.opts.AppSlug + "[bot]"
	c.json(http.StatusCreated, obj{"token": tok, "expires_at": ts(s.now().Add(time.Hour)),
		"permissions":          obj{"checks": "write", "statuses": "write", "deployments": "write", "pull_requests": "write", "issues": "write", "contents": "write", "metadata": "read"},
		"repository_selection": "all"})
}
