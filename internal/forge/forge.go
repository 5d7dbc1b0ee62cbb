// Package forge is Scorebot's GitHub edge: the client the pipeline uses to report back to
// GitHub (commit statuses, check runs, deployments, the sticky PR comment, answers on commits
// (commit comments), reactions, pull requests, permission checks, merges) and the credentials
// for git over HTTPS.
//
// It owns authentication (personal token or GitHub App installation tokens through
// ghinstallation), base URLs (github.com or GitHub Enterprise), and the retrying transport that
// honours GitHub's rate limits. It must not know about rendering, NATS or git objects: callers
// pass plain values in and get plain values back. The local stand-in of GitHub's REST API lives
// in the subpackage standin; ghspec checks traffic against GitHub's OpenAPI description.
package forge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/google/go-github/v60/github"
)

// Exported errors, for errors.Is.
var (
	ErrConfig      = errors.New("invalid GitHub configuration")
	ErrNotFound    = errors.New("not found on GitHub")
	ErrValidation  = errors.New("rejected by GitHub as invalid")
	ErrRateLimited = errors.New("GitHub rate limit")
	// ErrTransient marks failures worth retrying later: 5xx, rate limits, network errors.
	ErrTransient = errors.New("transient GitHub failure")
	// ErrNoInstallation is returned when a GitHub App client is used without an installation.
	ErrNoInstallation = errors.New("GitHub App client needs an installation id")
)

// Secret is a credential that never prints: not through fmt, not through slog.
type Secret string

// String hides the value.
func (Secret) String() string { return "[REDACTED]" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return `forge.Secret("[REDACTED]")` }

// LogValue hides the value from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Reveal returns the value; call it only where the credential is sent.
func (s Secret) Reveal() string { return string(s) }

// RedactedAttr is a slog attribute that records that a credential was set, never its value.
func RedactedAttr(key string, s Secret) slog.Attr {
	if s == "" {
		return slog.String(key, "")
	}
	return slog.String(key, "[REDACTED]")
}

// App is GitHub App authentication.
type App struct {
	ID             int64
	PrivateKeyFile string // PEM; or PrivateKey
	PrivateKey     Secret // PEM contents
	// InstallationID, when set, is the installation New's client acts as; when 0, use
	// Client.ForInstallation with the installation id from each event.
	InstallationID int64
}

