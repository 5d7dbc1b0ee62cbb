// Package events is Scorebot's front door: it verifies GitHub webhooks, normalises the events
// the bot acts on into an Event, and stores each delivery exactly once on the NATS JetStream
// stream SCOREBOT_EVENTS (with a KV record of seen delivery ids). It also starts the embedded
// nats-server, connects to an external one, and creates the streams and KV buckets.
//
// It owns the wire format of events on NATS (subjects, the Envelope, headers) and must not
// know what the workers do with them: no Git, no rendering, no GitHub API calls.
package events
