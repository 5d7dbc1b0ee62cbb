package fluxfeedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/render/envtree"
)

// DefaultMaxBody bounds a request body. Flux events are a few hundred bytes; a failure
// message carrying a long kustomize error stays well under this.
const DefaultMaxBody = 1 << 20

// ErrConfig is returned by New for an unusable Config.
var ErrConfig = errors.New("invalid flux feedback configuration")

// Config says how to check requests and where deployments live.
type Config struct {
	// Secret is the `token` of the Secret the Provider's spec.secretRef names. Required.
	Secret []byte
	// Provenance finds the app commit at an env-repo revision. Required.
	Provenance Provenance
	// Forge reports to GitHub. Required unless ClientFor is set.
	Forge *forge.Client
	// ClientFor, when set, returns the client to use for a repo (a GitHub App installation's);
	// default: Forge.
	ClientFor func(ctx context.Context, repo forge.Repo) (*forge.Client, error)
	// Env, when set, is the environment of every event (one endpoint per cluster). Otherwise
	// the environment comes from the request path's {env} wildcard (mount the handler at
	// "POST /hooks/flux/{env}"), or from the event metadata key "env" (an Alert's
	// spec.eventMetadata).
	Env string
	// MaxBody bounds a request body (default DefaultMaxBody).
	MaxBody int64
	Logger  *slog.Logger
}

// Handler is the http.Handler a generic-hmac Provider posts to.
type Handler struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if len(cfg.Secret) == 0 {
		return nil, fmt.Errorf("%w: Secret is empty: set it to the token of the Provider's secretRef", ErrConfig)
	}
	if cfg.Provenance == nil {
		return nil, fmt.Errorf("%w: Provenance is nil", ErrConfig)
	}
	if cfg.Forge == nil && cfg.ClientFor == nil {
		return nil, fmt.Errorf("%w: neither Forge nor ClientFor is set", ErrConfig)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg, log: cfg.Logger.With("component", "fluxfeedback")}, nil
}

// Result is the JSON answer to a handled event.
type Result struct {
	// Action is "reported", "unchanged" (the deployment already has that state) or
	// "ignored".
	Action       string `json:"action"`
	Why          string `json:"why,omitempty"`
	Env          string `json:"env,omitempty"`
	App          string `json:"app,omitempty"`
	Repo         string `json:"repo,omitempty"`
	Commit       string `json:"commit,omitempty"`
	DeploymentID int64  `json:"deployment_id,omitempty"`
	State        string `json:"state,omitempty"`
}

