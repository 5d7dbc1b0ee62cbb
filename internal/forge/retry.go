package forge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds the retries of the transport every Client uses. The zero value means the
// defaults below; Sleep, Now and Jitter are injectable so tests never wait for real.
type RetryPolicy struct {
	MaxAttempts int           // total tries per request, default 5
	BaseDelay   time.Duration // first backoff on 5xx and network errors, default 1s, doubled per try
	MaxDelay    time.Duration // cap of one computed backoff, default 30s
	// SecondaryWait is the wait after a secondary rate limit that names no time: GitHub asks
	// for at least a minute. Default 60s.
	SecondaryWait time.Duration
	// MaxWait is the longest single wait honoured; a limit that asks for longer is returned to
	// the caller as is (ErrRateLimited) so a worker can requeue instead of blocking. Default 2m.
	MaxWait time.Duration

	Sleep  func(ctx context.Context, d time.Duration) error // default: a timer that honours ctx
	Now    func() time.Time                                 // default time.Now
	Jitter func(d time.Duration) time.Duration              // default: uniform in [d/2, d)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.SecondaryWait <= 0 {
		p.SecondaryWait = time.Minute
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 2 * time.Minute
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Jitter == nil {
		p.Jitter = func(d time.Duration) time.Duration {
			if d <= 1 {
				return d
			}
			return d/2 + rand.N(d/2)
		}
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryTransport retries what GitHub asks to be retried: secondary and primary rate limits
// (403/429 with Retry-After, or X-RateLimit-Remaining 0 until X-RateLimit-Reset), 5xx and
// network errors, with bounded attempts and jittered exponential backoff.
type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	log    *slog.Logger
}

// NewRetryTransport wraps next (http.DefaultTransport when nil) with the retry policy.
func NewRetryTransport(next http.RoundTripper, p RetryPolicy, log *slog.Logger) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if log == nil {
		log = slog.Default()
	}
	return &retryTransport{next: next, policy: p.withDefaults(), log: log}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	body, err := replayableBody(req)
	if err != nil {
		return nil, err
	}
	backoff := t.policy.BaseDelay
	for attempt := 1; ; attempt++ {
		try := req.Clone(ctx)
		if body != nil {
			b, err := body()
			if err != nil {
				return nil, fmt.Errorf("replay request body: %w", err)
			}
			try.Body = b
		}
		resp, err := t.next.RoundTrip(try)
		wait, reason := t.decide(resp, err, backoff)
		if reason == "" || attempt >= t.policy.MaxAttempts || wait > t.policy.MaxWait || ctx.Err() != nil {
			return resp, err
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then drop the answer.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		t.log.LogAttrs(ctx, slog.LevelInfo, "github request retried",
			slog.String("method", req.Method), slog.String("path", req.URL.Path),
			slog.String("reason", reason), slog.Int("attempt", attempt), slog.Duration("wait", wait))
		if err := t.policy.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: waiting to retry (%s): %w", req.Method, req.URL.Path, reason, err)
		}
		backoff = min(backoff*2, t.policy.MaxDelay)
	}
}

// decide returns how long to wait before the next try and why, or reason "" for no retry.
func (t *retryTransport) decide(resp *http.Response, err error, backoff time.Duration) (time.Duration, string) {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, ""
		}
		return t.policy.Jitter(backoff), "network error"
	}
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), t.policy.Now()); ok {
			return d, fmt.Sprintf("%d with Retry-After", resp.StatusCode)
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				d := time.Unix(reset, 0).Sub(t.policy.Now())
				return max(d, 0) + time.Second, fmt.Sprintf("%d rate limit until reset", resp.StatusCode)
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests || isSecondaryLimit(resp) {
			return t.policy.SecondaryWait, fmt.Sprintf("%d secondary rate limit", resp.StatusCode)
		}
		return 0, "" // a real permission error
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return t.policy.Jitter(backoff), fmt.Sprintf("%d server error", resp.StatusCode)
	}
	return 0, ""
}

// isSecondaryLimit peeks at a 403 body for GitHub's "secondary rate limit" wording, keeping the
// body readable for the caller.
func isSecondaryLimit(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	return err == nil && strings.Contains(strings.ToLower(string(b)), "secondary rate limit")
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		// Cap before converting: a huge value would overflow time.Duration into a negative
		// wait. Anything past MaxWait is given back to the caller anyway.
		return time.Duration(min(s, 7*24*3600)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func replayableBody(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		return req.GetBody, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, nil
}
