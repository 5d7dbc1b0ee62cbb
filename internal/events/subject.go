package events

import (
	"strings"
)

// Names of the JetStream assets this package creates; the pipeline consumes them.
const (
	// StreamEvents holds every accepted delivery, one message per delivery.
	StreamEvents = "SCOREBOT_EVENTS"
	// SubjectPrefix is the first two tokens of every event subject.
	SubjectPrefix = "scorebot.events"
	// SubjectAll matches every event subject.
	SubjectAll = SubjectPrefix + ".>"

	// StreamDLQ holds messages the workers gave up on.
	StreamDLQ = "SCOREBOT_DLQ"
	// DLQPrefix is the first two tokens of every dead-letter subject.
	DLQPrefix = "scorebot.dlq"

	// BucketDeliveries is the KV bucket of delivery ids already stored.
	BucketDeliveries = "scorebot-deliveries"
)

// Header names set on every event message besides Nats-Msg-Id.
const (
	HeaderKind     = "Scorebot-Kind"
	HeaderRepo     = "Scorebot-Repo"
	HeaderDelivery = "Scorebot-Delivery"
)

// Subject is where ev is published: scorebot.events.<kind>.<owner>.<repo>. Owner and repo
// are lowercased (GitHub names are case-insensitive) and escaped with SubjectToken, so all
// events of one repo, of any kind, match scorebot.events.*.<owner>.<repo>. Installation
// events carry the account as owner and "%" (empty) as repo.
func Subject(ev *Event) string {
	owner, name, _ := strings.Cut(ev.Repo, "/")
	if ev.Repo == "" {
		owner = ev.Account
	}
	return SubjectPrefix + "." + SubjectToken(ev.Kind) + "." + SubjectToken(owner) + "." + SubjectToken(name)
}

// RepoFilter is the subject filter matching every event of repo ("owner/name").
func RepoFilter(repo string) string {
	owner, name, _ := strings.Cut(repo, "/")
	return SubjectPrefix + ".*." + SubjectToken(owner) + "." + SubjectToken(name)
}

// DLQSubject is the dead-letter subject for a message that was on subject (an event
// subject): scorebot.dlq.<kind>.<owner>.<repo>.
func DLQSubject(subject string) string {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix+".")
	if !ok {
		return DLQPrefix + ".unknown"
	}
	return DLQPrefix + "." + rest
}

// SubjectToken makes s one valid, readable NATS subject token: lowercase ASCII letters,
// digits, '-' and '_' stay; every other byte becomes %XX (so '.', '*', '>', spaces and
// '%' itself never reach the subject, and distinct names stay distinct); "" becomes "%".
func SubjectToken(s string) string {
	if s == "" {
		return "%"
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		}
	}
	return b.String()
}
