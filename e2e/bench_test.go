package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scorebot/scorebot/e2e/cluster"
	"github.com/scorebot/scorebot/internal/bootstrap"
)

// BenchmarkPushToApplied measures one deploy of a changed variable end to end: render the
// shop, commit and push it to the env repo (internal/envrepo over smart HTTP), ask Flux to
// reconcile the source (as a push webhook Receiver does), until the shop Kustomization is Ready
// at the new commit, which means the Deployment with the new value is in the API server.
// Cluster start, bootstrap and the first deploy are not timed. Extra metrics: ms-pushed/op
// (render, commit and push) and ms-fetched/op (until source-controller has the commit).
//
//	cd e2e && go test -run '^$' -bench PushToApplied -benchtime 5x
func BenchmarkPushToApplied(b *testing.B) {
	const env = "development"
	rs := loadRules(b)
	git := startGitHost(b)
	repo := git.newEnvRepo(b, "env")
	c := startCluster(b, "bench", controllerArgs()...)
	boot := bootstrapEnv(b, c, repo, env)
	waitApplied(b, c, boot, applyTimeout, "flux-system")
	shop := shopApp(b)
	commit := repo.commit(b, "deploy shop", change(shop.render(b, rs, env)))
	requestReconcile(b, c)
	waitApplied(b, c, commit, applyTimeout, "flux-system", "shared", "shop")
	base := shop.files["score.yaml"]

	var pushed, fetched time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		shop.files["score.yaml"] = bytes.Replace(base, []byte(`PORT: "8080"`), fmt.Appendf(nil, `PORT: "%d"`, 10000+i), 1)
		commit := repo.commit(b, fmt.Sprintf("shop: PORT %d", 10000+i), change(shop.render(b, rs, env)))
		pushed += time.Since(start)
		requestReconcile(b, c)
		waitFetched(b, c, commit)
		fetched += time.Since(start)
		waitApplied(b, c, commit, applyTimeout, "shop")
	}
	b.ReportMetric(float64(pushed.Milliseconds())/float64(b.N), "ms-pushed/op")
	b.ReportMetric(float64(fetched.Milliseconds())/float64(b.N), "ms-fetched/op")
}

// waitFetched waits until source-controller has an artifact of commit.
func waitFetched(b *testing.B, c *cluster.Cluster, commit string) {
	b.Helper()
	err := cluster.Poll(context.Background(), applyTimeout, 50*time.Millisecond, "GitRepository artifact at "+commit[:12], func(ctx context.Context) (bool, string, error) {
		repo := &sourcev1.GitRepository{}
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: bootstrap.Namespace, Name: bootstrap.Name}, repo); err != nil {
			return false, err.Error(), nil
		}
		if a := repo.Status.Artifact; a != nil && strings.HasSuffix(a.Revision, commit) {
			return true, "", nil
		}
		return false, "artifact not at the commit yet", nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
