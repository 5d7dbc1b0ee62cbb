package forge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scorebot/scorebot/internal/forge"
	"github.com/scorebot/scorebot/internal/forge/standin"
)

// TestCommitCommentReply: the answer to a command on a commit is one comment per marker on
// that commit, found past the first page and edited in place; the acknowledging reaction is
// idempotent; the comments of another commit are not touched.
func TestCommitCommentReply(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	for i := range 105 {
		if _, err := e.c.CreateCommitComment(ctx, demo, sha1, fmt.Sprintf("chatter %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cmd, err := e.c.CreateCommitComment(ctx, demo, sha1, "/scorebot promote staging")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.c.ReactToCommitComment(ctx, demo, cmd.ID, "eyes"); err != nil {
			t.Fatal(err)
		}
	}
	const marker = "<!-- scorebot:reply promote staging -->"
	var firstID int64
	for i := 1; i <= 3; i++ {
		cm, created, err := e.c.UpsertCommitComment(ctx, demo, sha1, marker, fmt.Sprintf("answer %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if created != (i == 1) {
			t.Errorf("answer %d: created = %v", i, created)
		}
		if i == 1 {
			firstID = cm.ID
		} else if cm.ID != firstID {
			t.Errorf("answer %d edited comment %d, want %d", i, cm.ID, firstID)
		}
	}
	var ours []standin.Comment
	var reactions int
	for _, c := range e.srv.CommitComments(demo.Owner, demo.Name, sha1) {
		if strings.Contains(c.Body, marker) {
			ours = append(ours, c)
		}
		if c.ID == cmd.ID {
			reactions = len(c.Reactions)
		}
	}
	if len(ours) != 1 || ours[0].Body != marker+"\nanswer 3" {
		t.Fatalf("marked comments = %+v, want one with the last body", ours)
	}
	if reactions != 1 {
		t.Errorf("reactions on the command = %d, want 1", reactions)
	}
	if n := len(e.srv.CommitComments(demo.Owner, demo.Name, sha2)); n != 0 {
		t.Errorf("%d comments on another commit", n)
	}
	// The same body again sends no edit.
	before := len(e.srv.Requests())
	if _, _, err := e.c.UpsertCommitComment(ctx, demo, sha1, marker, "answer 3"); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.srv.Requests()[before:] {
		if r.Method != http.MethodGet {
			t.Errorf("unchanged body sent %s %s", r.Method, r.Path)
		}
	}
}

func TestCommitCommentErrors(t *testing.T) {
	ctx := context.Background()
	e := start(t, standinOpts())
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"too long", func() error {
			_, err := e.c.CreateCommitComment(ctx, demo, sha1, strings.Repeat("é", forge.MaxCommentLen+1))
			return err
		}, forge.ErrValidation},
		{"not a sha", func() error { _, err := e.c.CreateCommitComment(ctx, demo, "main", "hi"); return err }, forge.ErrValidation},
		{"empty body", func() error { _, err := e.c.CreateCommitComment(ctx, demo, sha1, ""); return err }, forge.ErrValidation},
		{"reaction to a missing comment", func() error { return e.c.ReactToCommitComment(ctx, demo, 999999, "eyes") }, forge.ErrNotFound},
		{"upsert without marker", func() error { _, _, err := e.c.UpsertCommitComment(ctx, demo, sha1, "", "x"); return err }, forge.ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
