// Package pipeline is Scorebot's workers: it consumes the events intake stored on the
// JetStream stream SCOREBOT_EVENTS and runs Read → Match → Create → Deploy for each, then
// reports back to GitHub.
//
//   - consume.go: the durable pull consumer, per-repo serialisation (hash partition inside a
//     process, a short-TTL lease in the KV bucket scorebot-locks across processes), ack, nak
//     with backoff, terminate, dead-letter.
//   - read.go: the app commit and its Score files (gitcache), the rules repo at its head.
//   - deploy.go: a push to an app repo's default branch → one env-repo commit (envrepo).
//   - rerender.go: a push to the rules repo → one re-render commit per environment.
//   - order.go: never deploy an older commit after a newer one; skip superseded pushes.
//   - report.go: commit statuses and Deployments through package forge.
//   - auth.go: git credentials asked afresh per request (installation tokens expire).
//   - handlers.go: the seam where previews (pull_request, issue_comment) and promotion add
//     their jobs (Config.Handlers; Config.AfterDeploy runs after a deploy).
//
// It owns the consumer, the KV buckets scorebot-locks and scorebot-deployed, and the data
// dir's gitcache/ and envrepos/ folders. It must not parse webhooks (package events does),
// render anything itself (package render does), or build git objects (package envrepo does).
package pipeline
