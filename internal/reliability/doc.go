// Package reliability is Scorebot's fault suite: tests only, no production code. It runs the
// bot the way production does, on loopback, and breaks things on purpose:
//
//   - suite_test.go: three nats-server processes forming a JetStream cluster and three bot
//     processes sharing it; signed push webhooks across many app repos, with real commits,
//     sent round-robin to the bots while, at seeded random moments, a bot is SIGKILLed and
//     restarted and a NATS node is taken down and restarted, the kinds cycling (from the
//     seed) through SIGTERM, SIGKILL, and SIGKILL with its store deleted (a lost disk: it
//     must catch up from its peers); after each restart the node must be current again
//     before the next fault (catchup_test.go). Afterwards every repo's latest commit is what
//     the env repo holds, no delivery answered 202 is lost, no env commit is duplicated, the
//     history is linear, and no plaintext credential is in the env repo.
//     A reduced run is the default; SCOREBOT_FAULT_FULL=1 runs 1,000 webhooks over 50 repos
//     (docs/reliability.md has the figures and the command).
//   - faults_test.go: the git server failing (500s) or hanging, GitHub's secondary rate
//     limit with Retry-After, a full disk under the data dir and a corrupted git cache, each
//     against one in-process pipeline.
//   - bench_test.go: speed at scale on the cluster (opt-in, docs/benchmarks.md "Scale").
//
// The bot processes are this test binary re-executed in bot mode (main_test.go), wired
// exactly as `bot serve` wires server and pipeline; they can be SIGKILLed like the real
// binary. Every process, port and directory is the test's own: ports on 127.0.0.1, state
// under t.TempDir(), children killed when the test ends (and by the kernel if it dies).
//
// It must not be imported, and must not change what it tests: a failure here is a report
// for the owning package.
package reliability
