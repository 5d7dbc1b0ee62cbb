package envtree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/scorebot/scorebot/internal/render/manifest"
)

func TestSortObjectsMatchesManifestSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	kinds := []string{"Deployment", "Service", "Namespace", "ConfigMap", "Widget", "Gadget", "HTTPRoute", "Kustomization", "Secret"}
	names := []string{"a", "b", "c"}
	var objs []manifest.Object
	for i := range 300 {
		objs = append(objs, manifest.Object{Source: fmt.Sprint(i), Doc: map[string]any{
			"apiVersion": []string{"v1", "apps/v1", "x/v1"}[rng.IntN(3)],
			"kind":       kinds[rng.IntN(len(kinds))],
			"metadata":   map[string]any{"name": names[rng.IntN(3)], "namespace": names[rng.IntN(3)]},
		}})
	}
	want := slices.Clone(objs)
	manifest.Sort(want)
	got := slices.Clone(objs)
	SortObjects(got)
	for i := range want {
		if want[i].Source != got[i].Source {
			t.Fatalf("position %d: manifest.Sort has %s, SortObjects %s", i, want[i].Source, got[i].Source)
		}
	}
}