// Config says how to reach GitHub and as whom. Exactly one of Token and App is set.
type Config struct {
	// BaseURL is the REST API root: empty for https://api.github.com/, or the GitHub
	// Enterprise form http(s)://host/api/v3/.
	BaseURL   string
	UploadURL string // default: BaseURL
	Token     Secret // personal access token (or any bearer token)
	App       *App
	UserAgent string
	Retry     RetryPolicy
	// Transport is the transport under the retry layer (default http.DefaultTransport).
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Client talks to one GitHub (github.com or an Enterprise host) as one identity.
type Client struct {
	gh      *github.Client
	cfg     Config
	retry   http.RoundTripper
	log     *slog.Logger
	token   func(ctx context.Context) (string, error)
	appKey  []byte
	apiRoot string // BaseURL without trailing slash, for ghinstallation

	mu            sync.Mutex
	installations map[int64]*Client
}

// New builds a client from cfg.
func New(cfg Config) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if (cfg.Token == "") == (cfg.App == nil) {
		return nil, fmt.Errorf("%w: set exactly one of token and app (github.token or github.app.*)", ErrConfig)
	}
	c := &Client{cfg: cfg, log: log, installations: map[int64]*Client{}}
	c.retry = NewRetryTransport(cfg.Transport, cfg.Retry, log)
	c.apiRoot = "https://api.github.com"
	if cfg.BaseURL != "" {
		c.apiRoot = strings.TrimRight(cfg.BaseURL, "/")
	}
	var hc *http.Client
	switch {
	case cfg.Token != "":
		tok := cfg.Token.Reveal()
		c.token = func(context.Context) (string, error) { return tok, nil }
		hc = &http.Client{Transport: c.retry}
	default:
		if cfg.App.ID == 0 {
			return nil, fmt.Errorf("%w: github.app.id is required: the App's numeric id from its settings page", ErrConfig)
		}
		key := []byte(cfg.App.PrivateKey.Reveal())
		if len(key) == 0 {
			if cfg.App.PrivateKeyFile == "" {
				return nil, fmt.Errorf("%w: github.app.private_key_file is required: the App's PEM private key", ErrConfig)
			}
			b, err := os.ReadFile(cfg.App.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("%w: github.app.private_key_file: %w", ErrConfig, err)
			}
			key = b
		}
		c.appKey = key
		if cfg.App.InstallationID == 0 {
			// Only the app itself: usable through ForInstallation.
			atr, err := ghinstallation.NewAppsTransport(c.retry, cfg.App.ID, key)
			if err != nil {
				return nil, fmt.Errorf("%w: github.app.private_key_file: %w", ErrConfig, err)
			}
			atr.BaseURL = c.apiRoot
			hc = &http.Client{Transport: atr}
			c.token = func(context.Context) (string, error) { return "", ErrNoInstallation }
			break
		}
		itr, err := c.installationTransport(cfg.App.InstallationID)
		if err != nil {
			return nil, err
		}
		c.token = itr.Token
		hc = &http.Client{Transport: itr}
	}
	gh, err := newGitHub(hc, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Token != "" {
		gh = gh.WithAuthToken(cfg.Token.Reveal())
	}
	c.gh = gh
	return c, nil
}

func newGitHub(hc *http.Client, cfg Config) (*github.Client, error) {
	gh := github.NewClient(hc)
	if cfg.UserAgent != "" {
		gh.UserAgent = cfg.UserAgent
	}
	if cfg.BaseURL == "" {
		return gh, nil
	}
	upload := cfg.UploadURL
	if upload == "" {
		upload = cfg.BaseURL
	}
	gh, err := gh.WithEnterpriseURLs(cfg.BaseURL, upload)
	if err != nil {
		return nil, fmt.Errorf("%w: github.base_url %q: %w", ErrConfig, cfg.BaseURL, err)
	}
	return gh, nil
}

func (c *Client) installationTransport(id int64) (*ghinstallation.Transport, error) {
	itr, err := ghinstallation.New(c.retry, c.cfg.App.ID, id, c.appKey)
	if err != nil {
		return nil, fmt.Errorf("%w: github.app.private_key_file: %w", ErrConfig, err)
	}
	itr.BaseURL = c.apiRoot
	return itr, nil
}

// ForInstallation returns a client acting as the GitHub App installation id (from the
// webhook's installation.id). Clients are cached per installation, so tokens are reused until
// they near expiry. With token auth it returns c itself.
func (c *Client) ForInstallation(id int64) (*Client, error) {
	if c.cfg.App == nil || id == 0 || id == c.cfg.App.InstallationID {
		return c, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ic, ok := c.installations[id]; ok {
		return ic, nil
	}
	itr, err := c.installationTransport(id)
	if err != nil {
		return nil, err
	}
	gh, err := newGitHub(&http.Client{Transport: itr}, c.cfg)
	if err != nil {
		return nil, err
	}
	ic := &Client{gh: gh, cfg: c.cfg, retry: c.retry, log: c.log, token: itr.Token, appKey: c.appKey,
		apiRoot: c.apiRoot, installations: map[int64]*Client{}}
	ic.cfg.App = &App{ID: c.cfg.App.ID, PrivateKeyFile: c.cfg.App.PrivateKeyFile, PrivateKey: c.cfg.App.PrivateKey, InstallationID: id}
	c.installations[id] = ic
	return ic, nil
}

// GitHub is the underlying go-github client, for the rare call this package does not wrap.
func (c *Client) GitHub() *github.Client { return c.gh }

// GitAuth returns go-git HTTP basic auth for clone, fetch and push over HTTPS with the same
// identity: user x-access-token and the token as password (go-git masks it when printed).
func (c *Client) GitAuth(ctx context.Context) (*githttp.BasicAuth, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("git credentials: %w", err)
	}
	return &githttp.BasicAuth{Username: "x-access-token", Password: tok}, nil
}