// ServeHTTP checks the signature over the raw body, then maps the event to a deployment
// status. 401: unsigned or forged; 400: not a Flux event or no environment; 413: too big;
// 502: the env repo or GitHub could not be read or written (notification-controller
// retries); 200 with a Result otherwise, including for events that say nothing to report.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a Flux event", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, fmt.Sprintf("body larger than %d bytes", h.cfg.MaxBody), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := Verify(h.cfg.Secret, body, r.Header.Get("X-Signature")); err != nil {
		h.log.Warn("flux event refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.InvolvedObject.Kind == "" {
		http.Error(w, "body is not a Flux event (JSON with involvedObject.kind)", http.StatusBadRequest)
		return
	}
	env := h.cfg.Env
	if env == "" {
		env = r.PathValue("env")
	}
	if env == "" {
		env = ev.Metadata["env"]
	}
	if env == "" {
		http.Error(w, "no environment: mount the endpoint at /hooks/flux/{env}, or set env in the Alert's spec.eventMetadata", http.StatusBadRequest)
		return
	}
	res, status, err := h.handle(r.Context(), env, &ev)
	if err != nil {
		h.log.Error("flux event not reported", "env", env, "kustomization", ev.InvolvedObject.Name, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

// handle maps one verified event; the int is the HTTP status for an error.
func (h *Handler) handle(ctx context.Context, env string, ev *Event) (Result, int, error) {
	app := ev.InvolvedObject.Name
	res := Result{Action: "ignored", Env: env, App: app}
	switch {
	case ev.InvolvedObject.Kind != "Kustomization":
		res.Why = "not a Kustomization"
		return res, 0, nil
	case ev.InvolvedObject.Namespace != "" && ev.InvolvedObject.Namespace != envtree.FluxNamespace:
		res.Why = "not in namespace " + envtree.FluxNamespace
		return res, 0, nil
	case app == envtree.SharedKustomization || app == envtree.FluxNamespace:
		res.Why = "not an app's Kustomization"
		return res, 0, nil
	}
	state := ev.Outcome()
	if state == "" {
		res.Why = "reason " + ev.Reason + " is not final"
		return res, 0, nil
	}
	rev, ok := ev.Revision()
	if !ok {
		res.Why = "no revision in the event metadata"
		return res, 0, nil
	}
	src, err := h.cfg.Provenance.Source(ctx, env, app, rev)
	if errors.Is(err, ErrNoProvenance) {
		res.Why = err.Error()
		return res, 0, nil
	}
	if err != nil {
		return res, http.StatusBadGateway, err
	}
	res.Repo, res.Commit = src.Repo, src.Commit
	repo, err := forge.ParseRepo(src.Repo)
	if err != nil {
		res.Why = err.Error()
		return res, 0, nil
	}
	c := h.cfg.Forge
	if h.cfg.ClientFor != nil {
		if c, err = h.cfg.ClientFor(ctx, repo); err != nil {
			return res, http.StatusBadGateway, fmt.Errorf("GitHub client for %s: %w", repo, err)
		}
	}
	gh := c.GitHub()
	deps, _, err := gh.Repositories.ListDeployments(ctx, repo.Owner, repo.Name,
		&github.DeploymentsListOptions{SHA: src.Commit, Environment: env, ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil {
		return res, http.StatusBadGateway, fmt.Errorf("list deployments of %s@%s in %s: %w", repo, src.Commit, env, err)
	}
	if len(deps) == 0 {
		res.Why = "GitHub has no deployment of this commit to this environment"
		return res, 0, nil
	}
	id := deps[0].GetID() // newest first
	res.DeploymentID, res.State = id, state
	last, _, err := gh.Repositories.ListDeploymentStatuses(ctx, repo.Owner, repo.Name, id, &github.ListOptions{PerPage: 1})
	if err != nil {
		return res, http.StatusBadGateway, fmt.Errorf("deployment %d of %s: statuses: %w", id, repo, err)
	}
	desc := description(ev, state)
	if len(last) > 0 && last[0].GetState() == state && last[0].GetDescription() == forgeCut(desc) {
		res.Action = "unchanged"
		return res, 0, nil
	}
	if err := c.SetDeploymentStatus(ctx, repo, id, forge.DeploymentStatus{State: state, Description: desc}); err != nil {
		return res, http.StatusBadGateway, fmt.Errorf("deployment %d of %s: set %s: %w", id, repo, state, err)
	}
	res.Action = "reported"
	h.log.Info("flux feedback reported", "env", env, "app", app, "repo", src.Repo, "commit", src.Commit,
		"env_commit", rev, "deployment", id, "state", state)
	return res, 0, nil
}

// description is the status text: Flux's own message on failure (the most specific part,
// at the end, is kept when cut), a short line on success.
func description(ev *Event, state string) string {
	msg := strings.Join(strings.Fields(ev.Message), " ")
	if state == "success" {
		return "Flux: Ready"
	}
	if msg == "" {
		msg = ev.Reason
	}
	s := "Flux " + ev.Reason + ": " + msg
	return forgeCut(s)
}

// forgeCut cuts s to GitHub's 140 characters, keeping the end.
func forgeCut(s string) string {
	r := []rune(s)
	if len(r) <= 140 {
		return s
	}
	return "…" + string(r[len(r)-139:])
}
