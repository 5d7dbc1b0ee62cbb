package e2e_test

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkPushToApplied measures one deploy of a changed variable end to end: render the
// shop, commit and push it to the env repo (internal/envrepo over smart HTTP), ask Flux to
// reconcile the source (as a push webhook Receiver does), until the shop Kustomization is Ready
// at the new commit, which means the Deployment with the new value is in the API server.
// Cluster start, bootstrap and the first deploy are not timed.
//
//	cd e2e && go test -run '^$' -bench PushToApplied -benchtime 5x
func BenchmarkPushToApplied(b *testing.B) {
	const env = "development"
	rs := loadRules(b)
	git := startGitHost(b)
	repo := git.newEnvRepo(b, "env")
	c := startCluster(b, "bench", controllerArgs...)
	boot := bootstrapEnv(b, c, repo, env)
	waitApplied(b, c, boot, applyTimeout, "flux-system")
	shop := shopApp(b)
	commit := repo.commit(b, "deploy shop", change(shop.render(b, rs, env)))
	requestReconcile(b, c)
	waitApplied(b, c, commit, applyTimeout, "flux-system", "shared", "shop")
	base := shop.files["score.yaml"]

	b.ResetTimer()
	for i := range b.N {
		shop.files["score.yaml"] = bytes.Replace(base, []byte(`PORT: "8080"`), fmt.Appendf(nil, `PORT: "%d"`, 10000+i), 1)
		commit := repo.commit(b, fmt.Sprintf("shop: PORT %d", 10000+i), change(shop.render(b, rs, env)))
		requestReconcile(b, c)
		waitApplied(b, c, commit, applyTimeout, "shop")
	}
}
