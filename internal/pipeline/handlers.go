package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/scorebot/scorebot/internal/events"
)

// Handler runs one job of a kind the pipeline does not handle itself (Config.Handlers):
// pull_request and issue_comment for previews (issue 6), the env repo's pull_request closed
// for promotion (issue 7). It returns nil to acknowledge, an error wrapped with Permanent to
// dead-letter and terminate, any other error to retry with backoff. Work for one repo is
// serialised, so a handler never races another job of the same repo.
type Handler func(ctx context.Context, p *Pipeline, job *Job) error

// Job is one event being worked on.
type Job struct {
	Event    *events.Event
	Envelope *events.Envelope
	// Seq is the event's sequence on SCOREBOT_EVENTS: later deliveries have larger ones.
	Seq uint64
	// Delivered counts deliveries of this message, this one included (1 the first time).
	Delivered uint64
	Subject   string
	// Stored is when the event was stored on the stream.
	Stored time.Time
	Log    *slog.Logger

	msg jetstream.Msg // nil for jobs run through Handle
}

// InProgress tells the server the job is still running, so the message is not redelivered
// while a long job works. Safe to call on a job run through Handle.
func (j *Job) InProgress() {
	if j.msg != nil {
		_ = j.msg.InProgress()
	}
}
