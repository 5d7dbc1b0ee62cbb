// Package preview owns what a PR preview says: the per-object diff between what an env repo
// holds for an app and what the PR would render, and the Markdown of the sticky PR comment
// and check-run summary built from it (app-repo and rules-repo variants), with secret values
// redacted and the text cut to GitHub's limits.
//
// It is pure: plain values in, strings out. It must not render, read Git, talk to GitHub or
// NATS, read the clock or use randomness; the pipeline's preview jobs do that and call it.
// The same input always gives the same bytes.
package preview
