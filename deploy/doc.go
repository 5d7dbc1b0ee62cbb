// Package deploy holds no code: it is the home of the Kubernetes manifests that run Scorebot
// (base/, production/, nats/, flux/) and of the test that builds every folder with kustomize
// and checks each object strictly against its Go type and the security policy. It owns those
// manifests only; the bot's flags and endpoints belong to cmd/bot and internal/events, and the
// NATS server configuration it mirrors to nats/.
package deploy
