// Package e2e is Scorebot's Flux end-to-end tier: real Flux controllers reconcile the env repo
// Scorebot writes into a real Kubernetes API server, on 127.0.0.1, offline. The tests live in
// this folder; the servers are built by tools/build.sh and run by package cluster. Run it with
// `make e2e`; see docs/flux-contract.md.
package e2e
