// Package ghspec checks traffic against GitHub's own OpenAPI descriptions: REST requests and
// responses against the REST description, webhook payloads against the webhooks description.
//
// It is test support: tests of the forge client, of `bot dev` and of the pipeline use it to
// keep the local GitHub stand-in honest. It owns only the loading of the descriptions (read from
// the shared fixtures, never edited) and the validation; it must not be imported by production
// code paths.
package ghspec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Module is the Go module whose root FixturesDir looks for.
const Module = "github.com/scorebot/scorebot"

// ErrUnknownEvent is returned by ValidateWebhook for an event (and action) the webhooks
// description has no schema for.
var ErrUnknownEvent = errors.New("webhook event not in the webhooks description")

// FixturesDir finds the shared fixtures: `shared/fixtures` beside the module root, which is
// found by walking up from the working directory (a test's package directory) to the go.mod of
// Module.
func FixturesDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find fixtures: %w", err)
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			fx := filepath.Join(dir, "..", "shared", "fixtures")
			if _, err := os.Stat(fx); err != nil {
				return "", fmt.Errorf("find fixtures: module root %s has no ../shared/fixtures beside it: %w", dir, err)
			}
			return filepath.Clean(fx), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find fixtures: no go.mod of %s above the working directory", Module)
		}
		dir = parent
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == Module
		}
	}
	return false
}

// REST is GitHub's REST description with a router to find the operation of a request.
type REST struct {
	doc    *openapi3.T
	router routers.Router
}

// LoadREST loads the REST description (rest-api.github.com.json). It is large: load it once
// per test binary.
func LoadREST(path string) (*REST, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load REST description %s: %w", path, err)
	}
	// The router matches on the server URL; match paths only, whatever the host.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route REST description %s: %w", path, err)
	}
	return &REST{doc: doc, router: router}, nil
}

// Exchange is one request and its response as seen on the wire.
type Exchange struct {
	Method         string
	Path           string // as sent, with the GitHub Enterprise /api/v3 prefix or without
	RawQuery       string
	RequestHeader  http.Header
	RequestBody    []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
}

// Operation returns the operationId the exchange's request routes to.
func (r *REST) Operation(ex Exchange) (string, error) {
	route, _, _, err := r.route(ex)
	if err != nil {
		return "", err
	}
	return route.Operation.OperationID, nil
}

func (r *REST) route(ex Exchange) (*routers.Route, map[string]string, *http.Request, error) {
	p := strings.TrimPrefix(ex.Path, "/api/v3")
	u := "http://api.github.test" + p
	if ex.RawQuery != "" {
		u += "?" + ex.RawQuery
	}
	req, err := http.NewRequest(ex.Method, u, bytes.NewReader(ex.RequestBody))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s %s: %w", ex.Method, ex.Path, err)
	}
	req.Header = ex.RequestHeader.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	route, params, err := r.router.FindRoute(req)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s %s: no such operation in GitHub's REST description: %w", ex.Method, p, err)
	}
	return route, params, req, nil
}

// Validate checks the request against its operation's parameters and request body, and the
// response against the operation's documented response for its status code.
func (r *REST) Validate(ctx context.Context, ex Exchange) error {
	route, params, req, err := r.route(ex)
	if err != nil {
		return err
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("request %s %s (%s): %w", ex.Method, req.URL.Path, route.Operation.OperationID, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Status,
		Header:                 ex.ResponseHeader,
		Body:                   io.NopCloser(bytes.NewReader(ex.ResponseBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response %d to %s %s (%s): %w", ex.Status, ex.Method, req.URL.Path, route.Operation.OperationID, err)
	}
	return nil
}

// Webhooks is GitHub's webhooks description.
type Webhooks struct {
	doc *openapi3.T
}

// LoadWebhooks loads the webhooks description (webhooks-api.github.com.json, OpenAPI 3.1).
func LoadWebhooks(path string) (*Webhooks, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load webhooks description %s: %w", path, err)
	}
	return &Webhooks{doc: doc}, nil
}

// Key returns the name under `webhooks` that describes event (the X-GitHub-Event value) with
// the payload's action: `push` → "push", `pull_request` with action "opened" →
// "pull-request-opened".
func (w *Webhooks) Key(event string, body []byte) (string, error) {
	var head struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return "", fmt.Errorf("webhook %s: payload is not a JSON object: %w", event, err)
	}
	base := strings.ReplaceAll(event, "_", "-")
	candidates := []string{base}
	if head.Action != "" {
		candidates = []string{base + "-" + strings.ReplaceAll(head.Action, "_", "-"), base}
	}
	for _, k := range candidates {
		if _, ok := w.doc.Webhooks[k]; ok {
			return k, nil
		}
	}
	return "", fmt.Errorf("webhook %s action %q: %w", event, head.Action, ErrUnknownEvent)
}

// Validate checks a webhook payload against the schema of its event and action.
func (w *Webhooks) Validate(event string, body []byte) error {
	key, err := w.Key(event, body)
	if err != nil {
		return err
	}
	item := w.doc.Webhooks[key]
	if item.Post == nil || item.Post.RequestBody == nil || item.Post.RequestBody.Value == nil {
		return fmt.Errorf("webhook %s: description has no request body for %s", event, key)
	}
	mt := item.Post.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return fmt.Errorf("webhook %s: description has no JSON schema for %s", event, key)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("webhook %s: %w", event, err)
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("webhook %s (%s) does not match GitHub's schema: %w", event, key, err)
	}
	return nil
}

// defaultWebhooks caches the shared description for ValidateWebhook: loading it costs seconds,
// and a test binary validates many payloads.
type defaultWebhooks struct {
	once sync.Once
	w    *Webhooks
	err  error
}

var shared defaultWebhooks // test-support cache, set once; the only package-level state.

// ValidateWebhook validates a webhook payload against the webhooks description in the shared
// fixtures (loaded once per process).
func ValidateWebhook(event string, body []byte) error {
	shared.once.Do(func() {
		dir, err := FixturesDir()
		if err != nil {
			shared.err = err
			return
		}
		shared.w, shared.err = LoadWebhooks(filepath.Join(dir, "github-openapi", "webhooks-api.github.com.json"))
	})
	if shared.err != nil {
		return shared.err
	}
	return shared.w.Validate(event, body)
}
