package events

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// fuzzKinds are the event types FuzzNormalizeMatchesGitHub feeds bodies as.
// New kinds go at the end: the seed files name a kind by its index.
var fuzzKinds = []string{KindPush, KindPullRequest, KindIssueComment, KindInstallation, KindInstallationRepositories, "ping", KindCommitComment}

// FuzzNormalizeMatchesGitHub holds Normalize (which decodes only the fields an Event needs)
// to the go-github parse it replaced: whenever go-github accepts a body, Normalize returns
// the same Event or the same ErrIgnored; Normalize is never stricter (ErrMalformed from it
// means go-github refused the body too); and it never panics. Every shared fixture is a seed,
// under every kind, besides the files in testdata/fuzz/FuzzNormalizeMatchesGitHub.
func FuzzNormalizeMatchesGitHub(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		for k := range fuzzKinds {
			f.Add(uint8(k), fx.Body)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		eventType := fuzzKinds[int(kind)%len(fuzzKinds)]
		got, gotErr := Normalize(eventType, "d", body)
		want, wantErr := referenceNormalize(eventType, body)
		switch {
		case wantErr == nil:
			if gotErr != nil {
				t.Fatalf("%s: go-github accepts, Normalize: %v", eventType, gotErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: Normalize\n%+v\ngo-github\n%+v", eventType, got, want)
			}
		case errors.Is(wantErr, ErrIgnored):
			if !errors.Is(gotErr, ErrIgnored) {
				t.Fatalf("%s: go-github ignores (%v), Normalize: %v %+v", eventType, wantErr, gotErr, got)
			}
		}
		if errors.Is(gotErr, ErrMalformed) && !errors.Is(wantErr, ErrMalformed) {
			t.Fatalf("%s: Normalize refuses (%v), go-github: %v", eventType, gotErr, wantErr)
		}
	})
}

// referenceNormalize is normalizeGitHub with its one crash (an issue_comment "created" with
// no issue dereferenced a nil *github.Issue) turned into ErrMalformed.
func referenceNormalize(eventType string, body []byte) (ev *Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("%w: go-github reduction panicked: %v", ErrMalformed, r)
		}
	}()
	return normalizeGitHub(eventType, "d", body)
}
