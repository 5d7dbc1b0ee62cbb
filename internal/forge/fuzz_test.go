package forge

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzRetryAfter feeds Retry-After values from the network: never a negative wait, never a
// panic.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "0", "-1", "", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", " 12 "} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfter(v, now)
		if ok && d < 0 {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
		resp := &http.Response{StatusCode: 403, Header: http.Header{"Retry-After": {v}}, Body: http.NoBody}
		rt := &retryTransport{policy: RetryPolicy{}.withDefaults()}
		if w, _ := rt.decide(resp, nil, time.Second); w < 0 {
			t.Fatalf("decide waits %v", w)
		}
		_ = strings.TrimSpace(v)
	})
}
