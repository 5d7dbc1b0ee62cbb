package standin

import (
	"encoding/json"
	"strings"
)

// pendingEvent is a webhook rendered under the lock and emitted after it is released.
type pendingEvent struct {
	event   string
	payload []byte
}

func (s *Server) emit(events []pendingEvent) {
	if s.Emit == nil {
		return
	}
	for _, e := range events {
		s.Emit(e.event, e.payload)
	}
}

func (s *Server) eventURLs(root string) urls {
	switch {
	case root != "":
	case s.URL != "":
		root = strings.TrimRight(s.URL, "/")
	default:
		root = "http://127.0.0.1"
	}
	return urls{root: root}
}

func (s *Server) render(event string, payload obj) pendingEvent {
	b, err := json.Marshal(payload)
	if err != nil {
		s.log.Error("github stand-in: encode webhook", "event", event, "err", err)
	}
	return pendingEvent{event: event, payload: b}
}

// prEventLocked renders a pull_request webhook. Callers hold s.mu.
func (s *Server) prEventLocked(root, action string, p *PullRequest, sender string, extra obj) pendingEvent {
	u := s.eventURLs(root)
	payload := obj{"action": action, "number": p.Number, "pull_request": s.prJSON(u, p),
		"repository": s.repoJSON(u, p.Owner, p.Repo), "sender": s.userJSON(u, sender)}
	for k, v := range extra {
		payload[k] = v
	}
	return s.render("pull_request", payload)
}

// commentEventLocked renders an issue_comment webhook. Callers hold s.mu.
func (s *Server) commentEventLocked(u urls, owner, repo, action string, c *Comment, changes obj) pendingEvent {
	payload := obj{"action": action, "issue": s.issueJSON(u, owner, repo, c.Issue), "comment": s.commentJSON(u, owner, repo, c),
		"repository": s.repoJSON(u, owner, repo), "sender": s.userJSON(u, c.User)}
	if changes != nil {
		payload["changes"] = changes
	}
	return s.render("issue_comment", payload)
}

// commitCommentEventLocked renders a commit_comment webhook (action created, the only one).
// Callers hold s.mu.
func (s *Server) commitCommentEventLocked(u urls, owner, repo string, c *Comment) pendingEvent {
	payload := obj{"action": "created", "comment": s.commitCommentJSON(u, owner, repo, c),
		"repository": s.repoJSON(u, owner, repo), "sender": s.userJSON(u, c.User)}
	return s.render("commit_comment", payload)
}
