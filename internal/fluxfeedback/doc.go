// Package fluxfeedback closes the loop from the cluster back to GitHub: it is the endpoint a
// Flux notification-controller Provider of type generic-hmac posts to. When an app's Flux
// Kustomization in an environment reports Ready (ReconciliationSucceeded) at a revision of
// the env repo, the GitHub Deployment of the app commit that revision holds for that app and
// environment gets the state success; when it reports an error, failure with Flux's message.
//
// The app commit is read from the env repo itself, at the revision Flux names: the
// provenance record envtree writes beside every app (apps/<env>/<shard>/<app>/.scorebot/provenance.yaml)
// names the source repo and commit, and the Deployment is the newest one GitHub has for that
// commit and environment. Nothing is recorded at deploy time for this package.
//
// It owns the HTTP handler (signature check, bounded body, event decoding) and the mapping
// event → deployment status. It must not write to the env repo, NATS or the app repos, and
// it trusts no request that is not signed with the Provider's token.
package fluxfeedback
