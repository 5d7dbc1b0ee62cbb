package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/scorebot/scorebot/internal/goldenfile"
)

// TestNormalizeFixtures records what every shared fixture normalises to.
func TestNormalizeFixtures(t *testing.T) {
	var out bytes.Buffer
	for _, f := range loadFixtures(t) {
		fmt.Fprintf(&out, "== %s (%s)\n", f.Name, f.Event)
		if f.Event == "ping" {
			out.WriteString("ping\n")
			continue
		}
		ev, err := Normalize(f.Event, f.Delivery(), f.Body)
		switch {
		case errors.Is(err, ErrIgnored):
			fmt.Fprintf(&out, "ignored: %v\n", err)
			continue
		case err != nil:
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		j, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "subject: %s\n%s\n", Subject(ev), j)
	}
	goldenfile.Check(t, filepath.Join("testdata", "normalize.golden"), out.Bytes())
}

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		name, event, body string
		want              error
	}{
		{"unknown event", "star", `{}`, ErrIgnored},
		{"not json", "push", `{"ref":`, ErrMalformed},
		{"push without repo", "push", `{"ref":"refs/heads/main"}`, ErrMalformed},
		{"pr labeled", "pull_request", `{"action":"labeled","number":1}`, ErrIgnored},
		{"pr without number", "pull_request", `{"action":"opened","repository":{"full_name":"a/b"}}`, ErrMalformed},
		{"comment on issue", "issue_comment", `{"action":"created","issue":{"number":1},"comment":{"id":1},"repository":{"full_name":"a/b"}}`, ErrIgnored},
		{"comment edited", "issue_comment", `{"action":"edited"}`, ErrIgnored},
		{"commit comment deleted", "commit_comment", `{"action":"deleted","comment":{"id":1,"commit_id":"abc"},"repository":{"full_name":"a/b"}}`, ErrIgnored},
		{"commit comment without commit", "commit_comment", `{"action":"created","comment":{"id":1,"body":"/scorebot help"},"repository":{"full_name":"a/b"}}`, ErrMalformed},
		{"commit comment without repo", "commit_comment", `{"action":"created","comment":{"id":1,"commit_id":"abc"}}`, ErrMalformed},
		{"installation without id", "installation", `{"action":"created"}`, ErrMalformed},
		{"wrong json type", "push", `[1,2]`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.event, "d1", []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Normalize = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSubjectToken(t *testing.T) {
	tests := map[string]string{
		"":            "%",
		"Hello-World": "hello-world",
		"my.repo":     "my%2Erepo",
		"a*b>c d":     "a%2Ab%3Ec%20d",
		"100%":        "100%25",
		"snake_case":  "snake_case",
	}
	for in, want := range tests {
		if got := SubjectToken(in); got != want {
			t.Errorf("SubjectToken(%q) = %q, want %q", in, got, want)
		}
	}
	ev := &Event{Kind: KindPush, Repo: "Codertocat/Hello.World"}
	if got, want := Subject(ev), "scorebot.events.push.codertocat.hello%2Eworld"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := RepoFilter("Codertocat/Hello.World"), "scorebot.events.*.codertocat.hello%2Eworld"; got != want {
		t.Errorf("RepoFilter = %q, want %q", got, want)
	}
	if got, want := DLQSubject("scorebot.events.push.a.b"), "scorebot.dlq.push.a.b"; got != want {
		t.Errorf("DLQSubject = %q, want %q", got, want)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	payload := []byte("{\n  \"zen\": \"<keep & verbatim>\"\n}\n")
	ev := &Event{Delivery: "d1", Kind: KindPush, Repo: "a/b"}
	data, err := EncodeEnvelope(ev, payload)
	if err != nil {
		t.Fatal(err)
	}
	env, err := DecodeEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if env.Event.Repo != "a/b" || !bytes.Equal(env.Payload, bytes.TrimSpace(payload)) {
		t.Fatalf("round trip: %+v payload %q", env.Event, env.Payload)
	}
	data, _ = EncodeEnvelope(ev, nil)
	if env, err = DecodeEnvelope(data); err != nil || !env.PayloadOmitted || env.Payload != nil {
		t.Fatalf("omitted payload: %+v, %v", env, err)
	}
}
